"""Small-cell suppression for released tables (statistical disclosure control).

Why: a table of group statistics re-identifies people when a group is small (primary rule:
every released cell covers at least ``min_size`` people), and also when a hidden cell can be
recovered by subtraction: a row of a table plus its published total, or a cross table plus
the one-way tables that are its margins. sdcTable calls the second step *secondary*
(complementary) suppression; here it is the classic line heuristic: in every line (the cells
of one dimension for fixed values of the others, together with their margin) either no cell
or at least two cells are hidden, so no single hidden count is the difference of shown ones.

Tables are given in one "linked" frame: one row per cell, one column per dimension, the value
:data:`TOTAL` in a dimension marking a margin over it. A 2-way table with its two 1-way tables
and the grand total is thus one frame, so suppression stays consistent across all of them.
This module knows nothing about what is counted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Dimension value that marks a margin (the total over that dimension).
TOTAL = "__total__"
PRIMARY = "primary"
SECONDARY = "secondary"


@dataclass
class SuppressionResult:
    """Per-cell decision: ``reason`` is None (released), "primary" or "secondary"."""

    reason: pd.Series

    @property
    def suppressed(self) -> pd.Series:
        return self.reason.notna()

    @property
    def n_primary(self) -> int:
        return int((self.reason == PRIMARY).sum())

    @property
    def n_secondary(self) -> int:
        return int((self.reason == SECONDARY).sum())


def suppress_linked(cells: pd.DataFrame, dims: Sequence[str], count: str,
                    min_size: int) -> SuppressionResult:
    """Decide which cells of a linked table (cells and margins) to hide.

    Primary: ``count < min_size``. Secondary: repeated until stable, any line holding exactly
    one hidden cell gets its smallest shown cell hidden too (margins included, since a margin
    is recoverable from its cells just as well). Cells with a count of 0 are never used as
    complements: hiding a known zero protects nothing.
    """
    if min_size < 1:
        raise ValueError("min_size must be at least 1")
    dims = list(dims)
    missing = [c for c in [*dims, count] if c not in cells.columns]
    if missing:
        raise ValueError(f"cells lack column(s): {', '.join(missing)}")
    n = len(cells)
    counts = cells[count].to_numpy(dtype=float)
    hidden = counts < min_size
    reason = np.where(hidden, PRIMARY, None).astype(object)
    # Lines: for each dimension d, cells sharing their values on the other dimensions.
    lines: list[np.ndarray] = []
    pos = np.arange(n)
    keys = cells[dims].astype(str).reset_index(drop=True)
    for d in dims:
        others = [o for o in dims if o != d]
        groups = (keys.groupby(others, sort=False).indices if others
                  else {(): pos})
        for idx in groups.values():
            idx = np.asarray(idx)
            if len(idx) > 1:
                lines.append(idx)
    changed = True
    while changed:
        changed = False
        for idx in lines:
            h = hidden[idx]
            if h.sum() != 1:
                continue
            cand = idx[(~h) & (counts[idx] > 0)]
            if len(cand) == 0:
                continue
            pick = cand[np.argmin(counts[cand])]
            hidden[pick] = True
            reason[pick] = SECONDARY
            changed = True
    return SuppressionResult(pd.Series(reason, index=cells.index, name="suppressed"))


def apply_suppression(table: pd.DataFrame, result: SuppressionResult,
                      value_cols: Sequence[str]) -> pd.DataFrame:
    """Blank the values of hidden cells and add a ``suppressed`` column (None/primary/...)."""
    out = table.copy()
    mask = result.suppressed.reindex(out.index).fillna(False).to_numpy(dtype=bool)
    for c in value_cols:
        out[c] = out[c].astype("float64")
        out.loc[mask, c] = np.nan
    out["suppressed"] = result.reason.reindex(out.index)
    return out


def mask_small_stats(table: pd.DataFrame, stat_counts: Mapping[str, str],
                     min_size: int) -> tuple[pd.DataFrame, int]:
    """Blank each statistic computed over fewer than ``min_size`` contributors.

    A group of 12 people whose median of some value rests on 2 of them would show those two
    people's values; ``stat_counts`` maps each statistic column to the column counting its
    contributors. Returns the table and how many values were blanked.
    """
    out = table.copy()
    blanked = 0
    for stat, n_col in stat_counts.items():
        small = out[n_col].fillna(0).to_numpy() < min_size
        was = out[stat].notna().to_numpy()
        blanked += int((small & was).sum())
        out[stat] = out[stat].astype("float64")
        out.loc[small, stat] = np.nan
    return out, blanked
