"""The master LP of the column generation: maximin over the panels found so far."""

from __future__ import annotations

import highspy
import numpy as np

from mailstudy.invite.plan import InviteError
from mailstudy.invite.pricing import _new_highs


class _Master:
    """Master LP: max z s.t. sum_j lambda_j * n_tj / c_t >= z for each type t, sum lambda = 1."""

    def __init__(self, counts: np.ndarray, active: np.ndarray) -> None:
        self.counts = counts.astype(float)
        self.rows = np.flatnonzero(active)  # only types some panel can include
        h = _new_highs()
        h.setOptionValue("threads", 1)
        h.setOptionValue("presolve", "off")  # keep the basis: each solve warm-starts
        h.setOptionValue("simplex_strategy", 4)  # primal: a new column keeps it feasible
        h.changeObjectiveSense(highspy.ObjSense.kMaximize)
        inf = highspy.kHighsInf
        m = len(self.rows)
        h.addCol(1.0, 0.0, 1.0, 0, np.array([], np.int32), np.array([], float))  # z
        for _ in range(m):
            h.addRow(0.0, inf, 1, np.array([0], np.int32), np.array([-1.0]))
        h.addRow(1.0, 1.0, 0, np.array([], np.int32), np.array([], float))
        self.h = h
        self.m = m
        self.ncols = 0

    def add(self, n: np.ndarray) -> None:
        a = n[self.rows] / self.counts[self.rows]
        nz = np.flatnonzero(a)
        idx = np.append(nz, self.m).astype(np.int32)
        val = np.append(a[nz], 1.0)
        self.h.addCol(0.0, 0.0, highspy.kHighsInf, len(idx), idx, val)
        self.ncols += 1

    def solve(self) -> tuple[float, np.ndarray, np.ndarray]:
        h = self.h
        h.run()
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            raise InviteError("the lottery LP did not solve: "
                              + h.modelStatusToString(h.getModelStatus()))
        sol = h.getSolution()
        z = float(sol.col_value[0])
        lam = np.asarray(sol.col_value[1:])
        w = np.abs(np.asarray(sol.row_dual[: self.m]))
        s = w.sum()
        w = w / s if s > 0 else np.full(self.m, 1.0 / self.m)
        return z, lam, w
