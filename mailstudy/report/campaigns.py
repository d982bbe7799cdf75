"""The comparison with a first campaign (``out/compare/``) read back for the report."""

from __future__ import annotations

from typing import Any

from mailstudy.report.reading import csv_table, read_json, records
from mailstudy.study import Study


def _chart_row(rec: dict[str, Any], scales: dict[str, Any], limit: float = 2.0
               ) -> dict[str, Any]:
    """One released difference, with its interval on a common scale for the chart: in robust
    standard deviations of the feature in the first campaign, clipped to +-``limit``."""
    sd = scales.get(rec["feature"]) or float("nan")
    pos = {k: max(-limit, min(limit, float(rec[k]) / sd))
           if rec.get(k) is not None and sd == sd and sd > 0 else 0.0
           for k in ("difference", "ci_low", "ci_high")}
    return {**rec, "x": pos["difference"], "x_low": pos["ci_low"], "x_high": pos["ci_high"],
            "limit": limit}


def compare_section(study: Study) -> dict[str, Any] | None:
    """``out/compare/`` read back for the report (None when no comparison was made): the
    organisation's rows, the significant group rows, the persona shares and the drift."""
    c = study.catalog
    summary = read_json(c.path("compare_summary"))
    diffs = csv_table(c.path("compare_table", table="differences", ext="csv"))
    if not isinstance(summary, dict) or diffs is None:
        return None
    shown = diffs[~diffs["suppressed"].astype(bool)]
    scales = summary.get("scales") or {}
    org = shown[shown["group_by"] == "organisation"]
    sig = shown[(shown["group_by"] != "organisation") & shown["significant"].astype(bool)]
    shares = csv_table(c.path("compare_table", table="persona_shares", ext="csv"))
    if shares is not None:  # persona rows carry the id; the report names them
        names = dict(zip(shares["persona"].astype(str), shares["persona_name"], strict=True))
        persona = sig["group_by"] == "persona"
        sig = sig.assign(group=sig["group"].astype(str).where(
            ~persona, sig["group"].astype(str).map(names)))
    return {"summary": summary, "drift": summary.get("drift"),
            "organisation": [_chart_row(r, scales) for r in records(org)],
            "significant": [_chart_row(r, scales) for r in records(sig)],
            "n_hidden_groups": summary.get("groups_hidden", 0),
            "personas": records(shares) if shares is not None else [],
            "csv": "../compare/differences.csv", "xlsx": "../compare/differences.xlsx"}
