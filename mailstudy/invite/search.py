"""seat_type cheap pricing heuristic: single-seat swaps that improve a feasible panel."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mailstudy.invite.plan import GROUP, SEP, Plan
from mailstudy.invite.pool import Types
from mailstudy.text import UNKNOWN

Column = tuple[np.ndarray, dict[tuple[int, str], int]]
PAIR_SEATS = 96  # seat pairs the double swap considers giving up (the cheapest)
PAIR_CODES = 128  # quota codes it considers bringing in (the most valuable)


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
        self.counts = types.counts
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
        if GROUP in tab and plan.one_per_service:
            svc = tab[GROUP].astype(str)
            codes, uniq = pd.factorize(svc)
            codes = np.where(svc.to_numpy() == UNKNOWN, -1, codes)
            self.svc = codes
            self.nsvc = len(uniq)
        else:
            self.svc = np.full(self.n_types, -1)
            self.nsvc = 0

    def improve(self, col: Column, v: np.ndarray, max_moves: int = 200) -> Column:
        """Single-seat swaps, best first, until none gains."""
        n, seat_type, seat_family = self._seats(col)
        self._singles(n, seat_type, seat_family, v, max_moves)
        return n, self._families(seat_type, seat_family)

    def _seats(self, col: Column) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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
        return n.copy(), np.array(types, int), np.array(seats, int)

    def _families(self, seat_type: np.ndarray, seat_family: np.ndarray
                  ) -> dict[tuple[int, str], int]:
        y2: dict[tuple[int, str], int] = {}
        for t, si in zip(seat_type, seat_family, strict=True):
            if si >= 0:
                key = (int(t), self.fams[si])
                y2[key] = y2.get(key, 0) + 1
        return y2

    def _seat_fits(self, seat_family: np.ndarray) -> np.ndarray:
        """(seat, type): may the type hold the seat's role?"""
        if not len(self.fams):
            return np.ones((len(seat_family), self.n_types), bool)
        return np.where(seat_family[:, None] >= 0,
                        self.fam_mask[np.maximum(seat_family, 0)], True)

    def _singles(self, n: np.ndarray, seat_type: np.ndarray, seat_family: np.ndarray,
                 v: np.ndarray, max_moves: int) -> int:
        """Apply improving single swaps in place; returns how many."""
        quota_rows = self.quota_rows
        not_in_quota = 1 - quota_rows
        ar = np.arange(self.n_types)
        fits = self._seat_fits(seat_family)
        moves = 0
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
                sc = self._group_counts(n)
                sb = self.svc[None, :]
                same_s = self.svc[seat_type][:, None] == sb
                ok &= (sb < 0) | ((sc[np.maximum(sb, 0)] + 1 - same_s) <= 1)
            ok &= fits
            gain = np.where(ok & ~same, v[None, :] - v[seat_type][:, None], -np.inf)
            i, b = np.unravel_index(int(np.argmax(gain)), gain.shape)
            if gain[i, b] <= 1e-12 * max(float(v.max()), 1e-300):
                break
            n[seat_type[i]] -= 1
            n[b] += 1
            seat_type[i] = b
            moves += 1
        return moves

    def _group_counts(self, n: np.ndarray) -> np.ndarray:
        has = self.svc >= 0
        return np.bincount(self.svc[has].repeat(n[has]), minlength=self.nsvc)


class _PairSearch(_LocalSearch):

    """Single swaps, then double swaps that leave every quota count unchanged.

    Why: with exact quotas (min = max) no single swap between types of different strata is
    feasible, so the single-swap search never helps and every column cost a MIP. Two swaps
    whose quota changes cancel (a woman of 30-44 for a woman of 16-29, and a man of 16-29 for
    a man of 30-44) keep exact quotas, and are found in one pass by hashing each single
    swap's change of the quota counts and pairing opposite changes.
    """

    def __init__(self, types: Types, plan: Plan) -> None:
        super().__init__(types, plan)
        salt = np.random.default_rng(0).integers(1, 2**40, len(self.quota_rows))
        self.quota_code = (salt @ self.quota_rows).astype(np.int64)  # type -> its hash

    def deep(self, col: Column, v: np.ndarray, max_moves: int = 4) -> Column:
        """Single swaps, then a double swap, again, until neither gains (the cheap
        ``improve`` is tried first; this runs only when it found nothing)."""
        n, seat_type, seat_family = self._seats(col)
        for _ in range(max_moves):
            self._singles(n, seat_type, seat_family, v, max_moves)
            if not self._pair(n, seat_type, seat_family, v):
                break
        return n, self._families(seat_type, seat_family)

    def _pair(self, n: np.ndarray, seat_type: np.ndarray, seat_family: np.ndarray,
              v: np.ndarray, top: int = 3, tries: int = 24) -> bool:
        """Apply the best double swap found with a positive gain; False when none.

        Two seats holding types a1, a2 (non-role seats) go to types b1, b2 with
        code(b1) + code(b2) = code(a1) + code(a2), where code hashes a type's quota rows
        linearly: the quota counts are unchanged. Per code only the best few types by value
        matter, so the search is over (seat pair) x (distinct code), not over types squared.
        A hash collision is caught by ``_apply``, which checks every quota.
        """
        seats = np.flatnonzero(seat_family < 0)
        if len(seats) < 2:
            return False
        code = self.quota_code
        order = np.lexsort((-v, code))  # by code, best value first
        ucode, start = np.unique(code[order], return_index=True)
        stop = np.append(start[1:], len(order))
        bestv = v[order[start]]
        held = np.unique(seat_type[seats])
        ia, ib = np.triu_indices(len(held))
        same = ia == ib
        twice = np.bincount(seat_type[seats], minlength=self.n_types)[held] >= 2
        keep = ~same | twice[ia]
        ia, ib = ia[keep], ib[keep]
        loss = v[held[ia]] + v[held[ib]]
        # heuristic focus: the seat pairs that cost least to give up, and, as the leading
        # side, the codes of the most valuable types (values are >= 0: a gaining pair has a
        # side whose best value is positive); the MIP still proves what this misses
        cheap = np.argsort(loss, kind="stable")[:PAIR_SEATS]
        ia, ib, loss = ia[cheap], ib[cheap], loss[cheap]
        target = code[held[ia]] + code[held[ib]]
        lead = np.argsort(-bestv, kind="stable")[:PAIR_CODES]
        lead = lead[bestv[lead] > 0]
        if not len(lead):
            return False
        want = target[:, None] - ucode[lead][None, :]
        pos = np.minimum(np.searchsorted(ucode, want), len(ucode) - 1)
        gain = (np.where(ucode[pos] == want, bestv[lead][None, :] + bestv[pos], -np.inf)
                - loss[:, None])
        eps = 1e-12 * max(float(np.abs(v).max()), 1e-300)
        flat = gain.reshape(-1)
        cand = (np.argpartition(-flat, tries)[:tries] if len(flat) > tries
                else np.arange(len(flat)))
        for f in cand[np.argsort(-flat[cand])]:
            if flat[f] <= eps:
                return False
            p, j = divmod(int(f), len(lead))
            u = lead[j]
            i1 = seats[seat_type[seats] == held[ia[p]]][0]
            i2 = seats[(seat_type[seats] == held[ib[p]]) & (seats != i1)][0]
            u2 = pos[p, j]
            for b1 in order[start[u]:min(stop[u], start[u] + top)]:
                for b2 in order[start[u2]:min(stop[u2], start[u2] + top)]:
                    g = v[b1] + v[b2] - loss[p]
                    if g > eps and self._apply(n, seat_type, i1, b1, i2, b2):
                        return True
        return False

    def _apply(self, n: np.ndarray, seat_type: np.ndarray, i1: int, b1: int, i2: int,
               b2: int) -> bool:
        if b1 == b2 and self.counts[b1] < 2:
            return False
        new = n.copy()
        new[seat_type[i1]] -= 1
        new[seat_type[i2]] -= 1
        new[b1] += 1
        new[b2] += 1
        if (new > self.counts).any():
            return False
        cnt = self.quota_rows @ new
        if (cnt < self.qmin).any() or (cnt > self.qmax).any():
            return False
        if self.nsvc and (self._group_counts(new) > 1).any():
            return False
        n[:] = new
        seat_type[i1], seat_type[i2] = b1, b2
        return True
