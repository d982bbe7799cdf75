"""The fixed calendar: days from ``BASE_DATE``, which are working days, local aware times.

Times in the simulation are wall-clock hours since ``BASE_DATE`` 00:00 local (Europe/Paris).
"""

from __future__ import annotations

import datetime as dt

from mailstudy.demo.council.tables import BASE_DATE, FIXED_HOLIDAYS, TZ


class Calendar:
    def __init__(self, weeks: int) -> None:
        self.n_days = weeks * 7
        self.workday = []
        for index in range(self.n_days):
            day = BASE_DATE + dt.timedelta(days=index)
            self.workday.append(day.weekday() < 5 and (day.month, day.day) not in FIXED_HOLIDAYS)
        self.t_end = self.n_days * 24.0

    def aware(self, t: float) -> dt.datetime:
        day = int(t // 24)
        naive = dt.datetime.combine(BASE_DATE + dt.timedelta(days=day), dt.time()) + \
            dt.timedelta(seconds=int((t - day * 24) * 3600))
        return naive.replace(tzinfo=TZ)

