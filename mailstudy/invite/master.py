"""The master LP of the column generation: maximin, then leximin level by level, over the
panels found so far.

One row per type t that some panel can include: ``sum_j lambda_j * n_tj / c_t - z >= 0`` while
t is free, ``sum_j lambda_j * n_tj / c_t >= p_t`` once a leximin level has fixed t at p_t; and
``sum lambda = 1``. Fixing a type only edits its row (the z coefficient and the bound), so HiGHS
keeps its basis and each solve warm-starts from the last one.
"""

from __future__ import annotations

import highspy
import numpy as np

from mailstudy.invite.plan import InviteError
from mailstudy.invite.pricing import _new_highs

#: a fixed type may lose this much probability against its level (numerical room: the
#: columns that reached the level are kept, so the row is always satisfiable)
FIX_SLACK = 1e-8


class _Master:
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
        self.fixed = np.zeros(m, bool)  # by row
        self.level = np.zeros(m)  # the probability a fixed row was fixed at

    def add(self, n: np.ndarray) -> None:
        a = n[self.rows] / self.counts[self.rows]
        nz = np.flatnonzero(a)
        idx = np.append(nz, self.m).astype(np.int32)
        val = np.append(a[nz], 1.0)
        self.h.addCol(0.0, 0.0, highspy.kHighsInf, len(idx), idx, val)
        self.ncols += 1

    def fix(self, rows: np.ndarray, value: float) -> None:
        """Leximin: rows (indices into ``self.rows``) keep ``value`` from now on and leave the
        objective."""
        for r in rows:
            self.h.changeCoeff(int(r), 0, 0.0)
            low = max(value * (1 - FIX_SLACK) - FIX_SLACK, 0.0)
            self.h.changeRowBounds(int(r), low, highspy.kHighsInf)
        self.fixed[rows] = True
        self.level[rows] = value

    @property
    def free(self) -> int:
        return int((~self.fixed).sum())

    def solve(self) -> tuple[float, np.ndarray, np.ndarray, float]:
        """(z, lambda, row duals w >= 0 normalised to sum 1 on free rows, sum of w * bound on
        fixed rows). A column n improves the LP iff w . n/c > z + that sum (LP duality)."""
        h = self.h
        h.run()
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            # a warm start after many edits can stall; the model itself is feasible (the
            # columns that reached each fixed level are kept): solve it again from scratch
            h.clearSolver()
            h.run()
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            raise InviteError("the lottery LP did not solve: {status}",
                              status=h.modelStatusToString(h.getModelStatus()))
        sol = h.getSolution()
        z = float(sol.col_value[0])
        lam = np.asarray(sol.col_value[1:])
        w = np.abs(np.asarray(sol.row_dual[: self.m]))
        s = w[~self.fixed].sum()
        if s > 0:
            w = w / s
        else:
            w = np.where(self.fixed, 0.0, 1.0 / max(self.free, 1))
        lower = np.where(self.fixed, np.maximum(self.level * (1 - FIX_SLACK) - FIX_SLACK, 0.0),
                         0.0)
        return z, lam, w, float(w @ lower)
