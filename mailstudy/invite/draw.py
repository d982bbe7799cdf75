"""Drawing one panel from a lottery with a recorded seed, and its ranked reserves."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from mailstudy.invite.distribution import Lottery
from mailstudy.invite.plan import FAMILIES, SEP, USAGERS, Plan, Quota
from mailstudy.text import UNKNOWN

PANEL_COLUMNS = ["person", "seat", "role", "strata", "selection_probability"]
#: What the published panel files carry: per-invitee strata would name the persona of
#: people who are alone in their (level, direction), whom the organigram names.
PUBLISHED_COLUMNS = ["person", "seat", "role"]


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


def draw_panel(lottery: Lottery, pool: pd.DataFrame, seed: int,
               rows: Sequence[tuple[str, str]] | None = None) -> pd.DataFrame:
    """Draw one panel with a seeded RNG, or lay out ``rows`` (person, role) already drawn
    (the panel number drawn from the published list).

    Columns: person, seat (S01...), role (the seat's family, or 'usagers'), strata,
    selection_probability, plus the pool's attribute columns for later steps.
    """
    if rows is None:
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
