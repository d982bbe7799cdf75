"""What of the comparison may be released, and which differences are more than noise.

Disclosure control, across both campaigns (``k`` = ``min_group_size``):

1. primary: a group is hidden when it has fewer than ``k`` people in the first campaign, in
   the second, or (linked campaigns) in both at once;
2. a group that either campaign's own published tables hide is hidden here too, so that the
   comparison never shows what a profile table of either campaign hid;
3. complementary: within each grouping, with the organisation as its total, no hidden group
   can be recovered by subtraction (``anonymise.disclosure.suppress_linked``);
4. a statistic resting on fewer than ``k`` values in either campaign is blanked.

A hidden row keeps its names and says ``suppressed``; every figure of it is blank. The
release ledger then checks the table against the earlier releases of the second study
(``mailstudy.release``), so that re-running the comparison after a small change cannot
single anyone out either.

Multiple comparisons: twenty features times a dozen groups give hundreds of intervals, and
at 95 % one in twenty would exclude zero by chance. ``significant`` is Benjamini-Hochberg at
false discovery rate :data:`FDR` over every released row's bootstrap p-value (``q_value``),
*and* the interval excluding zero: among the rows flagged, at most 5 % are expected false
alarms.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from anonymise import disclosure
from mailstudy.compare.bootstrap import benjamini_hochberg
from mailstudy.compare.differences import ORGANISATION

FDR = 0.05
FIGURES = ["n_people", "n_before", "n_after", "before", "after", "difference", "ci_low",
           "ci_high", "p_value", "share_rose", "share_fell"]
STATISTICS = FIGURES[3:]


def _group_counts(rows: pd.DataFrame, linked: bool) -> pd.DataFrame:
    """One line per (grouping, group): the smallest of its counts (the primary rule's)."""
    g = rows.groupby(["group_by", "group"], sort=False).first().reset_index()
    count = np.minimum(g["n_before"], g["n_after"])
    if linked:
        count = np.minimum(count, g["_n_linked"])
    g["count"] = count.astype(float)
    return g[["group_by", "group", "count"]]


def hidden_groups(rows: pd.DataFrame, k: int, linked: bool,
                  hidden_elsewhere: Mapping[str, set[str]] | None = None
                  ) -> set[tuple[str, str]]:
    """(grouping, group) pairs to hide (rules 1 to 3)."""
    hidden_elsewhere = hidden_elsewhere or {}
    counts = _group_counts(rows, linked)
    org = counts[counts["group_by"] == ORGANISATION]
    org_count = float(org["count"].iloc[0]) if len(org) else 0.0
    if org_count < k:
        return set(zip(counts["group_by"], counts["group"], strict=True))
    out: set[tuple[str, str]] = set()
    for grouping, part in counts[counts["group_by"] != ORGANISATION].groupby("group_by"):
        cells = pd.concat([part[["group", "count"]],
                           pd.DataFrame({"group": [disclosure.TOTAL], "count": [org_count]})],
                          ignore_index=True)
        force = cells["group"].isin(hidden_elsewhere.get(str(grouping), set())).to_numpy()
        res = disclosure.suppress_linked(cells, ["group"], "count", k, force=force)
        hid = cells.loc[res.suppressed.to_numpy(), "group"]
        if (hid == disclosure.TOTAL).any():
            return set(zip(counts["group_by"], counts["group"], strict=True))
        out |= {(str(grouping), str(g)) for g in hid}
    return out


def apply_guard(rows: pd.DataFrame, k: int, linked: bool,
                hidden_elsewhere: Mapping[str, set[str]] | None = None
                ) -> tuple[pd.DataFrame, dict[str, int]]:
    """The releasable table: hidden rows blanked, ``q_value`` and ``significant`` added.
    Returns it with counts of what was hidden (for ``summary.json``)."""
    out = rows.copy()
    hide = hidden_groups(out, k, linked, hidden_elsewhere)
    key = list(zip(out["group_by"], out["group"], strict=True))
    whole = np.array([kk in hide for kk in key], dtype=bool)
    few_values = (out["_n_values"] < k).to_numpy() & ~whole
    for c in FIGURES:
        out[c] = out[c].astype("float64")
    out.loc[whole, FIGURES] = np.nan
    out.loc[few_values, STATISTICS] = np.nan
    out["suppressed"] = whole | few_values
    out["q_value"] = benjamini_hochberg(out["p_value"].to_numpy())
    excludes_zero = (out["ci_low"] > 0) | (out["ci_high"] < 0)
    out["significant"] = ((out["q_value"] <= FDR) & excludes_zero).fillna(False).astype(bool)
    info = {"groups_hidden": len(hide), "rows_hidden": int(whole.sum()),
            "statistics_blanked": int(few_values.sum()),
            "rows_tested": int(out["q_value"].notna().sum()),
            "rows_significant": int(out["significant"].sum())}
    return out.drop(columns=["_n_linked", "_n_values"]), info
