"""Generalising the quasi-identifiers of a per-person table until it is k-anonymous.

Why: a colleague knows the organigram. The only DGS, the head of a three-person service, the
one "arbitre" of a direction are unique on (level, direction, service, roles), so a per-person
row that carries those values is that person's row. Before a per-person table leaves the
operator's zone, every combination of its quasi-identifiers must describe at least ``k``
people (k-anonymity, k = the study's ``min_group_size``).

The hierarchies, coarsest last (each step is applied to the whole column):

- ``service``: the service -> services under ``k`` people become "autres services" -> no
  service at all ("toutes").
- ``direction``: the direction -> directions under ``k`` people become "autres directions" ->
  "toutes".
- ``level``: the ladder's rung -> three bands of the ladder ("encadrement supérieur",
  "encadrement intermédiaire", "agents"; by thirds of a custom ladder) -> "tous niveaux".
  ``level_rank`` follows (band index, then 0); "non renseigné" stays as it is until the last
  step.
- ``roles``: rare roles (held by fewer than ``k`` people) become "autre rôle" -> any role
  becomes "rôle" -> no roles.
- ``work_pattern``: classes under ``k`` people become "autre" -> "toutes".

The search is Sweeney's Datafly: while some combination holds fewer than ``k`` people, the
quasi-identifier with the most distinct values among those people is generalised one step.
Rows are suppressed only if the whole table is smaller than ``k``. Features are never
touched, so personas computed on the generalised table are those of the full one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mailstudy.text import UNKNOWN

QUASI_IDENTIFIERS = ("level", "direction", "service", "roles", "work_pattern")
OTHER_SERVICES = "autres services"
OTHER_DIRECTIONS = "autres directions"
ALL = "toutes"
ALL_LEVELS = "tous niveaux"
BANDS = ("encadrement supérieur", "encadrement intermédiaire", "agents")
OTHER_ROLE = "autre rôle"
ANY_ROLE = "rôle"
OTHER_PATTERN = "autre"


@dataclass
class Generalisation:
    """The generalised table and what was done to it (for the package's ``analyst.json``)."""

    table: pd.DataFrame
    k: int
    steps: dict[str, int] = field(default_factory=dict)  # column -> steps applied
    suppressed_rows: int = 0
    smallest_group: int = 0

    def describe(self) -> dict[str, object]:
        return {"k": self.k, "quasi_identifiers": list(QUASI_IDENTIFIERS),
                "steps": dict(self.steps), "suppressed_rows": self.suppressed_rows,
                "smallest_group": self.smallest_group, "rows": int(len(self.table))}


def roles_key(roles: object) -> str:
    """A person's roles as one comparable string (sorted, ``|``-joined)."""
    if roles is None or (isinstance(roles, float) and np.isnan(roles)):
        return ""
    return "|".join(sorted(str(r) for r in roles))


def group_sizes(df: pd.DataFrame) -> pd.Series:
    """For each row, how many rows share its quasi-identifiers."""
    keys = df[list(QUASI_IDENTIFIERS)].copy()
    keys["roles"] = keys["roles"].map(roles_key)
    keys = keys.fillna(UNKNOWN).astype(str)
    return keys.groupby(list(QUASI_IDENTIFIERS), sort=False)["level"].transform("size")


def _rare_to(df: pd.DataFrame, col: str, k: int, other: str) -> pd.Series:
    counts = df[col].map(df[col].value_counts())
    return df[col].where(counts >= k, other)


def _service_step(df: pd.DataFrame, step: int, k: int) -> pd.DataFrame:
    out = df.copy()
    if step == 1:
        counts = out.groupby(["direction", "service"], dropna=False)["service"].transform("size")
        out["service"] = out["service"].where(counts >= k, OTHER_SERVICES)
    else:
        out["service"] = ALL
    return out


def _direction_step(df: pd.DataFrame, step: int, k: int) -> pd.DataFrame:
    out = df.copy()
    out["direction"] = _rare_to(out, "direction", k, OTHER_DIRECTIONS) if step == 1 else ALL
    return out


def _band(rank: int, n_levels: int) -> int:
    return min(2, rank * 3 // max(n_levels, 1))


def _level_step(df: pd.DataFrame, step: int, k: int) -> pd.DataFrame:
    out = df.copy()
    known = out["level_rank"] >= 0
    if step == 1:
        n_levels = int(out.loc[known, "level_rank"].max()) + 1 if known.any() else 1
        bands = out.loc[known, "level_rank"].map(lambda r: _band(int(r), n_levels))
        out.loc[known, "level"] = bands.map(lambda b: BANDS[b])
        out.loc[known, "level_rank"] = bands.astype("int16")
    else:
        out["level"] = ALL_LEVELS
        out["level_rank"] = 0
    out["level_rank"] = out["level_rank"].astype("int16")
    return out


def _roles_step(df: pd.DataFrame, step: int, k: int) -> pd.DataFrame:
    out = df.copy()
    roles = out["roles"].map(lambda r: [] if r is None or isinstance(r, float) else list(r))
    if step == 1:
        held = Counter(r for rs in roles for r in set(rs))
        out["roles"] = roles.map(lambda rs: sorted({r if held[r] >= k else OTHER_ROLE
                                                    for r in rs}))
    elif step == 2:
        out["roles"] = roles.map(lambda rs: [ANY_ROLE] if rs else [])
    else:
        out["roles"] = [[] for _ in range(len(out))]
    return out


def _pattern_step(df: pd.DataFrame, step: int, k: int) -> pd.DataFrame:
    out = df.copy()
    out["work_pattern"] = (_rare_to(out, "work_pattern", k, OTHER_PATTERN) if step == 1
                           else ALL)
    return out


Step = Callable[[pd.DataFrame, int, int], pd.DataFrame]
HIERARCHY: dict[str, tuple[Step, int]] = {  # column -> (step function, number of steps)
    "service": (_service_step, 2), "direction": (_direction_step, 2),
    "level": (_level_step, 2), "roles": (_roles_step, 3), "work_pattern": (_pattern_step, 2),
}


def _distinct_among(df: pd.DataFrame, rows: pd.Series, col: str) -> int:
    values = df.loc[rows, col]
    return values.map(roles_key).nunique() if col == "roles" else values.nunique(dropna=False)


def generalise(people: pd.DataFrame, k: int) -> Generalisation:
    """Generalise ``people``'s quasi-identifiers until every combination holds >= ``k`` rows
    (see the module docstring); pure."""
    df = people.copy()
    df["service"] = df["service"].fillna(UNKNOWN)
    df["direction"] = df["direction"].fillna(UNKNOWN)
    df["work_pattern"] = df["work_pattern"].fillna(UNKNOWN)
    steps = dict.fromkeys(HIERARCHY, 0)
    while len(df):
        small = group_sizes(df) < k
        if not small.any():
            break
        open_cols = [c for c, (_, n) in HIERARCHY.items() if steps[c] < n]
        if not open_cols:
            break
        col = max(open_cols, key=lambda c: (_distinct_among(df, small, c), -steps[c]))
        steps[col] += 1
        df = HIERARCHY[col][0](df, steps[col], k)
    small = group_sizes(df) < k if len(df) else pd.Series(dtype=bool)
    suppressed = int(small.sum())
    df = df[~small].reset_index(drop=True) if suppressed else df.reset_index(drop=True)
    smallest = int(group_sizes(df).min()) if len(df) else 0
    return Generalisation(df, k, steps, suppressed, smallest)
