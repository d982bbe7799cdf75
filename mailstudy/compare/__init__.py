"""Compare: a follow-up campaign against the first, with uncertainty, without one person.

``mailstudy compare DIR1 DIR2`` (the wiring is :func:`mailstudy.pipeline.compare_campaigns`)
writes ``out/compare/`` in the second study. Everything here is pure tables in, tables out,
apart from :func:`write_comparison`:

* :mod:`~mailstudy.compare.bootstrap`: the vectorised bootstrap of a difference of medians
  (paired over people, or unpaired), percentile intervals, bootstrap z-test p-values,
  Benjamini-Hochberg;
* :mod:`~mailstudy.compare.differences`: one row per (grouping, group, feature), rose/fell
  shares, turnover counts;
* :mod:`~mailstudy.compare.guard`: disclosure control across both campaigns and the
  multiple-comparison guard (``significant``);
* :mod:`~mailstudy.compare.drift`: persona shares, flows and drift under the first campaign's
  model;
* :mod:`~mailstudy.compare.run`: :func:`compare_tables` and :func:`write_comparison`.
"""

from mailstudy.compare.bootstrap import benjamini_hochberg, weighted_medians
from mailstudy.compare.differences import GROUPINGS, N_BOOT, SEED, Settings, group_differences
from mailstudy.compare.drift import drift, persona_flows, persona_shares
from mailstudy.compare.guard import FDR, apply_guard
from mailstudy.compare.run import Comparison, compare_tables, write_comparison

__all__ = ["FDR", "GROUPINGS", "N_BOOT", "SEED", "Comparison", "Settings", "apply_guard",
           "benjamini_hochberg", "compare_tables", "drift", "group_differences",
           "persona_flows", "persona_shares", "weighted_medians", "write_comparison"]
