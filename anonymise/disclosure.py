"""Small-cell suppression for released tables (statistical disclosure control).

Why: a table of group statistics re-identifies people when a group is small (primary rule:
every released cell covers at least ``min_size`` people), and also when a hidden cell can be
recovered by subtraction: a row of a table plus its published total, or a cross table plus
the one-way tables that are its margins. sdcTable calls the second step *secondary*
(complementary) suppression; here it is the classic line heuristic: in every line (the cells
of one dimension for fixed values of the others, together with their margin) either no cell
or at least two cells are hidden, so no single hidden count is the difference of shown ones;
then an exact check (null space of the line sums) hides more until no hidden cell is determined.

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


def _lines(cells: pd.DataFrame, dims: list[str]) -> list[tuple[np.ndarray, int | None]]:
    """Each line: positions of its cells (margin excluded) and the position of its margin."""
    keys = cells[dims].astype(str).reset_index(drop=True)
    out: list[tuple[np.ndarray, int | None]] = []
    pos = np.arange(len(cells))
    for d in dims:
        others = [o for o in dims if o != d]
        groups = keys.groupby(others, sort=False).indices if others else {(): pos}
        is_total = (keys[d] == TOTAL).to_numpy()
        for idx in groups.values():
            idx = np.asarray(idx)
            margin = idx[is_total[idx]]
            members = idx[~is_total[idx]]
            if len(members) + len(margin) > 1:
                out.append((members, int(margin[0]) if len(margin) else None))
    return out


def determined_cells(lines: list[tuple[np.ndarray, int | None]], hidden: np.ndarray,
                     tol: float = 1e-9) -> np.ndarray:
    """Hidden positions whose value follows exactly from the shown ones and the additivity
    of the lines (cells sum to their margin): those with no freedom in the null space."""
    S = np.flatnonzero(hidden)
    if len(S) == 0:
        return S
    col = {s: j for j, s in enumerate(S)}
    rows = []
    for members, margin in lines:
        if margin is None:
            continue
        r = np.zeros(len(S))
        for m in members:
            if m in col:
                r[col[m]] = 1.0
        if margin in col:
            r[col[margin]] = -1.0
        if r.any():
            rows.append(r)
    if not rows:
        return np.zeros(0, dtype=int)
    A = np.vstack(rows)
    _, sv, vt = np.linalg.svd(A)
    rank = int((sv > tol * max(1.0, sv.max())).sum())
    null = vt[rank:].T  # columns span the freedom left to the hidden cells
    if null.shape[1] == 0:
        return S
    return S[np.abs(null).max(axis=1) < 1e-7]


def suppress_linked(cells: pd.DataFrame, dims: Sequence[str], count: str,
                    min_size: int, force: Sequence[bool] | None = None) -> SuppressionResult:
    """Decide which cells of a linked table (cells and margins) to hide.

    Primary: ``count < min_size``. Secondary, until stable: (1) any line holding exactly one
    hidden cell gets its smallest shown cell hidden too (margins included: a margin is
    recoverable from its cells just as well); (2) any hidden cell still exactly determined by
    the system of line sums (a "bridge" between two hidden cycles, say) gets the smallest
    shown cell of one of its lines hidden. ``force`` marks cells hidden elsewhere in the same
    release (another file describing the same groups): they are hidden here too, as primary
    cells, so that no file shows what another hides. Cells with a count of 0 are never
    complements:
    hiding a known zero protects nothing. Bounds (counts are >= 0) are not used by (2), so an
    attacker with interval reasoning may still narrow a hidden cell to a range.
    """
    if min_size < 1:
        raise ValueError("min_size must be at least 1")
    dims = list(dims)
    missing = [c for c in [*dims, count] if c not in cells.columns]
    if missing:
        raise ValueError(f"cells lack column(s): {', '.join(missing)}")
    counts = cells[count].to_numpy(dtype=float)
    hidden = counts < min_size
    if force is not None:
        hidden |= np.asarray(force, dtype=bool)
    reason = np.where(hidden, PRIMARY, None).astype(object)
    lines = _lines(cells, dims)

    def hide_smallest(idx: np.ndarray) -> bool:
        cand = idx[(~hidden[idx]) & (counts[idx] > 0)]
        if len(cand) == 0:
            return False
        pick = cand[np.argmin(counts[cand])]
        hidden[pick] = True
        reason[pick] = SECONDARY
        return True

    full = [np.append(m, [g] if g is not None else []).astype(int) for m, g in lines]
    while True:
        changed = True
        while changed:
            changed = False
            for idx in full:
                if hidden[idx].sum() == 1 and hide_smallest(idx):
                    changed = True
        det = determined_cells(lines, hidden)
        fixed = False
        for s in det:
            for idx in sorted((i for i in full if s in i), key=len):
                if hide_smallest(idx):
                    fixed = True
                    break
            if fixed:
                break
        if not fixed:
            break
    return SuppressionResult(pd.Series(reason, index=cells.index, name="suppressed", dtype=object))


def apply_suppression(table: pd.DataFrame, result: SuppressionResult,
                      value_cols: Sequence[str]) -> pd.DataFrame:
    """Blank the values of hidden cells and add a boolean ``suppressed`` column."""
    out = table.copy()
    mask = result.suppressed.reindex(out.index).fillna(False).to_numpy(dtype=bool)
    for c in value_cols:
        out[c] = out[c].astype("float64")
        out.loc[mask, c] = np.nan
    # Released tables say *that* a cell is hidden, not why: "primary" would tell that the
    # cell is under the threshold, a bound that narrows the hidden complements.
    out["suppressed"] = mask
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
