"""Holding back what a new release would reveal by difference with an earlier one.

Why: two releases around one change single a person out. The DGS objects between two reports:
``by_habit`` hors_horaires 28 -> 27, mobile 32 -> 31, and the total 119 -> 118, which gives
exactly her labels. Blanking the cells that changed would publish the same set of labels (the
pattern of blanks is the leak), so a held-back cell shows **the figures of the earlier
release** instead: the two releases then agree on it, as they would had nothing changed.

Rules, against every earlier release of the campaign (``k`` = ``min_group_size``):

1. a table whose population (the people it describes) changed by 1 to k-1 people is held
   back whole: the newest earlier version is published again, row for row;
2. otherwise each row whose count differs by 1 to k-1 from an earlier release's (a group
   that appears, vanishes or is newly hidden included) is replaced by its newest earlier
   version;
3. counts equal, or apart by k or more, are published as computed.

Pure functions over DataFrames; the ledger (``ledger.py``) keeps the earlier releases.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

HIDDEN = "suppressed"


@dataclass(frozen=True)
class Earlier:
    """One earlier release of a table, as it was published."""

    release: int
    population: int | tuple[int, ...]
    table: pd.DataFrame


def _small_change(a: float | None, b: float | None, k: int) -> bool:
    a = 0.0 if a is None or (isinstance(a, float) and np.isnan(a)) else float(a)
    b = 0.0 if b is None or (isinstance(b, float) and np.isnan(b)) else float(b)
    return 1 <= abs(a - b) <= k - 1


def _keyed(table: pd.DataFrame, dims: list[str]) -> dict[tuple, pd.Series]:
    return {tuple(str(row[d]) for d in dims): row for _, row in table.iterrows()}


def _visible_count(row: pd.Series | None, count: str) -> float | None:
    if row is None or bool(row.get(HIDDEN, False)):
        return None
    return row[count]


def _populations(population: int | tuple[int, ...] | list[int]) -> tuple[int, ...]:
    return tuple(int(p) for p in population) if isinstance(population, tuple | list) \
        else (int(population),)


def population_moved(population: int | tuple[int, ...], earlier: list[Earlier], k: int
                     ) -> bool:
    """Rule 1: the table's population moved by 1 to k-1 people since an earlier release.
    A table resting on several populations (a comparison: the first campaign, the second,
    the people in both) gives them all, in the same order each time: any one moving counts."""
    now = _populations(population)
    return any(_small_change(a, b, k) for e in earlier
               for a, b in zip(now, _populations(e.population), strict=False))


def _visible(row: pd.Series | None) -> bool:
    return row is not None and not bool(row.get(HIDDEN, False))


def hold_back(table: pd.DataFrame, true_counts: pd.Series | pd.DataFrame,
              population: int | tuple[int, ...], *, dims: list[str], count: str | list[str],
              earlier: list[Earlier], k: int) -> tuple[pd.DataFrame, int]:
    """The table to publish and how many of its rows were held back.

    ``table`` is the new table as it would be published (hidden rows flagged in
    ``suppressed``, their figures blank); ``true_counts`` gives every row's count, hidden or
    not (aligned on ``table``'s index); ``earlier`` lists the earlier releases, oldest first.
    A table publishing several counts per row (a comparison's ``n_before`` and ``n_after``)
    names them all in ``count`` and gives ``true_counts`` as a frame of those columns: a
    count left unchecked would show a change of one person the others hide.
    """
    if not earlier:
        return table, 0
    newest = earlier[-1]
    if population_moved(population, earlier, k):
        return newest.table.copy(), max(len(newest.table), 1)
    counts = [count] if isinstance(count, str) else list(count)
    true = (true_counts.to_frame(counts[0]) if isinstance(true_counts, pd.Series)
            else true_counts[counts])
    old = [_keyed(e.table, dims) for e in earlier]
    rows, held = [], 0
    marks = {f"_true_{c}": true[c] for c in counts}
    new = _keyed(table.assign(**marks), dims)
    for key in list(new) + [key for key in old[-1] if key not in new]:
        row = new.get(key)
        now = {c: (row[f"_true_{c}"] if row is not None else 0) for c in counts}
        shown_before = [o.get(key) for o in old]
        if any(_visible(o) and c in o and _small_change(now[c], _visible_count(o, c), k)
               for o in shown_before for c in counts):
            rows.append(next(o for o in reversed(shown_before) if _visible(o)))
            held += 1
        elif row is not None:
            rows.append(row.drop(labels=list(marks)))
    out = pd.DataFrame(rows, columns=table.columns).reset_index(drop=True)
    return out, held
