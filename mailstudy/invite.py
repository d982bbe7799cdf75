"""Invitation lists for the workshops: a fair lottery over panels that meet quotas and roles.

Why a lottery and not a greedy draw: Flanigan et al. (Nature 2021) showed that drawing people
one by one against quotas gives some people a near-zero chance. We compute instead a
probability distribution over *feasible* panels that maximises the smallest selection
probability (maximin), then draw one panel from it with a recorded seed; every person can be
told their probability, and the distribution's hash lets an auditor re-check the draw.

Why types: people with the same (persona, level, direction, role families, service) are
interchangeable for every constraint, so any optimal distribution can be symmetrised within a
type without lowering the minimum. We therefore optimise over panel *compositions* (how many of
each type) instead of over people: the master LP has one row per type and the pricing ILP one
integer per type, which is what makes 4,000 people cheap. Service is part of the type only when
the one-invitee-per-service rule is on (it is the one constraint that tells people apart).

Everything above the "edges" section is pure: DataFrames in, DataFrames and numbers out.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import highspy
import numpy as np
import pandas as pd

from mailstudy.commitment import panel_hash, reserves_hash
from mailstudy.errors import StageError

NOT_PROFILED = "non profilé"
UNKNOWN = "non renseigné"
USAGERS = "usagers"
FAMILIES = ("pilote", "animateur", "arbitre", "fabricants", "regards différents")
DEFAULT_FEATURES = ("persona", "level", "direction")
DEFAULT_SEATS: dict[str, int] = {"pilote": 1, "animateur": 1, "arbitre": 1, "fabricants": 2,
                                 "regards différents": 2}
# Directory role words -> workshop family. Matching ignores case and accents; a study can
# replace any family's list in study.toml ([workshop.roles]).
DEFAULT_ROLE_VOCABULARY: dict[str, tuple[str, ...]] = {
    "fabricants": ("juridique", "droit", "informatique", "numerique", "si", "dsi", "norme",
                   "normes", "qualite", "rgpd", "dpo", "archives", "archiviste", "marches",
                   "securite"),
    "regards différents": ("expert", "experte", "expertise", "creatif", "creative",
                           "design", "innovation", "communication", "recherche"),
    "pilote": ("pilote", "chef de projet", "cheffe de projet", "direction de projet"),
    "animateur": ("animateur", "animatrice", "animation"),
    "arbitre": ("arbitre", "facilitateur", "facilitatrice", "controleur", "controleuse",
                "controle", "audit", "auditeur", "auditrice"),
}
SEP = ";"  # joins role families in one string cell
WARM_TYPES = 250  # above this many types, warm up with multiplicative weights
WARM_RATE = 0.3
TOL = 1e-7  # optimality tolerance of the column generation (relative to the minimum)


class InviteError(StageError, ValueError):
    """The lottery cannot run as configured; the message says what to change."""


class InfeasibleError(InviteError):
    """No panel meets every constraint. ``relaxations`` lists changes that each would work."""

    def __init__(self, message: str, blocking: list[str], relaxations: list[str]) -> None:
        super().__init__(message)
        self.blocking = blocking
        self.relaxations = relaxations


@dataclass(frozen=True)
class Quota:
    feature: str
    value: str
    min: int
    max: int


@dataclass
class Plan:
    """What a panel must satisfy."""

    size: int
    quotas: list[Quota] = field(default_factory=list)
    seats: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_SEATS))
    one_per_service: bool = True

    @property
    def features(self) -> list[str]:
        return list(dict.fromkeys(q.feature for q in self.quotas))


# -- pool ----------------------------------------------------------------------------------


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

def _fold(text: str) -> str:
    t = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    return " ".join(t.lower().replace("-", " ").replace("_", " ").split())


def role_families(roles: Iterable[str] | None,
                  vocabulary: Mapping[str, Sequence[str]] | None = None) -> str:
    """The workshop families (joined by ';', sorted) a person's directory roles map to."""
    vocab = vocabulary if vocabulary is not None else DEFAULT_ROLE_VOCABULARY
    words = {_fold(r) for r in (roles if roles is not None else []) if isinstance(r, str)}
    fams = sorted(f for f, terms in vocab.items()
                  if f in FAMILIES and (words & {_fold(t) for t in terms} or _fold(f) in words))
    return SEP.join(fams)


def _as_list(v: Any) -> list[str]:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return []
    if isinstance(v, str):
        return [v]
    return [str(x) for x in v]


def build_pool(people: pd.DataFrame, personas: pd.DataFrame | None = None,
               directory: pd.DataFrame | None = None, volunteers: Iterable[str] = (),
               optouts: Iterable[str] = (), availability: pd.DataFrame | None = None,
               sessions: Sequence[str] | None = None,
               vocabulary: Mapping[str, Sequence[str]] | None = None) -> pd.DataFrame:
    """Everyone who may be drawn: profiled people plus volunteers, minus opt-outs.

    Volunteers without mail data come from the directory with persona 'non profilé'. When an
    availability table is given, ``available`` is True only for people who said yes to every
    session (``sessions``, default every column but person); people who did not answer are not
    available. Returns person, persona, level, direction, service, families, volunteer,
    available.
    """
    vol = set(volunteers)
    cols = ["person", "level", "direction", "service", "roles"]
    base = people.reindex(columns=cols).copy()
    base["volunteer"] = base["person"].isin(vol)
    extra = sorted(vol - set(base["person"]))
    if extra:
        if directory is not None and len(directory):
            d = directory.drop_duplicates("person").set_index("person").reindex(extra)
            add = d.reindex(columns=cols[1:]).reset_index(names="person")
        else:
            add = pd.DataFrame({"person": extra})
            for c in cols[1:]:
                add[c] = None
        add["volunteer"] = True
        base = pd.concat([base, add.reindex(columns=[*cols, "volunteer"])], ignore_index=True)
    opt = [p for p in set(base["person"]) if p in optouts]
    base = base[~base["person"].isin(opt)].drop_duplicates("person").reset_index(drop=True)
    if personas is not None and len(personas):
        # schema.PERSONAS: persona is an id, persona_name the label people read
        label = "persona_name" if "persona_name" in personas else "persona"
        pmap = personas.drop_duplicates("person").set_index("person")[label].astype(str)
        base["persona"] = base["person"].map(pmap)
    else:
        base["persona"] = None
    for c in ("persona", "level", "direction", "service"):
        fill = NOT_PROFILED if c == "persona" else UNKNOWN
        base[c] = base[c].astype(object).where(base[c].notna() & (base[c].astype(str) != ""),
                                               fill).astype(str)
    base["families"] = [role_families(_as_list(r), vocabulary) for r in base["roles"]]
    if availability is not None:
        sess = list(sessions) if sessions else [c for c in availability.columns
                                                if c != "person"]
        missing = [s for s in sess if s not in availability.columns]
        if missing:
            raise InviteError(f"availability has no column for session(s) {', '.join(missing)}")
        av = availability.drop_duplicates("person").set_index("person")[sess]
        ok = av.fillna(False).astype(bool).all(axis=1) if sess else pd.Series(True, av.index)
        base["available"] = base["person"].map(ok).fillna(False).astype(bool)
    else:
        base["available"] = True
    return base[["person", "persona", "level", "direction", "service", "families",
                 "volunteer", "available"]]


def derive_quotas(population: pd.DataFrame, size: int,
                  features: Sequence[str] = DEFAULT_FEATURES, margin: int = 1,
                  overrides: Mapping[str, Mapping[str, Sequence[int]]] | None = None
                  ) -> list[Quota]:
    """Quotas from the population's shares: floor(share*size) - margin .. ceil(...) + margin.

    ``overrides`` maps feature -> value -> [min, max] and wins over the derived bounds.
    """
    out: list[Quota] = []
    over = overrides or {}
    for f in features:
        counts = population[f].astype(str).value_counts()
        n = int(counts.sum())
        for v, c in sorted(counts.items()):
            ideal = size * c / n
            lo = max(0, math.floor(ideal) - margin)
            hi = min(size, math.ceil(ideal) + margin)
            if v in over.get(f, {}):
                lo, hi = (int(x) for x in over[f][v])
            out.append(Quota(f, str(v), lo, hi))
    return out


# -- types and the pricing model -----------------------------------------------------------

@dataclass
class Types:
    """People grouped by everything the constraints can see."""

    table: pd.DataFrame  # one row per type: key columns, count
    members: list[list[str]]  # sorted pseudonyms of each type
    keys: list[str]


def make_types(eligible: pd.DataFrame, plan: Plan) -> Types:
    keys = list(plan.features)
    if any(n > 0 for n in plan.seats.values()):
        keys.append("families")
    if plan.one_per_service:
        keys.append("service")
    df = eligible.sort_values("person")
    g = df.groupby(keys, sort=True, dropna=False)["person"]
    members = [list(v) for _, v in g]
    table = g.size().rename("count").reset_index()
    return Types(table, members, keys)


class _Pricing:
    """The ILP over compositions: n_t people of type t, y_tf of them on a seat of family f."""

    def __init__(self, types: Types, plan: Plan, *, drop: frozenset[str] = frozenset(),
                 time_limit: float | None = None) -> None:
        tab = types.table
        self.T = len(tab)
        counts = tab["count"].to_numpy()
        h = _new_highs()
        h.setOptionValue("mip_rel_gap", 1e-9)
        h.setOptionValue("mip_abs_gap", 1e-12)
        h.setOptionValue("threads", 1)
        if time_limit:
            h.setOptionValue("time_limit", float(time_limit))
        inf = highspy.kHighsInf
        h.addVars(self.T, np.zeros(self.T), counts.astype(float))
        self.seat_vars: list[tuple[int, str, int]] = []  # (type, family, column)
        seats = {f: n for f, n in plan.seats.items() if n > 0 and f"seats:{f}" not in drop}
        fams = tab["families"].tolist() if "families" in tab else [""] * self.T
        col = self.T
        for t in range(self.T):
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

        row(plan.size, plan.size, range(self.T), [1.0] * self.T)
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
        if "service" in tab and "one_per_service" not in drop:
            svc = tab["service"].astype(str).to_numpy()
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

    def solve(self, weights: np.ndarray) -> tuple[np.ndarray, dict[tuple[int, str], int]] | None:
        """Best composition for per-type weights, or None when no panel is feasible."""
        h = self.h
        cost = np.zeros(self.ncol)
        cost[: self.T] = weights
        h.changeColsCost(self.ncol, np.arange(self.ncol, dtype=np.int32), cost)
        h.run()
        st = h.getModelStatus()
        if st == highspy.HighsModelStatus.kInfeasible:
            return None
        sol = np.asarray(h.getSolution().col_value)
        if st != highspy.HighsModelStatus.kOptimal:
            if h.getInfo().primal_solution_status != 2:  # no feasible point found in time
                raise InviteError(f"the panel solver stopped ({h.modelStatusToString(st)})")
        n = np.rint(sol[: self.T]).astype(int)
        y = {(t, f): int(round(sol[c])) for t, f, c in self.seat_vars if round(sol[c]) > 0}
        return n, y


# -- infeasibility ---------------------------------------------------------------------------

def diagnose(pool: pd.DataFrame, plan: Plan) -> InfeasibleError:
    """Explain why no panel exists: which constraint families block, and which relaxations
    (each alone) would make a panel possible. Pure; solves a few small feasibility ILPs."""
    eligible = pool[pool["available"]]
    blocking: list[str] = []
    if len(eligible) < plan.size:
        blocking.append(f"only {len(eligible)} eligible people for {plan.size} seats")
    for f, n in plan.seats.items():
        have = int(eligible["families"].str.split(SEP).map(lambda x, f=f: f in x).sum())
        if n > have:
            blocking.append(f"role seats '{f}': {n} needed, {have} eligible")
    for q in plan.quotas:
        have = int((eligible[q.feature].astype(str) == q.value).sum())
        if q.min > have:
            blocking.append(f"quota {q.feature}={q.value}: at least {q.min}, {have} eligible")
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


# -- the lottery -----------------------------------------------------------------------------

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
        self.T = len(tab)
        self.counts = tab["count"].to_numpy()
        qs = [q for q in plan.quotas]
        self.Q = np.zeros((len(qs), self.T))  # float: matrix products go through BLAS
        for r, q in enumerate(qs):
            self.Q[r] = tab[q.feature].astype(str).to_numpy() == q.value
        self.qmin = np.array([q.min for q in qs], np.int32)
        self.qmax = np.array([q.max for q in qs], np.int32)
        self.fams = [f for f, n in plan.seats.items() if n > 0]
        fams_t = tab["families"].tolist() if "families" in tab else [""] * self.T
        self.fam_mask = np.array([[f in x.split(SEP) for x in fams_t] for f in self.fams],
                                 bool).reshape(len(self.fams), self.T)
        if "service" in tab and plan.one_per_service:
            svc = tab["service"].astype(str)
            codes, uniq = pd.factorize(svc)
            codes = np.where(svc.to_numpy() == UNKNOWN, -1, codes)
            self.svc = codes
            self.nsvc = len(uniq)
        else:
            self.svc = np.full(self.T, -1)
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
        A = np.array(types)
        S = np.array(seats)
        n = n.copy()
        Q = self.Q
        notQ = 1 - Q
        ar = np.arange(self.T)
        for _ in range(max_moves):
            cnt = Q @ n
            # A swap a -> b breaks a quota row only if it lowers a row already at its min
            # (a in the row, b not) or raises a row already at its max (b in, a not).
            at_min = (cnt <= self.qmin).astype(float)
            at_max = (cnt >= self.qmax).astype(float)
            Qa = Q[:, A]
            ok = ((Qa * at_min[:, None]).T @ notQ == 0) & (notQ[:, A].T @ (Q * at_max[:, None])
                                                             == 0)
            same = A[:, None] == ar[None, :]
            ok &= (n[None, :] + 1 - same) <= self.counts[None, :]
            if self.nsvc:
                has = self.svc >= 0
                sc = np.bincount(self.svc[has].repeat(n[has]), minlength=self.nsvc)
                sb = self.svc[None, :]
                same_s = self.svc[A][:, None] == sb
                ok &= (sb < 0) | ((sc[np.maximum(sb, 0)] + 1 - same_s) <= 1)
            if len(self.fams):
                ok &= np.where(S[:, None] >= 0, self.fam_mask[np.maximum(S, 0)], True)
            gain = np.where(ok & ~same, v[None, :] - v[A][:, None], -np.inf)
            i, b = np.unravel_index(int(np.argmax(gain)), gain.shape)
            if gain[i, b] <= 1e-12 * max(float(v.max()), 1e-300):
                break
            n[A[i]] -= 1
            n[b] += 1
            A[i] = b
        y2: dict[tuple[int, str], int] = {}
        for t, si in zip(A, S, strict=True):
            if si >= 0:
                key = (int(t), self.fams[si])
                y2[key] = y2.get(key, 0) + 1
        return n, y2


def find_distribution(pool: pd.DataFrame, plan: Plan, *, time_limit: float | None = None,
                      max_iterations: int = 20000) -> Lottery:
    """Maximin lottery over panels by column generation (HiGHS LP master; pricing by local
    search, then by HiGHS MIP to prove that no better panel exists).

    Raises :class:`InfeasibleError` (with relaxations) when no panel meets the plan.
    """
    t0 = time.perf_counter()
    eligible = pool[pool["available"]].reset_index(drop=True)
    if len(eligible) < plan.size:
        raise diagnose(pool, plan)
    types = make_types(eligible, plan)
    counts = types.table["count"].to_numpy()
    T = len(counts)
    pricing = _Pricing(types, plan)
    search = _LocalSearch(types, plan)
    first = pricing.solve(np.ones(T) / counts)
    if first is None:
        raise diagnose(pool, plan)
    columns: dict[bytes, Column] = {}

    def keep(c: Column) -> bool:
        k = c[0].astype(np.int32).tobytes()
        if k in columns:
            return False
        columns[k] = c
        return True

    keep(first)
    covered = first[0] > 0
    # Coverage: find panels that include types not yet seen; stop when none can.
    while not covered.all():
        w = np.where(covered, 0.0, 1.0 / counts) + 1e-6 / counts
        c = search.improve(first, w)
        if not (c[0][~covered] > 0).any():
            c = pricing.solve(w)
            assert c is not None
            if not (c[0][~covered] > 0).any():
                break
        keep(c)
        covered |= c[0] > 0
    if T > WARM_TYPES:
        # Many types: each LP solve is costly, so first gather diverse panels cheaply with
        # multiplicative weights (types that keep being drawn lose weight), as the library
        # does per person; the LP then starts close to its optimum.
        wt = np.where(covered, 1.0, 0.0) / max(int(covered.sum()), 1)
        fair = plan.size / counts[covered].sum()
        cur = first
        for _ in range(min(T, 3000)):
            cur = search.improve(cur, wt / counts)
            keep(cur)
            wt = wt * np.exp(-WARM_RATE * (cur[0] / counts) / fair)
            wt = wt / wt.sum()
    master = _Master(counts, covered)
    for c in columns.values():
        master.add(c[0])
    upper = plan.size / counts[covered].sum()  # nobody can beat the equal share
    it = mips = 0
    z = 0.0
    lam = np.zeros(0)
    bound = float(upper)  # best proven upper bound on the maximin value
    proven = False
    while True:
        it += 1
        z, lam, w_act = master.solve()
        if z >= upper * (1 - 1e-9):
            proven = True
            break
        if it >= max_iterations or (time_limit is not None
                                    and time.perf_counter() - t0 > time_limit):
            break
        w = np.zeros(T)
        w[master.rows] = w_act
        v = w / counts
        threshold = z * (1 + TOL) + 1e-12
        cols = list(columns.values())
        nmat = np.array([c[0] for c in cols], float)
        # the best panels so far are good starts for the swap search
        start = np.argsort(-(nmat @ v))[:4]
        found = 0
        for j in start:
            c = search.improve(cols[j], v)
            if float(v @ c[0]) > threshold and keep(c):
                master.add(c[0])
                found += 1
        if found:
            continue
        mips += 1
        best = pricing.solve(v)
        assert best is not None
        bound = min(bound, float(v @ best[0]))  # LP duality: no distribution beats this
        if float(v @ best[0]) <= threshold:
            proven = True
            break
        if not keep(best):
            break
        master.add(best[0])
    comps = list(columns.values())
    lam = np.clip(lam, 0, None)
    support = np.flatnonzero(lam > 1e-10)
    comps = [comps[j] for j in support]
    weights = lam[support] / lam[support].sum()
    n_mat = np.array([c[0] for c in comps], float)
    type_prob = (weights @ n_mat) / counts
    person_prob = pd.Series(np.repeat(type_prob, counts),
                            index=[p for m in types.members for p in m], name="probability")
    person_prob = person_prob.sort_index()
    digest = distribution_hash(types, comps, weights)
    stats = {"iterations": it, "pricing_mips": mips, "columns": len(columns),
             "support": len(comps), "types": T,
             "uncoverable_people": int(counts[~covered].sum()), "lp_minimum": z,
             "optimal": proven, "upper_bound": bound,
             "seconds": round(time.perf_counter() - t0, 3)}
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


# -- drawing a panel and its reserves --------------------------------------------------------

PANEL_COLUMNS = ["person", "seat", "role", "strata", "selection_probability"]


def _strata(row: Mapping[str, Any], features: Sequence[str]) -> str:
    return "|".join(f"{f}={row[f]}" for f in features)


def sample(lottery: Lottery, rng: np.random.Generator) -> list[tuple[str, str]]:
    """One draw: a composition by its weight, then members uniformly within each type.

    Returns (person, seat family or 'usagers'). Uniform within a type is what makes every
    member's probability exactly E[n_t] / c_t.
    """
    j = int(rng.choice(len(lottery.weights), p=lottery.weights))
    n, y = lottery.compositions[j]
    rows: list[tuple[str, str]] = []
    for t in np.flatnonzero(n):
        chosen = [str(x) for x in
                  rng.choice(lottery.types.members[t], size=int(n[t]), replace=False)]
        for f in FAMILIES:
            for _ in range(y.get((int(t), f), 0)):
                rows.append((chosen.pop(0), f))
        rows.extend((p, USAGERS) for p in chosen)
    return rows


def draw_panel(lottery: Lottery, pool: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Draw one panel with a seeded RNG.

    Columns: person, seat (S01...), role (the seat's family, or 'usagers'), strata,
    selection_probability, plus the pool's attribute columns for later steps.
    """
    rows = sample(lottery, np.random.default_rng(seed))
    attrs = pool.set_index("person")
    out = pd.DataFrame(rows, columns=["person", "role"])
    out = out.join(attrs, on="person")
    feats = lottery.plan.features
    out["strata"] = [_strata(r, feats) for _, r in out.iterrows()]
    order = {f: i for i, f in enumerate(FAMILIES)} | {USAGERS: len(FAMILIES)}
    out["_o"] = out["role"].map(order)
    out = out.sort_values(["_o", "strata", "person"]).drop(columns="_o").reset_index(drop=True)
    out["seat"] = [f"S{i + 1:02d}" for i in range(len(out))]
    out["selection_probability"] = out["person"].map(lottery.person_probability)
    rest = [c for c in out.columns if c not in PANEL_COLUMNS]
    return out[PANEL_COLUMNS + rest]


def _swap_ok(panel: pd.DataFrame, i: int, cand: Mapping[str, Any], plan: Plan,
             qmap: Mapping[tuple[str, str], Quota], counts: dict[tuple[str, str], int],
             services: dict[str, int]) -> bool:
    """Would the panel still meet the plan with candidate ``cand`` in seat ``i``?"""
    held = panel.iloc[i]
    if held["role"] != USAGERS and held["role"] not in str(cand["families"]).split(SEP):
        return False
    for f in plan.features:
        a, b = str(held[f]), str(cand[f])
        if a == b:
            continue
        qa, qb = qmap.get((f, a)), qmap.get((f, b))
        if qa and counts[(f, a)] - 1 < qa.min:
            return False
        if qb and counts.get((f, b), 0) + 1 > qb.max:
            return False
    if plan.one_per_service:
        s = str(cand["service"])
        if s != UNKNOWN and s != str(held["service"]) and services.get(s, 0) > 0:
            return False
    return True


def pick_reserves(panel: pd.DataFrame, pool: pd.DataFrame, lottery: Lottery, seed: int,
                  per_seat: int = 3) -> pd.DataFrame:
    """Ranked alternates for each seat, from the same stratum first.

    A candidate is eligible for a seat when swapping them in keeps every quota, the seat's role
    and the service rule; candidates are ranked by how many strata features they share with the
    seat holder (all of them: same stratum), ties broken by a seeded shuffle. Each person is an
    alternate for at most one seat, so a list can be worked through without collisions.
    """
    plan = lottery.plan
    rng = np.random.default_rng([seed, 1])
    cands = pool[pool["available"] & ~pool["person"].isin(panel["person"])]
    cands = cands.sort_values("person").reset_index(drop=True)
    cands = cands.iloc[rng.permutation(len(cands))].reset_index(drop=True)
    counts = {(f, str(v)): int(c) for f in plan.features
              for v, c in panel[f].astype(str).value_counts().items()}
    services = panel["service"].astype(str).value_counts().to_dict()
    ranked: list[list[int]] = []
    feats = plan.features
    qmap = {(q.feature, q.value): q for q in plan.quotas}
    cand_vals = {f: cands[f].astype(str).to_numpy() for f in feats}
    recs = cands.to_dict("records")
    for i in range(len(panel)):
        held = panel.iloc[i]
        diff = np.zeros(len(cands), int)
        for f in feats:
            diff += cand_vals[f] != str(held[f])
        order = np.argsort(diff, kind="stable")
        ok: list[int] = []
        for k in order:  # enough for the greedy below even if every earlier pick collides
            if _swap_ok(panel, i, recs[k], plan, qmap, counts, services):
                ok.append(int(k))
                if len(ok) >= per_seat * (len(panel) + 1):
                    break
        ranked.append(ok)
    used: set[int] = set()
    rows: list[dict[str, Any]] = []
    pos = [0] * len(panel)
    for rank in range(1, per_seat + 1):
        for i in range(len(panel)):
            lst = ranked[i]
            while pos[i] < len(lst) and lst[pos[i]] in used:
                pos[i] += 1
            if pos[i] >= len(lst):
                continue
            k = lst[pos[i]]
            used.add(k)
            rec = recs[k]
            held = panel.iloc[i]
            rows.append({"person": rec["person"], "seat": held["seat"], "role": held["role"],
                         "strata": _strata(rec, feats),
                         "selection_probability": float(
                             lottery.person_probability.get(rec["person"], 0.0)),
                         "rank": rank})
    out = pd.DataFrame(rows, columns=[*PANEL_COLUMNS, "rank"])
    return out.sort_values(["seat", "rank"]).reset_index(drop=True)


# -- what the outputs say --------------------------------------------------------------------

def gini(x: Sequence[float] | np.ndarray) -> float:
    a = np.sort(np.asarray(x, float))
    n = len(a)
    if n == 0 or a.sum() == 0:
        return 0.0
    return float((2 * np.arange(1, n + 1) - n - 1) @ a / (n * a.sum()))


def fairness(probabilities: pd.Series, size: int) -> dict[str, float]:
    """Min probability over size/pool, Gini of probabilities, share of the pool below size/pool."""
    n = len(probabilities)
    fair = size / n if n else 0.0
    p = probabilities.to_numpy(float)
    return {"pool": n, "size": size, "equal_share": fair,
            "min_probability": float(p.min()) if n else 0.0,
            "max_probability": float(p.max()) if n else 0.0,
            "min_over_equal_share": float(p.min() / fair) if n else 0.0,
            "gini": gini(p),
            "share_below_equal_share": float((p < fair * (1 - 1e-6)).mean()) if n else 0.0}


def composition(panel: pd.DataFrame, population: pd.DataFrame, features: Sequence[str],
                min_group: int) -> tuple[pd.DataFrame, int]:
    """Panel vs population per feature value; values held by fewer than ``min_group`` people
    in the population are suppressed (with secondary suppression)."""
    rows = []
    n_pop, n_pan = len(population), len(panel)
    for f in features:
        pc = population[f].astype(str).value_counts()
        kc = panel[f].astype(str).value_counts()
        for v, c in sorted(pc.items()):
            rows.append({"feature": f, "value": v, "population": int(c),
                         "population_share": round(c / n_pop, 4),
                         "panel": int(kc.get(v, 0)),
                         "panel_share": round(kc.get(v, 0) / n_pan, 4) if n_pan else 0.0})
    t = pd.DataFrame(rows, columns=["feature", "value", "population", "population_share",
                                    "panel", "panel_share"])
    # Each feature is a line whose total (the population) is public: anonymise.disclosure
    # hides the small cells and enough others that none is the difference of shown ones.
    # Value labels stay (they are not counts); the counts of hidden cells go.
    from anonymise.disclosure import TOTAL, suppress_linked

    hidden = pd.Series(False, index=t.index)
    for _, grp in t.groupby("feature"):
        cells = pd.concat([grp[["value", "population"]],
                           pd.DataFrame({"value": [TOTAL], "population": [n_pop]})])
        cells.index = [*grp.index, -1]
        res = suppress_linked(cells, ["value"], "population", min_group)
        hidden.loc[grp.index] = res.suppressed.loc[grp.index].to_numpy(dtype=bool)
    cols = ["population", "population_share", "panel", "panel_share"]
    t[cols] = t[cols].astype("float64")
    t.loc[hidden, cols] = np.nan
    t["suppressed"] = hidden
    return t, int(hidden.sum())


WHY = {
    "fr": {"seat": "siège de rôle « {role} »", "strata": "strate {strata}",
           "prob": "probabilité d'être tiré·e : {p:.1%}"},
    "en": {"seat": "role seat '{role}'", "strata": "stratum {strata}",
           "prob": "selection probability: {p:.1%}"},
}


def explain(panel: pd.DataFrame, lang: str = "fr") -> pd.DataFrame:
    """One line per invitee: the role seat or the strata filled, and the probability."""
    w = WHY.get(lang, WHY["fr"])
    lines = []
    for _, r in panel.iterrows():
        what = (w["seat"].format(role=r["role"]) if r["role"] != USAGERS else
                w["strata"].format(strata=r["strata"]))
        if r["role"] != USAGERS:
            what += ", " + w["strata"].format(strata=r["strata"])
        lines.append(f"{what}; {w['prob'].format(p=r['selection_probability'])}")
    return pd.DataFrame({"person": panel["person"], "seat": panel["seat"],
                         "role": panel["role"],
                         "selection_probability": panel["selection_probability"],
                         "why": lines})


@dataclass
class Invitation:
    panel: pd.DataFrame
    reserves: pd.DataFrame
    lottery: Lottery
    fairness: dict[str, Any]
    composition: pd.DataFrame
    suppressed: int
    why: pd.DataFrame


def invite(pool: pd.DataFrame, plan: Plan, seed: int, *, min_group: int = 10,
           reserves_per_seat: int = 3, lang: str = "fr",
           time_limit: float | None = None) -> Invitation:
    """The whole stage on tables: lottery, draw, reserves, fairness, composition, reasons."""
    lot = find_distribution(pool, plan, time_limit=time_limit)
    panel = draw_panel(lot, pool, seed)
    reserves = pick_reserves(panel, pool, lot, seed, reserves_per_seat)
    fair = fairness(lot.person_probability, plan.size) | {
        "seed": seed, "distribution_sha256": lot.digest, "algorithm": "maximin",
        "panels_in_support": len(lot.weights), **{f"solver_{k}": v for k, v in
                                                  lot.stats.items()}}
    comp, k = composition(panel, pool, plan.features, min_group)
    return Invitation(panel, reserves, lot, fair, comp, k, explain(panel, lang))


# == edges: the study workspace (I/O) ========================================================
# Everything below reads or writes files; the functions above never do.

PEOPLE_FILE = "people.parquet"
PERSONAS_FILE = "personas.parquet"
VOLUNTEERS_FILE = "volunteers.parquet"
AVAILABILITY_FILE = "availability.parquet"
INVITATIONS_DIR = "invitations"
ADDRESS_HEADERS = ("email", "e mail", "courriel", "mail", "adresse", "adresse mail",
                   "adresse e mail", "adresse electronique", "adresse courriel", "address",
                   "email address")
YES = frozenset({"yes", "y", "oui", "o", "1", "x", "true", "vrai"})
NO = frozenset({"no", "n", "non", "0", "", "false", "faux"})


def _read_address_file(study: Any, path: Any) -> tuple[list[str], list[tuple[int, list[str]]],
                                                        int]:
    """Header, rows and the address column of a volunteers/availability file."""
    from mailstudy.intake.tables import TableFileError, read_rows
    from mailstudy.text import fold_words

    try:
        header, rows = read_rows(path)
    except TableFileError as exc:
        raise InviteError(str(exc)) from None
    normed = [fold_words(h) for h in header]
    col = next((i for i, h in enumerate(normed) if h in ADDRESS_HEADERS), None)
    if col is None:
        raise InviteError("no address column found; expected a header among: email, "
                          "courriel, mail, adresse (accents and case ignored)")
    return header, rows, col


def _pseudonymise_rows(study: Any, rows: list[tuple[int, list[str]]], col: int,
                       summary: Any) -> list[tuple[int, str, list[str]]]:
    """(line, person, cells) for rows with a valid address; addresses go to the escrow only."""
    from mailstudy.optout import load_optouts
    from mailstudy.text import in_domains, is_address

    ps = study.pseudonymiser()
    escrow = study.escrow() if study.keyholder_recipient() else None
    optouts = load_optouts(study)
    out: list[tuple[int, str, list[str]]] = []
    seen: set[str] = set()
    for line, cells in rows:
        summary.rows += 1
        raw = cells[col].strip() if col < len(cells) else ""
        addr = ps.canonical_address(raw) if raw else ""
        if not addr:
            summary.reject("empty address", line)
            continue
        if not is_address(addr):
            summary.reject("not an e-mail address", line)
            continue
        if not in_domains(addr, study.domains):
            summary.reject("address outside the organisation's domains", line)
            continue
        person = ps.person(addr)
        if person in seen:
            summary.reject("same person as an earlier line (later line kept)", line)
            out = [r for r in out if r[1] != person]
        seen.add(person)
        if escrow is not None and person not in optouts:  # an objector is never sealed
            escrow.add(person, "person", {"address": addr})
        out.append((line, person, cells))
    if escrow is not None:
        summary.sealed = escrow.flush()
    return out


def import_volunteers(study: Any, path: Any) -> Any:
    """Pseudonymise a volunteers file into ``data/volunteers.parquet`` (column person).

    Addresses are sealed in the escrow (so `reveal` can name a volunteer without mail data) and
    never written anywhere else. Returns a summary with counts and rejected line numbers.
    """
    from mailstudy.intake.directory import ImportSummary
    from mailstudy.optout import load_optouts

    _, rows, col = _read_address_file(study, path)
    summary = ImportSummary()
    good = _pseudonymise_rows(study, rows, col, summary)
    opt = load_optouts(study)
    people = [p for _, p, _ in good if p not in opt]
    summary.opted_out = len(good) - len(people)
    df = pd.DataFrame({"person": pd.Series(sorted(set(people)), dtype="string")})
    _write_parquet(study, df, VOLUNTEERS_FILE, "volunteers")
    summary.imported = len(df)
    return summary


def import_availability(study: Any, path: Any, sessions: Sequence[str] | None = None) -> Any:
    """Pseudonymise an availability file: person + one bool column per session id.

    Session ids come from ``[[workshop.sessions]]`` (or ``sessions``); without them every
    column but the address is a session. Answers: yes/no, oui/non, 1/0, x/empty.
    """
    from mailstudy.intake.directory import ImportSummary
    from mailstudy.optout import load_optouts
    from mailstudy.text import fold_words

    header, rows, col = _read_address_file(study, path)
    if sessions is None:
        sessions = [str(s["id"]) for s in study.section("workshop").get("sessions", [])]
    normed = [fold_words(h) for h in header]
    if sessions:
        idx = {}
        for sid in sessions:
            if fold_words(sid) not in normed:
                raise InviteError(f"no column for session {sid!r} among the file's "
                                  f"{len(header) - 1} session columns")
            idx[sid] = normed.index(fold_words(sid))
    else:
        idx = {h.strip(): i for i, h in enumerate(header) if i != col and h.strip()}
    summary = ImportSummary()
    good = _pseudonymise_rows(study, rows, col, summary)
    opt = load_optouts(study)
    recs: list[dict[str, Any]] = []
    for line, person, cells in good:
        if person in opt:
            summary.opted_out += 1
            continue
        rec: dict[str, Any] = {"person": person}
        bad = False
        for sid, i in idx.items():
            ans = _fold(cells[i]) if i < len(cells) else ""
            if ans in YES:
                rec[sid] = True
            elif ans in NO:
                rec[sid] = False
            else:  # the answer is not quoted: a free-text cell may hold anything
                summary.reject(f"session {sid}: answer not understood (yes/no, oui/non, "
                               "1/0, x)", line)
                bad = True
                break
        if not bad:
            recs.append(rec)
    df = pd.DataFrame(recs, columns=["person", *idx])
    df["person"] = df["person"].astype("string")
    for sid in idx:
        df[sid] = df[sid].astype(bool)
    _write_parquet(study, df, AVAILABILITY_FILE, "availability")
    summary.imported = len(df)
    return summary


def _write_parquet(study: Any, df: pd.DataFrame, name: str, table: str) -> None:
    import pyarrow as pa

    from mailstudy import schema
    from mailstudy.store import atomic_write_table

    schema.check(df, table)
    atomic_write_table(pa.Table.from_pandas(df, preserve_index=False), study.data / name)


def _read_optional(study: Any, name: str) -> pd.DataFrame | None:
    p = study.data / name
    return pd.read_parquet(p) if p.exists() else None


def plan_from_config(ws: Mapping[str, Any], population: pd.DataFrame, size: int,
                     features: Sequence[str]) -> Plan:
    """Plan from ``[workshop]``: quota_margin, quotas (feature -> value -> [min, max]), seats,
    one_per_service."""
    quotas = derive_quotas(population, size, features, int(ws.get("quota_margin", 1)),
                           ws.get("quotas"))
    try:
        seats = dict(DEFAULT_SEATS) | {str(k): int(v) for k, v in ws.get("seats", {}).items()}
    except (TypeError, ValueError):
        raise InviteError("[workshop.seats] values must be whole numbers of seats") from None
    unknown = [f for f in seats if f not in FAMILIES]
    if unknown:
        raise InviteError(f"[workshop.seats]: unknown role famil(y/ies) {', '.join(unknown)}; "
                          f"known: {', '.join(FAMILIES)}")
    return Plan(size, quotas, seats, bool(ws.get("one_per_service", True)))


def load_pool(study: Any) -> tuple[pd.DataFrame, list[str], list[str]]:
    """The pool from the study's tables; returns (pool, quota features, notes for the user)."""
    from mailstudy.optout import load_optouts

    notes: list[str] = []
    people = _read_optional(study, PEOPLE_FILE)
    if people is None:
        raise InviteError("data/people.parquet is missing: run 'mailstudy profile' first")
    personas = _read_optional(study, PERSONAS_FILE)
    directory = _read_optional(study, "directory.parquet")
    ws = study.section("workshop")
    vol = _read_optional(study, VOLUNTEERS_FILE)
    if vol is None and ws.get("volunteers_file") and study.has_key():
        import_volunteers(study, study.root / ws["volunteers_file"])
        vol = _read_optional(study, VOLUNTEERS_FILE)
    av = _read_optional(study, AVAILABILITY_FILE)
    if av is None and ws.get("availability_file") and study.has_key():
        import_availability(study, study.root / ws["availability_file"])
        av = _read_optional(study, AVAILABILITY_FILE)
    sessions = [str(s["id"]) for s in ws.get("sessions", [])] or None
    vocab = {f: tuple(ws.get("roles", {}).get(f, terms))
             for f, terms in DEFAULT_ROLE_VOCABULARY.items()}
    pool = build_pool(people, personas, directory,
                      vol["person"].tolist() if vol is not None else (),
                      load_optouts(study), av, sessions, vocab)
    features = [str(f) for f in ws.get("quota_features", DEFAULT_FEATURES)]
    if personas is None and "persona" in features:
        features.remove("persona")
        notes.append("no personas yet (data/personas.parquet): no quota on persona")
    if av is None:
        notes.append("no availability file: everyone counts as available")
    return pool, features, notes


def run_invite(study: Any, size: int | None = None, seed: int | None = None,
               lang: str | None = None, time_limit: float | None = None
               ) -> tuple[Invitation, list[str]]:
    """`mailstudy invite`: draw the panel and write ``out/invitations/`` (pseudonymised)."""
    ws = study.section("workshop")
    size = int(size if size is not None else ws.get("panel_size", 20))
    seed = int(seed if seed is not None else ws.get("seed", 1))
    lang = lang or study.section("report").get("lang", "fr")
    if time_limit is None:
        time_limit = float(ws.get("time_limit", 300))
    pool, features, notes = load_pool(study)
    if pool.empty:
        raise InviteError("nobody to draw from: run 'mailstudy profile' (and 'personas') first, "
                          "or import volunteers")
    plan = plan_from_config(ws, pool, size, features)
    inv = invite(pool, plan, seed, min_group=study.min_group_size,
                 reserves_per_seat=int(ws.get("reserves_per_seat", 3)), lang=lang,
                 time_limit=time_limit)
    if not inv.lottery.stats["optimal"]:
        notes.append(f"time limit reached: minimum probability "
                     f"{inv.fairness['min_probability']:.4f}, proven upper bound "
                     f"{inv.lottery.stats['upper_bound']:.4f}")
    write_invitation(study, inv)
    return inv, notes


def write_invitation(study: Any, inv: Invitation) -> Any:
    from mailstudy import schema

    schema.check(inv.panel, "panel")
    schema.check(inv.reserves, "reserves")
    out = study.out / INVITATIONS_DIR
    out.mkdir(parents=True, exist_ok=True)
    inv.panel[PANEL_COLUMNS].to_csv(out / "panel.csv", index=False)
    inv.reserves.to_csv(out / "reserves.csv", index=False)
    inv.composition.to_csv(out / "composition.csv", index=False)
    inv.why.to_csv(out / "why.csv", index=False)
    (out / "why.txt").write_text("".join(f"{r.person} ({r.seat}): {r.why}\n"
                                         for r in inv.why.itertuples()), encoding="utf-8")
    fair = dict(inv.fairness)
    fair["suppressed_cells"] = inv.suppressed
    fair["panel_sha256"] = panel_hash(inv.panel)
    fair["reserves_sha256"] = reserves_hash(inv.reserves)
    (out / "fairness.json").write_text(json.dumps(fair, indent=2, ensure_ascii=False),
                                       encoding="utf-8")
    # The distribution itself (pseudonyms by type) stays in data/: it is what an auditor
    # re-hashes to check fairness.json, and it lists the whole pool.
    audit = study.data / INVITATIONS_DIR
    audit.mkdir(parents=True, exist_ok=True)
    lot = inv.lottery
    # "Why was I not invited?": every eligible person's probability, answered from data/.
    lot.person_probability.rename_axis("person").reset_index().to_csv(
        audit / "probabilities.csv", index=False)
    (audit / "distribution.json").write_text(json.dumps({
        "sha256": lot.digest, "seed": fair["seed"], "types": lot.types.members,
        "panels": [{"counts": [int(x) for x in n], "seats": [[t, f, k] for (t, f), k in
                                                            y.items()], "probability": w}
                   for (n, y), w in zip(lot.compositions, lot.weights, strict=True)],
    }, ensure_ascii=False), encoding="utf-8")
    return out
