"""The pricing ILP over panel compositions (HiGHS), and the silent HiGHS constructor."""

from __future__ import annotations

from collections.abc import Sequence

import highspy
import numpy as np

from mailstudy.invite.plan import GROUP, SEP, InviteError, Plan
from mailstudy.invite.pool import Types
from mailstudy.text import UNKNOWN


def _new_highs() -> highspy.Highs:
    """A silent HiGHS instance. Its C++ core prints a licence banner on stdout when the first
    instance of a process is built, which would pollute the command's output: fd 1 is
    pointed at /dev/null for that moment."""
    import os
    import sys

    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        h = highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)
    h.setOptionValue("output_flag", False)
    return h


class _Pricing:
    """The ILP over compositions: n_t people of type t, y_tf of them on a seat of family f."""

    def __init__(self, types: Types, plan: Plan, *, drop: frozenset[str] = frozenset(),
                 time_limit: float | None = None, gap: float = 1e-9) -> None:
        tab = types.table
        self.n_types = len(tab)
        counts = types.counts
        h = _new_highs()
        h.setOptionValue("mip_rel_gap", gap)
        h.setOptionValue("mip_abs_gap", 1e-12)
        h.setOptionValue("threads", 1)
        if time_limit:
            h.setOptionValue("time_limit", float(time_limit))
        inf = highspy.kHighsInf
        h.addVars(self.n_types, np.zeros(self.n_types), counts.astype(float))
        self.seat_vars: list[tuple[int, str, int]] = []  # (type, family, column)
        seats = {f: n for f, n in plan.seats.items() if n > 0 and f"seats:{f}" not in drop}
        fams = tab["families"].tolist() if "families" in tab else [""] * self.n_types
        col = self.n_types
        for t in range(self.n_types):
            for f in (x for x in fams[t].split(SEP) if x in seats):
                self.seat_vars.append((t, f, col))
                col += 1
        if self.seat_vars:
            ub = np.array([min(counts[t], seats[f]) for t, f, _ in self.seat_vars], float)
            h.addVars(len(self.seat_vars), np.zeros(len(ub)), ub)
        ncol = col
        h.changeColsIntegrality(ncol, np.arange(ncol, dtype=np.int32),
                                np.array([highspy.HighsVarType.kInteger] * ncol))

        def row(lo: float, hi: float, idx: Sequence[int], val: Sequence[float]) -> None:
            h.addRow(lo, hi, len(idx), np.asarray(idx, np.int32), np.asarray(val, float))

        row(plan.size, plan.size, range(self.n_types), [1.0] * self.n_types)
        for q in plan.quotas:
            if f"quota:{q.feature}" in drop or f"quota:{q.feature}={q.value}" in drop:
                continue
            idx = np.flatnonzero(tab[q.feature].astype(str).to_numpy() == q.value)
            row(q.min, q.max, idx, [1.0] * len(idx))
        for f, n in seats.items():
            idx = [c for _, ff, c in self.seat_vars if ff == f]
            row(n, n, idx, [1.0] * len(idx))
        by_type: dict[int, list[int]] = {}
        for t, _, c in self.seat_vars:
            by_type.setdefault(t, []).append(c)
        for t, cs in by_type.items():
            row(-inf, 0.0, [*cs, t], [*([1.0] * len(cs)), -1.0])
        if plan.one_per_service and GROUP in tab and "one_per_service" not in drop:
            svc = tab[GROUP].astype(str).to_numpy()
            for s in np.unique(svc):
                if s == UNKNOWN:
                    continue
                idx = np.flatnonzero(svc == s)
                if counts[idx].sum() > 1:
                    row(-inf, 1.0, idx, [1.0] * len(idx))
        h.changeObjectiveSense(highspy.ObjSense.kMaximize)
        self.h = h
        self.ncol = ncol
        self.seats = seats
        self.gap = gap
        self.bound = float("inf")  # the last solve's proven upper bound on the objective

    def solve(self, weights: np.ndarray, gap: float | None = None
              ) -> tuple[np.ndarray, dict[tuple[int, str], int]] | None:
        """Best composition for per-type weights (within the relative ``gap``: ``self.bound``
        then holds the proven upper bound), or None when no panel is feasible."""
        h = self.h
        h.setOptionValue("mip_rel_gap", self.gap if gap is None else gap)
        cost = np.zeros(self.ncol)
        cost[: self.n_types] = weights
        h.changeColsCost(self.ncol, np.arange(self.ncol, dtype=np.int32), cost)
        h.run()
        st = h.getModelStatus()
        if st == highspy.HighsModelStatus.kInfeasible:
            return None
        sol = np.asarray(h.getSolution().col_value)
        if st != highspy.HighsModelStatus.kOptimal:
            if h.getInfo().primal_solution_status != 2:  # no feasible point found in time
                raise InviteError("the panel solver stopped ({status})",
                                  status=h.modelStatusToString(st))
        self.bound = float(h.getInfo().mip_dual_bound)
        n = np.rint(sol[: self.n_types]).astype(int)
        y = {(t, f): int(round(sol[c])) for t, f, c in self.seat_vars if round(sol[c]) > 0}
        return n, y
