"""seat_type cheap pricing heuristic: single-seat swaps that improve a feasible panel."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mailstudy.invite.plan import SEP, Plan
from mailstudy.invite.pool import Types
from mailstudy.text import UNKNOWN

Column = tuple[np.ndarray, dict[tuple[int, str], int]]


class _LocalSearch:
    """Cheap pricing heuristic: improve a feasible panel by single-seat swaps.

    Why: the optimal distribution needs about one panel per type in its support, so column
    generation needs hundreds of improving panels; a HiGHS MIP costs milliseconds each, a swap
    search over (seat, type) pairs a fraction of that. The MIP is still called whenever the
    heuristic finds nothing, so the final answer is proven optimal, not heuristic.
    """

    def __init__(self, types: Types, plan: Plan) -> None:
        tab = types.table
        self.n_types = len(tab)
        self.counts = tab["count"].to_numpy()
        qs = [q for q in plan.quotas]
        # float: matrix products go through BLAS
        self.quota_rows = np.zeros((len(qs), self.n_types))
        for r, q in enumerate(qs):
            self.quota_rows[r] = tab[q.feature].astype(str).to_numpy() == q.value
        self.qmin = np.array([q.min for q in qs], np.int32)
        self.qmax = np.array([q.max for q in qs], np.int32)
        self.fams = [f for f, n in plan.seats.items() if n > 0]
        fams_t = tab["families"].tolist() if "families" in tab else [""] * self.n_types
        self.fam_mask = np.array([[f in x.split(SEP) for x in fams_t] for f in self.fams],
                                 bool).reshape(len(self.fams), self.n_types)
        if "service" in tab and plan.one_per_service:
            svc = tab["service"].astype(str)
            codes, uniq = pd.factorize(svc)
            codes = np.where(svc.to_numpy() == UNKNOWN, -1, codes)
            self.svc = codes
            self.nsvc = len(uniq)
        else:
            self.svc = np.full(self.n_types, -1)
            self.nsvc = 0

    def improve(self, col: Column, v: np.ndarray, max_moves: int = 200) -> Column:
        n, y = col
        types: list[int] = []
        seats: list[int] = []
        for (t, f), k in y.items():
            types += [t] * k
            seats += [self.fams.index(f)] * k
        for t in np.flatnonzero(n):
            k = int(n[t]) - sum(y.get((int(t), f), 0) for f in self.fams)
            types += [int(t)] * k
            seats += [-1] * k
        seat_type = np.array(types)
        seat_family = np.array(seats)
        n = n.copy()
        quota_rows = self.quota_rows
        not_in_quota = 1 - quota_rows
        ar = np.arange(self.n_types)
        for _ in range(max_moves):
            cnt = quota_rows @ n
            # A swap a -> b breaks a quota row only if it lowers a row already at its min
            # (a in the row, b not) or raises a row already at its max (b in, a not).
            at_min = (cnt <= self.qmin).astype(float)
            at_max = (cnt >= self.qmax).astype(float)
            held_in_quota = quota_rows[:, seat_type]
            ok = (((held_in_quota * at_min[:, None]).T @ not_in_quota == 0)
                  & (not_in_quota[:, seat_type].T @ (quota_rows * at_max[:, None]) == 0))
            same = seat_type[:, None] == ar[None, :]
            ok &= (n[None, :] + 1 - same) <= self.counts[None, :]
            if self.nsvc:
                has = self.svc >= 0
                sc = np.bincount(self.svc[has].repeat(n[has]), minlength=self.nsvc)
                sb = self.svc[None, :]
                same_s = self.svc[seat_type][:, None] == sb
                ok &= (sb < 0) | ((sc[np.maximum(sb, 0)] + 1 - same_s) <= 1)
            if len(self.fams):
                ok &= np.where(seat_family[:, None] >= 0,
                               self.fam_mask[np.maximum(seat_family, 0)], True)
            gain = np.where(ok & ~same, v[None, :] - v[seat_type][:, None], -np.inf)
            i, b = np.unravel_index(int(np.argmax(gain)), gain.shape)
            if gain[i, b] <= 1e-12 * max(float(v.max()), 1e-300):
                break
            n[seat_type[i]] -= 1
            n[b] += 1
            seat_type[i] = b
        y2: dict[tuple[int, str], int] = {}
        for t, si in zip(seat_type, seat_family, strict=True):
            if si >= 0:
                key = (int(t), self.fams[si])
                y2[key] = y2.get(key, 0) + 1
        return n, y2
