"""Column generation for the maximin and leximin lotteries (Flanigan et al., Nature 2021,
supplementary information, on type-aggregated panels).

Each leximin level is one LP over the panels found so far: maximise the smallest probability z
of the types not yet fixed, keeping every fixed type at its level. The LP's duals w price new
panels: a panel n helps iff ``w . n/c > z + sum_fixed w_t p_t``. The swap searches price first
(a fraction of a millisecond each); the HiGHS MIP only when they find nothing, and its proven
bound is the certificate that the level is optimal: no panel, hence no distribution, does
better. Then the free types with a positive dual are fixed at z (complementary slackness: they
are at z in every optimal distribution) and the next level starts from the same basis.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from mailstudy.invite.master import _Master
from mailstudy.invite.pricing import _Pricing
from mailstudy.invite.search import Column, _LocalSearch

#: a level is proven optimal when no panel beats the LP by more than this (relative); the
#: pricing MIP is solved to the same relative gap
PROOF_TOL = 1e-6
LEGACY_TOL = 1e-7  # today's maximin: its tolerance and a MIP solved to 1e-9
FIX_DUAL = 1e-6  # a free type whose dual exceeds this (duals sum to 1) is fixed at the level


@dataclass
class _Generation:
    """Where the column generation stopped, and what it proved."""

    iterations: int = 0
    pricing_mips: int = 0
    lp_minimum: float = 0.0  # the first level: the maximin value
    weights: np.ndarray = field(default_factory=lambda: np.zeros(0))
    upper_bound: float = 0.0  # best proven upper bound on the maximin value
    optimal: bool = False  # every level computed is proven optimal, and all were computed
    levels: int = 0  # leximin levels proven
    stopped: str = ""  # why it stopped early ("time limit", "iteration limit"), or ""


@dataclass
class _Clock:
    started: float
    time_limit: float | None
    max_iterations: int

    def out(self, run: _Generation) -> str:
        if run.iterations >= self.max_iterations:
            return "iteration limit"
        if self.time_limit is not None and time.perf_counter() - self.started > self.time_limit:
            return "time limit"
        return ""


def keep(columns: dict[bytes, Column], column: Column) -> bool:
    """Add a composition not seen before; False when it is already known."""
    key = column[0].astype(np.int32).tobytes()
    if key in columns:
        return False
    columns[key] = column
    return True


def generate(master: _Master, columns: dict[bytes, Column], counts: np.ndarray, size: int,
             pricing: _Pricing, search: _LocalSearch, clock: _Clock, *,
             leximin: bool, tol: float = PROOF_TOL) -> _Generation:
    """Maximin (one level) or leximin (levels until every type is fixed)."""
    run = _Generation(upper_bound=size / float(counts[master.rows].sum()))  # equal share
    while True:
        proven, w, z = _level(master, columns, counts, size, pricing, search, clock, run, tol)
        if run.levels == 0:
            run.lp_minimum = z
            if proven:
                run.upper_bound = min(run.upper_bound, z * (1 + tol))
        if not proven:
            return run
        run.levels += 1
        if not leximin:
            run.optimal = True
            return run
        free = np.flatnonzero(~master.fixed)
        if _all_equal(master, counts, size, z, tol):
            master.fix(free, z)
        else:
            hit = free[w[free] > FIX_DUAL]
            master.fix(hit if len(hit) else free[[int(np.argmax(w[free]))]], z)
        if master.free == 0:
            run.weights = master.solve()[1]
            run.optimal = True
            return run


def _all_equal(master: _Master, counts: np.ndarray, size: int, z: float, tol: float) -> bool:
    """Do the free types all sit at z? True when z reaches their average probability, which
    no distribution can beat: then no pricing is needed to prove the level."""
    rows = master.rows
    c = counts[rows].astype(float)
    free = ~master.fixed
    mass = size - float(c[~free] @ master.level[~free])
    return z >= mass / float(c[free].sum()) * (1 - tol)


def _level(master: _Master, columns: dict[bytes, Column], counts: np.ndarray, size: int,
           pricing: _Pricing, search: _LocalSearch, clock: _Clock, run: _Generation,
           tol: float) -> tuple[bool, np.ndarray, float]:
    """Raise the level's minimum until proven optimal or out of budget: (proven, duals, z)."""
    while True:
        run.iterations += 1
        z, run.weights, w, fixed_part = master.solve()
        if _all_equal(master, counts, size, z, tol):
            return True, w, z
        run.stopped = clock.out(run)
        if run.stopped:
            return False, w, z
        values = np.zeros(len(counts))
        values[master.rows] = w / counts[master.rows]
        mu = z + fixed_part  # what the best panel in the LP is worth
        threshold = mu * (1 + tol) + 1e-12
        if _search_columns(master, columns, search, values, threshold):
            continue
        run.pricing_mips += 1
        best = pricing.solve(values)
        assert best is not None
        if run.levels == 0:  # LP duality: no distribution has a larger minimum
            run.upper_bound = min(run.upper_bound, pricing.bound - fixed_part)
        if pricing.bound <= threshold:
            return True, w, z
        if float(values @ best[0]) <= threshold or not keep(columns, best):
            # the MIP stopped within its gap but above the threshold: numerically optimal
            return float(values @ best[0]) <= threshold * (1 + 10 * tol), w, z
        master.add(best[0])


def _search_columns(master: _Master, columns: dict[bytes, Column], search: _LocalSearch,
                    values: np.ndarray, threshold: float) -> int:
    """Improve the best panels so far by swaps; add those worth more than ``threshold`` to the
    master. Returns how many were added."""
    known = list(columns.values())
    compositions = np.array([c[0] for c in known], float)
    # the best panels so far are good starts for the swap search
    starts = np.argsort(-(compositions @ values))[:4]
    found = 0
    for move, tops in ((search.improve, starts), (getattr(search, "deep", None), starts)):
        if move is None:
            break
        for j in tops:
            column = move(known[j], values)
            if float(values @ column[0]) > threshold and keep(columns, column):
                master.add(column[0])
                found += 1
        if found:
            break
    return found
