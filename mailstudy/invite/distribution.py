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
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mailstudy.invite.generation import (
    LEGACY_TOL,
    PROOF_TOL,
    _Clock,
    _Generation,
    generate,
    keep,
)
from mailstudy.invite.master import _Master
from mailstudy.invite.plan import ALGORITHMS, SEP, InviteError, Plan
from mailstudy.invite.pool import Types, complete_pool, make_types
from mailstudy.invite.pricing import _Pricing
from mailstudy.invite.search import Column, _LocalSearch, _PairSearch
from mailstudy.text import people_count

WARM_TYPES = 250  # above this many types, warm up with multiplicative weights
WARM_RATE = 0.3


class InfeasibleError(InviteError):
    """No panel meets every constraint. ``relaxations`` lists changes that each would work."""

    def __init__(self, msgid: str, blocking: list[str], relaxations: list[str],
                 **values: Any) -> None:
        super().__init__(msgid, **values)
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
    if relax:
        return InfeasibleError("no panel of {size} meets every constraint. Blocking: {blocked}. "
                               "Each of these changes alone would work: {changes}",
                               blocking, relax, size=plan.size, blocked="; ".join(blocking),
                               changes="; ".join(relax))
    return InfeasibleError("no panel of {size} meets every constraint. Blocking: {blocked}. "
                           "No single relaxation is enough: lower the panel size or widen "
                           "several quotas.", blocking, relax, size=plan.size,
                           blocked="; ".join(blocking))


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


def find_distribution(pool: pd.DataFrame, plan: Plan, *, algorithm: str = "leximin",
                      time_limit: float | None = None, max_iterations: int = 20000) -> Lottery:
    """The fair lottery over panels by column generation on type-aggregated panels (HiGHS LP
    master; pricing by swap searches, then by HiGHS MIP to prove that no better panel exists).

    ``algorithm``: ``leximin`` (the default: maximise the smallest probability, then the next,
    each level proven), ``maximin`` (the first level only), ``legacy`` (mailstudy's maximin
    before leximin: single swaps and a MIP solved to 1e-9, kept for comparison). Any pool
    works: ``person`` plus the plan's feature columns; ``available``, ``families`` and the
    service columns are read only when the plan needs them. Raises :class:`InfeasibleError`
    (with relaxations) when no panel meets the plan.
    """
    if algorithm not in ALGORITHMS:
        raise InviteError("algorithm must be one of {algorithms}, not {algorithm!r}",
                          algorithms=", ".join(ALGORITHMS), algorithm=algorithm)
    started = time.perf_counter()
    pool = complete_pool(pool, plan)
    eligible = pool[pool["available"]].reset_index(drop=True)
    if len(eligible) < plan.size:
        raise diagnose(pool, plan)
    types = make_types(eligible, plan)
    counts = types.counts
    legacy = algorithm == "legacy"
    pricing = _Pricing(types, plan, gap=1e-9 if legacy else PROOF_TOL)
    search = _LocalSearch(types, plan) if legacy else _PairSearch(types, plan)
    first = pricing.solve(np.ones(len(counts)) / counts)
    if first is None:
        raise diagnose(pool, plan)
    columns: dict[bytes, Column] = {}
    keep(columns, first)
    covered = _cover_types(first, counts, pricing, search, columns)
    if len(counts) > WARM_TYPES:
        _warm_up(first, covered, counts, plan, search, columns)
    master = _Master(counts, covered)
    for column in columns.values():
        master.add(column[0])
    run = generate(master, columns, counts, plan.size, pricing, search,
                   _Clock(started, time_limit, max_iterations), leximin=algorithm == "leximin",
                   tol=LEGACY_TOL if legacy else PROOF_TOL)
    return _lottery(plan, types, columns, covered, run, started, algorithm)


def _cover_types(first: Column, counts: np.ndarray, pricing: _Pricing, search: _LocalSearch,
                 columns: dict[bytes, Column]) -> np.ndarray:
    """Find panels that include types not yet seen; stop when none can. Returns the mask of
    types some panel includes."""
    covered = first[0] > 0
    while not covered.all():
        weights = np.where(covered, 0.0, 1.0 / counts) + 1e-6 / counts
        column = getattr(search, "deep", search.improve)(first, weights)
        if not (column[0][~covered] > 0).any():
            column = pricing.solve(weights)
            assert column is not None
            if not (column[0][~covered] > 0).any():
                break
        keep(columns, column)
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
        keep(columns, current)
        weights = weights * np.exp(-WARM_RATE * (current[0] / counts) / fair)
        weights = weights / weights.sum()


def _lottery(plan: Plan, types: Types, columns: dict[bytes, Column], covered: np.ndarray,
             run: _Generation, started: float, algorithm: str) -> Lottery:
    """The lottery from the master LP's weights: its support, probabilities, hash and stats."""
    counts = types.counts
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
             "algorithm": algorithm, "levels": run.levels, "stopped": run.stopped,
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
