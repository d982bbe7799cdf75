"""Who may be drawn (``build_pool``) and how they group into types (``make_types``).

Why types: people with the same (persona, level, direction, role families, service) are
interchangeable for every constraint, so any optimal distribution can be symmetrised within a
type without lowering the minimum. We therefore optimise over panel *compositions* (how many of
each type) instead of over people: the master LP has one row per type and the pricing ILP one
integer per type, which is what makes 4,000 people cheap. The (direction, service) group is
part of the type only when the one-invitee-per-service rule is on (it is the one constraint
that tells people apart).
"""

from __future__ import annotations

import math
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mailstudy.invite.plan import (
    COUNT,
    GROUP,
    NOT_PROFILED,
    SEP,
    InviteError,
    Plan,
    role_families,
)
from mailstudy.text import UNKNOWN


def _as_list(v: Any) -> list[str]:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return []
    if isinstance(v, str):
        return [v]
    return [str(x) for x in v]


def build_pool(people: pd.DataFrame, personas: pd.DataFrame | None = None,
               directory: pd.DataFrame | None = None, volunteers: Iterable[str] = (),
               optouts: Container[str] = (), availability: pd.DataFrame | None = None,
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
            raise InviteError("availability has no column for session(s) {missing}",
                              missing=", ".join(missing))
        av = availability.drop_duplicates("person").set_index("person")[sess]
        ok = av.fillna(False).astype(bool).all(axis=1) if sess else pd.Series(True, av.index)
        base["available"] = base["person"].map(ok).fillna(False).astype(bool)
    else:
        base["available"] = True
    return base[["person", "persona", "level", "direction", "service", "families",
                 "volunteer", "available"]]


def complete_pool(pool: pd.DataFrame, plan: Plan) -> pd.DataFrame:
    """The pool with what the engine reads filled in, so any table of people works.

    A plain pool (an id and feature columns, as practitioners hold) has no ``available``,
    ``volunteer`` or ``families`` column: everyone is available, nobody holds a role. Role
    seats on a pool without ``families`` and quotas on a missing feature are errors that name
    the plan's parameter, never a KeyError.
    """
    if "person" not in pool:
        raise InviteError("the pool has no 'person' column (one pseudonym or id per person)")
    out = pool.copy()
    if out["person"].duplicated().any():
        raise InviteError("the pool lists some people twice (duplicate ids in 'person')")
    out["person"] = out["person"].astype(str)
    missing = [f for f in plan.features if f not in out]
    if missing:
        raise InviteError("plan.quotas name feature(s) the pool lacks: {missing}",
                          missing=", ".join(missing))
    if "available" not in out:
        out["available"] = True
    if "volunteer" not in out:
        out["volunteer"] = False
    if "families" not in out:
        if any(n > 0 for n in plan.seats.values()):
            raise InviteError("plan.seats asks for role seats but the pool has no 'families' "
                              "column: set plan.seats to {} or give each person's families")
        out["families"] = ""
    out["families"] = out["families"].fillna("").astype(str)
    for f in plan.features:
        out[f] = out[f].astype(object).where(out[f].notna(), UNKNOWN).astype(str)
    if plan.one_per_service:
        absent = [c for c in plan.group_by if c not in out]
        if absent:
            raise InviteError("plan.one_per_service needs column(s) {absent} "
                              "in the pool (plan.group_by)", absent=", ".join(absent))
    return out


def group_key(pool: pd.DataFrame, plan: Plan) -> pd.Series:
    """One string per person naming their (direction, service) group; UNKNOWN when the last
    column (the service) is unknown, which the one-per-group rule does not constrain."""
    cols = [pool[c].astype(str) for c in plan.group_by]
    key = cols[0].copy()
    for c in cols[1:]:
        key = key + SEP + c
    return key.where(cols[-1] != UNKNOWN, UNKNOWN)


@dataclass
class Types:
    """People grouped by everything the constraints can see."""

    table: pd.DataFrame  # one row per type: key columns, count
    members: list[list[str]]  # sorted pseudonyms of each type
    keys: list[str]


    @property
    def counts(self) -> np.ndarray:
        return self.table[COUNT].to_numpy()


def make_types(eligible: pd.DataFrame, plan: Plan) -> Types:
    """Group the eligible people by what the plan's constraints can see. The table's count
    is ``COUNT`` and the service group ``GROUP``: a feature may be called ``count``."""
    keys = list(plan.features)
    df = complete_pool(eligible, plan).sort_values("person")
    if any(n > 0 for n in plan.seats.values()):
        keys.append("families")
    if plan.one_per_service:
        df[GROUP] = group_key(df, plan)
        keys.append(GROUP)
    if not keys:  # no constraint at all: everyone is one type
        df[GROUP] = ""
        keys.append(GROUP)
    g = df.groupby(keys, sort=True, dropna=False)["person"]
    members = [list(v) for _, v in g]
    table = g.size().rename(COUNT).reset_index()
    return Types(table, members, keys)
