"""The comparison as tables (:func:`compare_tables`, pure) and as files (:func:`write_comparison`).

``out/compare/`` of the second study: ``differences.csv``/``.xlsx``, ``persona_shares``,
``persona_flows`` (CSV and XLSX) and ``summary.json`` (how it was computed, turnover counts,
drift). Every table goes through the release gate of the second study.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from mailstudy.compare.bootstrap import LEVEL
from mailstudy.compare.differences import (
    CHANGE_SD,
    GROUPINGS,
    SHARE_STEP,
    Settings,
    change_thresholds,
    group_differences,
    turnover,
)
from mailstudy.compare.drift import drift, linked_pairs, persona_flows, persona_shares
from mailstudy.compare.guard import FDR, apply_guard
from mailstudy.release import publish_table
from mailstudy.tabular import french_csv, write_csv, write_xlsx

COLUMNS = ["group_by", "group", "feature", "n_people", "before", "after", "difference",
           "ci_low", "ci_high", "p_value", "q_value", "significant", "share_rose",
           "share_fell", "n_before", "n_after", "suppressed"]
TABLES = ("differences", "persona_shares", "persona_flows")

HEADERS_FR = {
    "group_by": "Regroupement", "group": "Groupe", "feature": "Indicateur",
    "n_people": "Personnes", "before": "Avant (médiane)", "after": "Après (médiane)",
    "difference": "Écart", "ci_low": "IC 95 % bas", "ci_high": "IC 95 % haut",
    "p_value": "p (bootstrap)", "q_value": "q (Benjamini-Hochberg)",
    "significant": "Significatif", "share_rose": "Part en hausse",
    "share_fell": "Part en baisse", "n_before": "Personnes avant",
    "n_after": "Personnes après", "suppressed": "Masqué", "persona": "Persona",
    "persona_name": "Nom", "share_before": "Part avant", "share_after": "Part après",
    "from_persona": "De (persona)", "from_name": "De (nom)", "to_persona": "Vers (persona)",
    "to_name": "Vers (nom)", "share_of_from": "Part du persona de départ",
}


@dataclass
class Comparison:
    """What :func:`compare_tables` returns: the released tables and the summary."""

    differences: pd.DataFrame
    summary: dict[str, Any]
    persona_shares: pd.DataFrame | None = None
    persona_flows: pd.DataFrame | None = None
    true_counts: dict[str, pd.Series | pd.DataFrame] = field(default_factory=dict)


def compare_tables(before: pd.DataFrame, after: pd.DataFrame, settings: Settings, k: int, *,
                   hidden_elsewhere: Mapping[str, set[str]] | None = None,
                   persona_names: Mapping[int, str] | None = None,
                   months: float | None = None) -> Comparison:
    """The whole comparison of two people tables (``persona`` columns when a model placed
    them), suppressed for ``k`` = ``min_group_size``. Pure: no file is read or written.

    Linked campaigns: the persona rows, shares and flows count only the people in both
    campaigns, so that arrivals and departures never enter a persona's count (the first
    campaign published its persona sizes: a size moved by one would tell the persona of the
    one who left), and the shares are the margins of the flows table, whose suppression
    treats them as published.
    """
    hidden = {g: set(v) for g, v in (hidden_elsewhere or {}).items()}
    thresholds = change_thresholds(before, settings.features)
    has_personas = persona_names is not None and "persona" in before and "persona" in after
    names = dict(persona_names or {})
    cb, ca = _cohort(before, after) if settings.linked else (before, after)
    flows = None
    if has_personas and settings.linked:
        flows, margins = persona_flows(cb, ca, names, k)
        hidden["persona"] = hidden.get("persona", set()) | margins
    groupings = [g for g in GROUPINGS if g != "persona"]
    rows = group_differences(before, after, settings, groupings, thresholds)
    if has_personas:
        rows = pd.concat([rows, group_differences(cb, ca, settings, ["persona"], thresholds)],
                         ignore_index=True)
    true_n = rows[["n_people", "n_before", "n_after"]].astype("int64").reset_index(drop=True)
    table, info = apply_guard(rows, k, settings.linked, hidden)
    summary: dict[str, Any] = {
        "linked": settings.linked, "statistic": "median", "level": LEVEL,
        "n_boot": settings.n_boot, "seed": settings.seed, "min_group_size": k,
        "bootstrap": "paired over people" if settings.linked else "unpaired",
        "guard": "Benjamini-Hochberg", "fdr": FDR, "change_sd": CHANGE_SD,
        "share_step": SHARE_STEP, "scales": {f: t / CHANGE_SD for f, t in thresholds.items()},
        **info, "people_before": len(before), "people_after": len(after),
        "turnover": turnover(before, after) if settings.linked else None,
        "personas": has_personas,
    }
    out = Comparison(table[COLUMNS], summary, true_counts={"differences": true_n})
    if has_personas:
        shares = persona_shares(cb, ca, names, k, force=hidden.get("persona", set()))
        out.persona_shares = shares
        out.true_counts["persona_shares"] = pd.DataFrame({
            c: d["persona"].astype(int).value_counts().reindex(shares["persona"], fill_value=0)
            .reset_index(drop=True) for c, d in (("n_before", cb), ("n_after", ca))})
    if flows is not None:
        out.persona_flows = flows
        out.true_counts["persona_flows"] = _flow_counts(cb, ca, flows)
        summary["drift"] = drift(cb, ca, months)
    return out


def _cohort(before: pd.DataFrame, after: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The people in both campaigns, in each campaign's table."""
    both = set(before["person"].astype(str)) & set(after["person"].astype(str))
    return (before[before["person"].astype(str).isin(both)],
            after[after["person"].astype(str).isin(both)])


def _flow_counts(before: pd.DataFrame, after: pd.DataFrame, flows: pd.DataFrame) -> pd.Series:
    pairs = linked_pairs(before, after)
    n = pairs.groupby(["from", "to"]).size()
    return pd.Series([int(n.get((f, t), 0)) for f, t in
                      zip(flows["from_persona"], flows["to_persona"], strict=True)])


def _whole_counts(df: pd.DataFrame) -> pd.DataFrame:
    """Counts as whole numbers in the files (blank when hidden), not 56.0."""
    counts = [c for c in ("n_people", "n_before", "n_after") if c in df]
    return df.astype({c: "Int64" for c in counts})


def _localised(df: pd.DataFrame, lang: str) -> pd.DataFrame:
    """The XLSX version: French headers and feature labels when ``lang`` is fr."""
    if lang != "fr":
        return df
    from mailstudy.i18n import label

    out = df.copy()
    if "feature" in out:
        out["feature"] = [label("fr", "feature", f) for f in out["feature"]]
    return out.rename(columns=HEADERS_FR)


def _clean(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    return v.item() if hasattr(v, "item") else v


#: The summary's counts of people, checked by the release gate like a table's.
SUMMARY_COUNTS = ["people_before", "people_after", "turnover.linked", "turnover.arrivals",
                  "turnover.departures", "drift.people_in_both", "_drift_changed"]
#: The summary's settings: the same whatever the people (never held back).
SUMMARY_SETTINGS = {"linked", "statistic", "level", "n_boot", "seed", "min_group_size",
                    "bootstrap", "guard", "fdr", "change_sd", "share_step", "personas"}


def _flat(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, Mapping):
            out |= _flat(v, f"{prefix}{k}.")
        else:
            out[f"{prefix}{k}"] = _clean(v)
    return out


def _nested(row: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, v in row.items():
        if key.startswith("_") or key == "scope":
            continue
        *parents, leaf = key.split(".")
        node = out
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = None if isinstance(v, float) and not math.isfinite(v) else _clean(v)
    return out


def _gated_summary(study: Any, summary: dict[str, Any], population: tuple[int, ...]
                   ) -> tuple[dict[str, Any], int]:
    """The summary's figures through the release gate, as a one-row table: its counts of
    people (arrivals, departures, people in both, people whose persona changed) and every
    figure computed from the people (drift, scales, how many rows were hidden) are the
    earlier release's when the population or a count moved by 1 to k-1, as the tables are;
    otherwise the summary would tell what the held-back tables hide."""
    drift = summary.get("drift") or {}
    changed = (round(float(drift["drift_share"]) * int(drift["people_in_both"]))
               if drift and math.isfinite(float(drift.get("drift_share") or math.nan)) else 0)
    settings = {k: v for k, v in summary.items() if k in SUMMARY_SETTINGS}
    flat = {"scope": "all", **_flat({k: v for k, v in summary.items()
                                     if k not in SUMMARY_SETTINGS}), "_drift_changed": changed}
    counts = [c for c in SUMMARY_COUNTS if c in flat and flat[c] is not None]
    row = pd.DataFrame([flat])
    true = row[counts].fillna(0).astype("int64")
    out, held = publish_table(study, "compare/summary", row, true, population=population,
                              dims=["scope"], count=counts)
    figures = out.iloc[0].to_dict() if len(out) else flat
    return {**settings, **_nested(figures)}, held


def write_comparison(study: Any, result: Comparison, lang: str = "fr") -> dict[str, Path]:
    """Write ``out/compare/`` of ``study`` (the second campaign) through its release gate.

    Every table and the summary rest on three populations, the first campaign's people, the
    second's and the people in both: any of them moving by 1 to k-1 people since an earlier
    release holds them back, and each row's ``n_before`` is checked as well as its
    ``n_after`` (an objector of the first campaign moves only the former)."""
    c = study.catalog
    c.path("compare").mkdir(parents=True, exist_ok=True)
    s = result.summary
    population = (int(s["people_after"]), int(s["people_before"]),
                  int((s.get("turnover") or {}).get("linked") or 0))
    specs = {"differences": (["group_by", "group", "feature"], ["n_people", "n_before",
                                                                "n_after"]),
             "persona_shares": (["persona"], ["n_before", "n_after"]),
             "persona_flows": (["from_persona", "to_persona"], "n_people")}
    paths: dict[str, Path] = {}
    held_total = 0
    for name in TABLES:
        df = getattr(result, name)
        for ext in ("csv", "xlsx"):
            c.path("compare_table", table=name, ext=ext).unlink(missing_ok=True)
        if df is None:
            continue
        dims, count = specs[name]
        df, held = publish_table(study, f"compare/{name}", df, result.true_counts[name],
                                 population=population, dims=dims, count=count)
        held_total += held
        df = _whole_counts(df)
        paths[name] = write_csv(df, c.path("compare_table", table=name, ext="csv"),
                                french=french_csv(study))
        paths[f"{name}_xlsx"] = write_xlsx({name: _localised(df, lang)},
                                           c.path("compare_table", table=name, ext="xlsx"))
    figures, held = _gated_summary(study, s, population)
    summary = {**figures, "held_back": held_total + held, "lang": lang}
    p = c.path("compare_summary")
    p.write_text(json.dumps(_clean(summary), ensure_ascii=False, indent=1), encoding="utf-8")
    paths["summary"] = p
    return paths
