"""Group profiles safe to publish: statistics by level, direction, habit, level x habit and
working pattern, with small cells hidden and their complements too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import pandas as pd

from anonymise import disclosure
from mailstudy import schema
from mailstudy.profile.config import WORK_PATTERNS

NO_HABIT = "aucune"
GROUPINGS = ("level", "direction", "habit", "level_habit", "work_pattern")
TOTAL_LABEL = "Total"


def _stats(df: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """n_people and, per feature, median, quartiles, IQR and the count of values."""
    feats = schema.FEATURE_NAMES
    if by:
        grp = df.groupby(by, sort=False, observed=True)
        out = grp["person"].nunique().rename("n_people").to_frame()
        q1, med, q3 = (grp[feats].quantile(q) for q in (0.25, 0.5, 0.75))
        cnt = grp[feats].count()
    else:
        out = pd.DataFrame({"n_people": [df["person"].nunique()]})
        q1, med, q3 = (df[feats].quantile(q).to_frame().T for q in (0.25, 0.5, 0.75))
        cnt = df[feats].count().to_frame().T
    cols = {}
    for f in feats:
        cols[f"{f}_median"] = med[f].to_numpy(dtype=float)
        cols[f"{f}_q1"] = q1[f].to_numpy(dtype=float)
        cols[f"{f}_q3"] = q3[f].to_numpy(dtype=float)
        cols[f"{f}_iqr"] = cols[f"{f}_q3"] - cols[f"{f}_q1"]
        cols[f"{f}_n"] = cnt[f].to_numpy(dtype=float)
    out = pd.concat([out, pd.DataFrame(cols, index=out.index)], axis=1)
    return out.reset_index(drop=not by)


def _linked(people: pd.DataFrame, dims: list[str]) -> pd.DataFrame:
    """Cells of every combination of ``dims`` and their margins (TOTAL)."""
    frames = []
    for subset in range(2 ** len(dims)):
        keep = [d for i, d in enumerate(dims) if not subset & (1 << i)]
        cells = _stats(people, keep)
        for d in dims:
            if d not in keep:
                cells[d] = disclosure.TOTAL
        frames.append(cells)
    return pd.concat(frames, ignore_index=True)


@dataclass
class GroupProfiles:
    tables: dict[str, pd.DataFrame]
    suppression: pd.DataFrame  # one row per linked structure: cells, primary, secondary...
    #: each table's true n_people, hidden rows included (for the release ledger only)
    true_counts: dict[str, pd.Series] = field(default_factory=dict)

    @property
    def n_suppressed(self) -> int:
        return int(self.suppression[["primary", "secondary"]].to_numpy().sum())


def _complete(cells: pd.DataFrame, dims: list[str],
              values: Mapping[str, Iterable[str]]) -> pd.DataFrame:
    """Every combination of ``values`` as a row, empty ones with n_people 0.

    Why: listing only the non-empty combinations, even hidden, would tell that a one-person
    group (the DGS, say) has a given habit. With every combination listed, a hidden cell may
    as well be empty.
    """
    grid = pd.MultiIndex.from_product([list(dict.fromkeys(values[d])) for d in dims],
                                      names=dims).to_frame(index=False)
    as_obj = {d: object for d in dims}
    out = grid.astype(as_obj).merge(cells.astype(as_obj), on=dims, how="left")
    out["n_people"] = out["n_people"].fillna(0).astype("int64")
    ncols = [c for c in out.columns if c.endswith("_n")]
    out[ncols] = out[ncols].fillna(0)
    return out


def _finish_table(df: pd.DataFrame, dims: list[str],
                  rank: Mapping[str, int]) -> pd.DataFrame:
    """A released table for publication: TOTAL labelled, key columns first, levels in rank
    order (unknown last, the total after it)."""
    df = df.copy()
    for d in dims:
        df[d] = df[d].replace(disclosure.TOTAL, TOTAL_LABEL)
    order = [c for c in [*dims, "n_people", "suppressed"]]
    df = df[order + [c for c in df.columns if c not in order]]
    if "level" in dims:
        df["_r"] = df["level"].map(lambda x: rank.get(x, 99) if x != TOTAL_LABEL else 999)
        df.loc[df["_r"] < 0, "_r"] = 98
        df = df.sort_values(["_r", *[d for d in dims if d != "level"]]).drop(columns="_r")
    else:
        df["_t"] = df[dims[0]] == TOTAL_LABEL
        df = df.sort_values(["_t", dims[0]]).drop(columns="_t")
    return df.reset_index(drop=True)


_STATS = ("median", "q1", "q3", "iqr")


def _structure_cells(name: str, df: pd.DataFrame, dims: list[str], people: pd.DataFrame,
                     values: Mapping[str, list[str]]) -> pd.DataFrame:
    """The cells of one linked structure: every combination of its dims and their margins.

    level x habit: the level margin counts people, not (person, habit) rows; habit and
    working-pattern cells list every label, empty or not (see ``_complete``)."""
    if name == "level_habit":
        return pd.concat([
            _complete(_stats(df, dims), dims, values),
            _stats(people, ["level"]).assign(habit=disclosure.TOTAL),
            _complete(_stats(df, ["habit"]), ["habit"], values).assign(level=disclosure.TOTAL),
            _stats(people, []).assign(level=disclosure.TOTAL, habit=disclosure.TOTAL),
        ], ignore_index=True)
    if name == "work_pattern":
        return pd.concat([_complete(_stats(df, dims), dims, values),
                          _stats(df, []).assign(work_pattern=disclosure.TOTAL)],
                         ignore_index=True)
    return _linked(df, dims)


def _suppress(name: str, cells: pd.DataFrame, dims: list[str], min_group_size: int
              ) -> tuple[pd.DataFrame, dict[str, object]]:
    """Small cells and their complements hidden, statistics on too few values blanked; the
    true counts kept aside in ``_n_true`` for the release ledger; and the summary row."""
    stat_n = {f"{f}_{s}": f"{f}_n" for f in schema.FEATURE_NAMES for s in _STATS}
    res = disclosure.suppress_linked(cells, dims, "n_people", min_group_size)
    cells = cells.assign(_n_true=cells["n_people"])
    cells = disclosure.apply_suppression(cells, res, ["n_people", *stat_n])
    cells, blanked = disclosure.mask_small_stats(cells, stat_n, min_group_size)
    cells = cells.drop(columns=list(set(stat_n.values())))
    return cells, {"structure": name, "cells": len(cells), "primary": res.n_primary,
                   "secondary": res.n_secondary, "blanked_statistics": blanked}


def _split_tables(released: Mapping[str, pd.DataFrame], rank: Mapping[str, int]
                  ) -> dict[str, pd.DataFrame]:
    """The published tables: level x habit split into its margins (level, habit) and its
    inner cells, then direction and working pattern."""
    lh = released["level_habit"]
    level_total, habit_total = lh["level"] == disclosure.TOTAL, lh["habit"] == disclosure.TOTAL
    return {
        "level": _finish_table(lh[habit_total].drop(columns="habit"), ["level"], rank),
        "habit": _finish_table(lh[level_total].drop(columns="level"), ["habit"], rank),
        "level_habit": _finish_table(lh[~level_total & ~habit_total], ["level", "habit"], rank),
        "direction": _finish_table(released["direction"], ["direction"], rank),
        "work_pattern": _finish_table(released["work_pattern"], ["work_pattern"], rank),
    }


def group_profiles(people: pd.DataFrame, min_group_size: int,
                   habit_labels: Iterable[str] = ()) -> GroupProfiles:
    """Group tables by level, direction, habit, level x habit and working pattern.

    Each table has ``n_people`` and median, quartiles and IQR of every feature. Cells under
    ``min_group_size`` people are hidden with their complements (level x habit is linked to
    the level and habit tables as its margins, every table to the grand total), and any
    statistic resting on fewer than ``min_group_size`` values is blanked. Habit and
    working-pattern tables list every label (``habit_labels``, plus "aucune"), empty or not.
    """
    people = people.copy()
    people[schema.FEATURE_NAMES] = people[schema.FEATURE_NAMES].astype("float64")
    people["habit"] = [list(h) if len(h) else [NO_HABIT] for h in people["habits"]]
    exploded = people.explode("habit")
    values = {"level": list(people["level"].unique()),
              "habit": [*habit_labels, *sorted(set(exploded["habit"].dropna())), NO_HABIT],
              "work_pattern": list(WORK_PATTERNS)}
    structures = {"level_habit": (exploded, ["level", "habit"]),
                  "direction": (people, ["direction"]),
                  "work_pattern": (people, ["work_pattern"])}
    released: dict[str, pd.DataFrame] = {}
    summary = []
    for name, (df, dims) in structures.items():
        cells = _structure_cells(name, df, dims, people, values)
        released[name], row = _suppress(name, cells, dims, min_group_size)
        summary.append(row)
    rank = people.groupby("level")["level_rank"].first().to_dict()
    tables = _split_tables(released, rank)
    true_counts = {name: t.pop("_n_true").astype("int64") for name, t in tables.items()}
    return GroupProfiles(tables, pd.DataFrame(summary), true_counts)
