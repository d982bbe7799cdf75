"""The maximin lottery over feasible panels, its hash, and why no panel may exist.

Why a lottery and not a greedy draw: Flanigan et al. (Nature 2021) showed that drawing people
one by one against quotas gives some people a near-zero chance. We compute instead a
probability distribution over *feasible* panels that maximises the smallest selection
probability (maximin), then draw one panel from it with a recorded seed; every person can be
told their probability, and the distribution's hash lets an auditor re-check the draw.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mailstudy.invite.master import _Master
from mailstudy.invite.plan import SEP, InviteError, Plan
from mailstudy.invite.pool import Types, make_types
from mailstudy.invite.pricing import _Pricing
from mailstudy.invite.search import Column, _LocalSearch
from mailstudy.text import people_count

WARM_TYPES = 250  # above this many types, warm up with multiplicative weights
WARM_RATE = 0.3
TOL = 1e-7  # optimality tolerance of the column generation (relative to the minimum)


class InfeasibleError(InviteError):
    """No panel meets every constraint. ``relaxations`` lists changes that each would work."""

    def __init__(self, message: str, blocking: list[str], relaxations: list[str]) -> None:
        super().__init__(message)
        self.blocking = blocking
        self.relaxations = relaxations


def diagnose(pool: pd.DataFrame, plan: Plan) -> InfeasibleError:
    """Explain why no panel exists: which constraint families block, and which relaxations
    (each alone) would make a panel possible. Pure; solves a few small feasibility ILPs."""
    eligible = pool[pool["available"]]
    k = plan.min_group_size
    blocking: list[str] = []
    if len(eligible) < plan.size:
        blocking.append(f"only {people_count(len(eligible), k)} eligible people for "
                        f"{plan.size} seats")
    for f, n in plan.seats.items():
        have = int(eligible["families"].str.split(SEP).map(lambda x, f=f: f in x).sum())
        if n > have:
            blocking.append(f"role seats '{f}': {n} needed, {people_count(have, k)} eligible")
    for q in plan.quotas:
        have = int((eligible[q.feature].astype(str) == q.value).sum())
        if q.min > have:
            blocking.append(f"quota {q.feature}={q.value}: at least {q.min}, "
                            f"{people_count(have, k)} eligible")
    mins = {}
    for q in plan.quotas:
        mins.setdefault(q.feature, [0, 0])
        mins[q.feature][0] += q.min
        mins[q.feature][1] += q.max
    for f, (lo, hi) in mins.items():
        if lo > plan.size or hi < plan.size:
            blocking.append(f"quotas on {f} sum to {lo}..{hi}, panel has {plan.size} seats")

    def feasible(p: pd.DataFrame, drop: frozenset[str] = frozenset()) -> bool:
        e = p[p["available"]]
        if len(e) < plan.size:
            return False
        ty = make_types(e, plan)
        return _Pricing(ty, plan, drop=drop).solve(np.zeros(len(ty.table))) is not None

    options: list[tuple[str, pd.DataFrame, frozenset[str]]] = []
    for f in plan.features:
        options.append((f"widen the quotas on {f}", pool, frozenset({f"quota:{f}"})))
    for f, n in plan.seats.items():
        if n > 0:
            options.append((f"drop the role seats '{f}'", pool, frozenset({f"seats:{f}"})))
    if plan.one_per_service:
        options.append(("allow several invitees per service", pool,
                        frozenset({"one_per_service"})))
    if not pool["available"].all():
        options.append(("ignore availability", pool.assign(available=True), frozenset()))
    relax = [label for label, p, d in options if feasible(p, d)]
    # Value-level hints for quota families that unblock.
    for f in plan.features:
        if f"widen the quotas on {f}" in relax:
            for q in plan.quotas:
                if q.feature == f and feasible(pool, frozenset({f"quota:{f}={q.value}"})):
                    relax.append(f"widen only {f}={q.value} (now {q.min}..{q.max})")
    if not blocking:
        blocking.append("the combination of quotas, role seats and the one-per-service rule")
    msg = (f"no panel of {plan.size} meets every constraint. Blocking: "
           + "; ".join(blocking) + ". ")
    msg += ("Each of these changes alone would work: " + "; ".join(relax) if relax else
            "No single relaxation is enough: lower the panel size or widen several quotas.")
    return InfeasibleError(msg, blocking, relax)


@dataclass
class Lottery:
    """A distribution over panel compositions and what it implies for each person."""

    plan: Plan
    types: Types
    compositions: list[tuple[np.ndarray, dict[tuple[int, str], int]]]
    weights: np.ndarray  # probability of each composition
    type_probability: np.ndarray
    person_probability: pd.Series  # indexed by person, every eligible person
    digest: str
    stats: dict[str, Any]

    @property
    def min_probability(self) -> float:
        return float(self.person_probability.min()) if len(self.person_probability) else 0.0


@dataclass
class _Generation:
    """Where the column generation stopped: the master LP's last answer and its proof."""

    iterations: int = 0
    pricing_mips: int = 0
    lp_minimum: float = 0.0
    weights: np.ndarray = field(default_factory=lambda: np.zeros(0))
    upper_bound: float = 0.0  # best proven upper bound on the maximin value
    optimal: bool = False


def find_distribution(pool: pd.DataFrame, plan: Plan, *, time_limit: float | None = None,
                      max_iterations: int = 20000) -> Lottery:
    """Maximin lottery over panels by column generation (HiGHS LP master; pricing by local
    search, then by HiGHS MIP to prove that no better panel exists).

    Raises :class:`InfeasibleError` (with relaxations) when no panel meets the plan.
    """
    started = time.perf_counter()
    eligible = pool[pool["available"]].reset_index(drop=True)
    if len(eligible) < plan.size:
        raise diagnose(pool, plan)
    types = make_types(eligible, plan)
    counts = types.table["count"].to_numpy()
    pricing = _Pricing(types, plan)
    search = _LocalSearch(types, plan)
    first = pricing.solve(np.ones(len(counts)) / counts)
    if first is None:
        raise diagnose(pool, plan)
    columns: dict[bytes, Column] = {}
    _keep(columns, first)
    covered = _cover_types(first, counts, pricing, search, columns)
    if len(counts) > WARM_TYPES:
        _warm_up(first, covered, counts, plan, search, columns)
    master = _Master(counts, covered)
    for column in columns.values():
        master.add(column[0])
    run = _generate_columns(master, columns, counts, plan.size / counts[covered].sum(),
                            pricing, search, started, time_limit, max_iterations)
    return _lottery(plan, types, columns, covered, run, started)


def _keep(columns: dict[bytes, Column], column: Column) -> bool:
    """Add a composition not seen before; False when it is already known."""
    key = column[0].astype(np.int32).tobytes()
    if key in columns:
        return False
    columns[key] = column
    return True


def _cover_types(first: Column, counts: np.ndarray, pricing: _Pricing, search: _LocalSearch,
                 columns: dict[bytes, Column]) -> np.ndarray:
    """Find panels that include types not yet seen; stop when none can. Returns the mask of
    types some panel includes."""
    covered = first[0] > 0
    while not covered.all():
        weights = np.where(covered, 0.0, 1.0 / counts) + 1e-6 / counts
        column = search.improve(first, weights)
        if not (column[0][~covered] > 0).any():
            column = pricing.solve(weights)
            assert column is not None
            if not (column[0][~covered] > 0).any():
                break
        _keep(columns, column)
        covered |= column[0] > 0
    return covered


def _warm_up(first: Column, covered: np.ndarray, counts: np.ndarray, plan: Plan,
             search: _LocalSearch, columns: dict[bytes, Column]) -> None:
    """Many types: each LP solve is costly, so first gather diverse panels cheaply with
    multiplicative weights (types that keep being drawn lose weight), as the library does per
    person; the LP then starts close to its optimum."""
    weights = np.where(covered, 1.0, 0.0) / max(int(covered.sum()), 1)
    fair = plan.size / counts[covered].sum()
    current = first
    for _ in range(min(len(counts), 3000)):
        current = search.improve(current, weights / counts)
        _keep(columns, current)
        weights = weights * np.exp(-WARM_RATE * (current[0] / counts) / fair)
        weights = weights / weights.sum()


def _generate_columns(master: _Master, columns: dict[bytes, Column], counts: np.ndarray,
                      upper: float, pricing: _Pricing, search: _LocalSearch,
                      started: float, time_limit: float | None,
                      max_iterations: int) -> _Generation:
    """Solve the master LP, price new panels (swap search first, MIP when it finds none), until
    the LP is proven optimal or the iteration or time budget runs out. ``upper`` is the equal
    share: nobody can beat it."""
    run = _Generation(upper_bound=float(upper))
    while True:
        run.iterations += 1
        run.lp_minimum, run.weights, active_duals = master.solve()
        if run.lp_minimum >= upper * (1 - 1e-9):
            run.optimal = True
            return run
        if run.iterations >= max_iterations or (time_limit is not None
                                                and time.perf_counter() - started > time_limit):
            return run
        duals = np.zeros(len(counts))
        duals[master.rows] = active_duals
        values = duals / counts
        threshold = run.lp_minimum * (1 + TOL) + 1e-12
        if _search_columns(master, columns, search, values, threshold):
            continue
        run.pricing_mips += 1
        best = pricing.solve(values)
        assert best is not None
        # LP duality: no distribution beats this
        run.upper_bound = min(run.upper_bound, float(values @ best[0]))
        if float(values @ best[0]) <= threshold:
            run.optimal = True
            return run
        if not _keep(columns, best):
            return run
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
    for j in starts:
        column = search.improve(known[j], values)
        if float(values @ column[0]) > threshold and _keep(columns, column):
            master.add(column[0])
            found += 1
    return found


def _lottery(plan: Plan, types: Types, columns: dict[bytes, Column], covered: np.ndarray,
             run: _Generation, started: float) -> Lottery:
    """The lottery from the master LP's weights: its support, probabilities, hash and stats."""
    counts = types.table["count"].to_numpy()
    lam = np.clip(run.weights, 0, None)
    support = np.flatnonzero(lam > 1e-10)
    known = list(columns.values())
    comps = [known[j] for j in support]
    weights = lam[support] / lam[support].sum()
    n_mat = np.array([c[0] for c in comps], float)
    type_prob = (weights @ n_mat) / counts
    person_prob = pd.Series(np.repeat(type_prob, counts),
                            index=[p for m in types.members for p in m], name="probability")
    person_prob = person_prob.sort_index()
    digest = distribution_hash(types, comps, weights)
    stats = {"iterations": run.iterations, "pricing_mips": run.pricing_mips,
             "columns": len(columns), "support": len(comps), "types": len(counts),
             "uncoverable_people": int(counts[~covered].sum()), "lp_minimum": run.lp_minimum,
             "optimal": run.optimal, "upper_bound": run.upper_bound,
             "seconds": round(time.perf_counter() - started, 3)}
    return Lottery(plan, types, comps, weights, type_prob, person_prob, digest, stats)


def distribution_hash(types: Types, comps: Sequence[tuple[np.ndarray, dict[tuple[int, str], int]]],
                      weights: np.ndarray) -> str:
    """SHA-256 of the canonical distribution: types (their members) and weighted panels."""
    payload = {
        "types": types.members,
        "panels": sorted(
            [[int(x) for x in n], sorted([t, f, k] for (t, f), k in y.items()),
             f"{w:.12f}"] for (n, y), w in zip(comps, weights, strict=True)),
    }
    blob = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()
