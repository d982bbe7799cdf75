"""Public holidays, computed rather than listed, so a study of any year works offline.

Why computed: a hard-coded list silently goes stale; the French holidays are fixed dates plus
three that move with Easter (Easter Monday, Ascension, Whit Monday). ``"FR-AM"`` adds the two
extra days of Alsace-Moselle (Good Friday, 26 December), whose councils observe them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

SUPPORTED = ("FR", "FR-AM", "")


def easter(year: int) -> dt.date:
    """Gregorian Easter Sunday (anonymous Gregorian algorithm, Meeus/Jones/Butcher)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l_) // 451
    month, day = divmod(h + l_ - 7 * m + 114, 31)
    return dt.date(year, month, day + 1)


def french_holidays(year: int, *, alsace_moselle: bool = False) -> dict[dt.date, str]:
    """The eleven French public holidays of ``year`` (date -> French name)."""
    e = easter(year)
    days = {
        dt.date(year, 1, 1): "Jour de l'an",
        e + dt.timedelta(days=1): "Lundi de Pâques",
        dt.date(year, 5, 1): "Fête du Travail",
        dt.date(year, 5, 8): "Victoire 1945",
        e + dt.timedelta(days=39): "Ascension",
        e + dt.timedelta(days=50): "Lundi de Pentecôte",
        dt.date(year, 7, 14): "Fête nationale",
        dt.date(year, 8, 15): "Assomption",
        dt.date(year, 11, 1): "Toussaint",
        dt.date(year, 11, 11): "Armistice",
        dt.date(year, 12, 25): "Noël",
    }
    if alsace_moselle:
        days[e - dt.timedelta(days=2)] = "Vendredi saint"
        days[dt.date(year, 12, 26)] = "Saint-Étienne"
    return dict(sorted(days.items()))


def holidays(years: Iterable[int], country: str = "FR",
             extra: Iterable[str | dt.date] = ()) -> list[dt.date]:
    """Sorted holidays for ``years``: the country's computed ones plus ``extra`` dates.

    ``country`` is "FR", "FR-AM" or "" (none); anything else is refused rather than ignored,
    because a silently missing calendar would shift every after-hours feature.
    """
    code = (country or "").upper()
    if code not in SUPPORTED:
        raise ValueError(f"unknown public_holidays {country!r}: use one of "
                         f"{', '.join(repr(s) for s in SUPPORTED)}")
    out: set[dt.date] = set()
    for y in years:
        if code:
            out.update(french_holidays(y, alsace_moselle=code == "FR-AM"))
    for d in extra:
        out.add(d if isinstance(d, dt.date) else dt.date.fromisoformat(str(d)))
    return sorted(out)
