"""The report stage: gathers what the other stages wrote into one context, and renders it.

Why the numbers are gathered here and not in ``reports/``: rendering computes nothing. The
only numbers no stage writes are the scope of the audit (mailboxes, period, coverage by
direction and level); :func:`scope_summary` computes them from the pseudonymised tables, with
the same disclosure control as every released table, and writes them to
``out/report/scope.json`` so that they can be checked apart from the report.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from anonymise import disclosure
from mailstudy import schema
from mailstudy.i18n import column_doc
from mailstudy.release import close_release, publish_table
from mailstudy.study import Study, StudyError
from mailstudy.tabular import read_csv
from mailstudy.text import UNKNOWN

REPORT_NAMES = {"fr": "rapport", "en": "report"}
PROFILE_TABLES = ("level", "direction", "habit", "level_habit", "work_pattern")
#: Features shown in the report's summary tables (every feature stays in the CSV files).
SUMMARY_FEATURES = ("sent_per_day", "received_per_day", "after_hours_share", "reply_delay_h",
                    "mobile_share")


def report_paths(study: Study, lang: str = "fr") -> dict[str, Path]:
    """Where the report in ``lang`` is written (rapport.* in French, report.* in English)."""
    name = REPORT_NAMES.get(lang, "rapport")
    return {ext: study.catalog.path("report_doc", file=f"{name}.{ext}") for ext in ("html", "pdf")}


# -- numbers no stage writes -----------------------------------------------------------------
def _read_parquet(path: Path, columns: list[str] | None = None) -> pd.DataFrame | None:
    return pd.read_parquet(path, columns=columns) if path.exists() else None


def _coverage(union: pd.DataFrame, dim: str, min_group: int,
              order: list[str] | None = None, hidden_elsewhere: set[str] | None = None
              ) -> tuple[pd.DataFrame, int, pd.Series]:
    """Per value of ``dim``: people known (directory or mailbox), in the directory, with a
    mailbox collected, profiled; rows under ``min_group`` known people hidden, and the groups
    the profile table of ``dim`` hides, with their complements against the total row. Also
    returns the true ``known`` count of every row (for the release ledger)."""
    g = union.groupby(dim, dropna=False)
    cells = pd.DataFrame({
        "known": g.size(),
        "in_directory": g["in_directory"].sum(),
        "collected": g["collected"].sum(),
        "profiled": g["profiled"].sum(),
    }).reset_index()
    total = pd.DataFrame([{dim: disclosure.TOTAL, "known": len(union),
                           "in_directory": int(union["in_directory"].sum()),
                           "collected": int(union["collected"].sum()),
                           "profiled": int(union["profiled"].sum())}])
    cells = pd.concat([cells, total], ignore_index=True)
    force = cells[dim].astype(str).isin(hidden_elsewhere or set()).to_numpy()
    res = disclosure.suppress_linked(cells, [dim], "known", min_group, force=force)
    true_known = cells["known"].copy()
    cells = disclosure.apply_suppression(cells, res,
                                         ["known", "in_directory", "collected", "profiled"])
    if order is not None:
        rank = {v: i for i, v in enumerate(order)}
        cells["_r"] = cells[dim].map(lambda v: rank.get(v, len(order) if v != disclosure.TOTAL
                                                         else len(order) + 1))
        cells = cells.sort_values(["_r", dim]).drop(columns="_r")
    else:
        cells["_t"] = cells[dim] == disclosure.TOTAL
        cells = cells.sort_values(["_t", dim]).drop(columns="_t")
    cells[dim] = cells[dim].replace(disclosure.TOTAL, "Total")
    true_known = true_known.reindex(cells.index)
    return (cells.reset_index(drop=True), res.n_primary + res.n_secondary,
            true_known.reset_index(drop=True))


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for rec in df.to_dict("records"):
        out.append({k: (None if isinstance(v, float) and np.isnan(v) else
                        int(v) if isinstance(v, float) and k != "share" and v.is_integer()
                        else v.item() if isinstance(v, np.generic) else v)
                    for k, v in rec.items()})
    return out


def scope_summary(study: Study) -> dict[str, Any]:
    """Mailboxes, period, messages and coverage by direction and level (suppressed).

    Counts only; what a released table may not show (a direction of three people) is hidden
    as in the group profiles, and the number of hidden cells is returned.
    """
    from mailstudy.optout import load_optouts
    from mailstudy.store import read_messages

    k = study.min_group_size
    out: dict[str, Any] = {"min_group_size": k}
    cols = ["mailbox", "direction", "date_local", "message_id", "is_bulk", "folder_role"]
    msgs = (read_messages(study.messages_dir, columns=cols)
            if study.messages_dir.exists() and any(study.messages_dir.glob("mailbox=*"))
            else pd.DataFrame(columns=cols))
    out["mailboxes"] = int(msgs["mailbox"].nunique())
    out["message_rows"] = int(len(msgs))
    counted = ~msgs["folder_role"].isin(schema.UNCOUNTED_FOLDER_ROLES)
    out["messages_unique"] = int(msgs.loc[counted, "message_id"].nunique())
    out["rows_by_direction"] = {str(d): int(n) for d, n in
                                msgs["direction"].value_counts().sort_index().items()}
    out["bulk_rows"] = int(msgs["is_bulk"].fillna(False).astype(bool).sum())
    dates = pd.to_datetime(msgs["date_local"]).dropna()
    if len(dates):
        # The period holds the bulk of the traffic: stray old messages (archives) are counted
        # apart rather than stretching it.
        lo, hi = dates.quantile(0.005), dates.max()
        out["period"] = {"first": lo.date().isoformat(), "last": hi.date().isoformat(),
                         "weeks": round((hi - lo).days / 7, 1),
                         "rows_before_first": int((dates < lo.normalize()).sum())}
    else:
        out["period"] = None
    directory = study.catalog.read_or_empty("directory")
    people = _read_parquet(study.catalog.path("people"), ["person", "level", "level_rank",
                                                           "direction"])
    optouts = load_optouts(study)
    out["optouts"] = len(optouts)
    profiled = set(people["person"]) if people is not None else set()
    boxes = set(msgs["mailbox"].unique())
    d = directory[["person", "level", "level_rank", "direction"]].copy()
    d["in_directory"] = True
    extra = sorted(boxes - set(d["person"]))
    union = pd.concat([d, pd.DataFrame({"person": extra, "level": UNKNOWN, "level_rank": -1,
                                        "direction": UNKNOWN, "in_directory": False})],
                      ignore_index=True)
    union = union[~union["person"].isin(optouts.filter(union["person"]))]
    union["direction"] = union["direction"].fillna(UNKNOWN)
    union["level"] = union["level"].fillna(UNKNOWN)
    union["collected"] = union["person"].isin(boxes)
    union["profiled"] = union["person"].isin(profiled)
    out["people_known"] = int(len(union))
    out["directory_people"] = int(union["in_directory"].sum())
    out["profiled"] = len(profiled)
    out["mailboxes_without_directory"] = len(extra)
    out["directory_without_mailbox"] = int((union["in_directory"] & ~union["collected"]).sum())
    out["collected_not_profiled"] = int((union["collected"] & ~union["profiled"]).sum())
    ranks = (union[union["level_rank"] >= 0].groupby("level")["level_rank"].min()
             .sort_values())
    by_dir, n1, true_dir = _coverage(union, "direction", k,
                                     hidden_elsewhere=_hidden_groups(study, "direction"))
    by_level, n2, true_level = _coverage(union, "level", k, order=[*ranks.index, UNKNOWN],
                                         hidden_elsewhere=_hidden_groups(study, "level"))
    by_dir, h1 = publish_table(study, "scope/coverage_by_direction", by_dir, true_dir,
                               population=len(union), dims=["direction"], count="known")
    by_level, h2 = publish_table(study, "scope/coverage_by_level", by_level, true_level,
                                 population=len(union), dims=["level"], count="known")
    out["coverage_by_direction"] = _records(by_dir)
    out["coverage_by_level"] = _records(by_level)
    out["cells_suppressed"] = n1 + n2
    return _held_back_totals(study, out, h1 + h2)


_TOTALS = ("mailboxes", "message_rows", "messages_unique", "bulk_rows", "people_known",
           "directory_people", "profiled", "mailboxes_without_directory",
           "directory_without_mailbox", "collected_not_profiled", "optouts")


def _held_back_totals(study: Study, out: dict[str, Any], held: int) -> dict[str, Any]:
    """The scope's totals go through the release gate as one row: when the people it
    describes changed by 1 to k-1 since an earlier release, the earlier totals are shown."""
    row = {"scope": "Total", **{f: out[f] for f in _TOTALS},
           "period": json.dumps(out["period"]),
           "rows_by_direction": json.dumps(out["rows_by_direction"])}
    table = pd.DataFrame([row])
    table, h = publish_table(study, "scope/totals", table, table["people_known"],
                             population=int(out["people_known"]), dims=["scope"],
                             count="people_known")
    rec = table.iloc[0]
    out.update({f: _records(table[[f]])[0][f] for f in _TOTALS})
    out["period"] = json.loads(rec["period"])
    out["rows_by_direction"] = json.loads(rec["rows_by_direction"])
    out["cells_held_back"] = held + h
    return out


def _hidden_groups(study: Study, dim: str) -> set[str]:
    """Groups the profile table of ``dim`` hides in this release."""
    table = _csv(study.catalog.path("group_table", grouping=dim))
    if table is None or "suppressed" not in table:
        return set()
    return set(table.loc[table["suppressed"].fillna(False).astype(bool), dim].astype(str))


# -- what the stages wrote -------------------------------------------------------------------
def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _csv(path: Path) -> pd.DataFrame | None:
    return read_csv(path) if path.exists() else None


def _collect_runs(study: Study) -> dict[str, Any]:
    """Skips and defects over every saved collection summary.

    Defects are counted only on the rows a run wrote, so they add up over runs. Skips are
    seen again by every re-run of a mailbox, so each mailbox counts with its latest run only.
    """
    runs = []
    for p in sorted(study.runs_dir.glob("*-collect-*.json")) if study.runs_dir.exists() else []:
        d = _read_json(p)
        if isinstance(d, dict):
            runs.append(d)
    runs.sort(key=lambda d: str(d.get("started", "")))  # file names sort badly within a second
    kinds: dict[str, int] = {}
    latest_skips: dict[tuple[str, str], dict[str, int]] = {}
    defects: dict[str, int] = {}
    for d in runs:
        kind = str(d.get("kind", "?"))
        kinds[kind] = kinds.get(kind, 0) + 1
        for i, m in enumerate(d.get("mailboxes") or []):
            who = str(m.get("mailbox") or f"{d.get('started')}#{i}")
            latest_skips[(kind, who)] = m.get("skipped") or {}
            for name, v in (m.get("defects") or {}).items():
                defects[name] = defects.get(name, 0) + int(v)
    skipped: dict[str, int] = {}
    for sk in latest_skips.values():
        for name, v in sk.items():
            if int(v):
                skipped[name] = skipped.get(name, 0) + int(v)
    return {"runs": sum(kinds.values()), "kinds": kinds, "last_skipped": skipped,
            "last_defects": defects}


def _profile_section(study: Study) -> dict[str, Any]:
    c = study.catalog
    base = c.path("profiles")
    tables: dict[str, Any] = {}
    for name in PROFILE_TABLES:
        df = _csv(c.path("group_table", grouping=name))
        if df is None:
            continue
        dims = list(df.columns[: list(df.columns).index("n_people")])
        feats = [f for f in SUMMARY_FEATURES if f"{f}_median" in df.columns]
        rows = []
        for rec in df.to_dict("records"):
            hidden = bool(rec.get("suppressed")) if not pd.isna(rec.get("suppressed")) \
                else False
            rows.append({"group": [str(rec[d]) for d in dims],
                         "n_people": None if pd.isna(rec["n_people"]) else int(rec["n_people"]),
                         "hidden": hidden,
                         "values": [None if pd.isna(rec[f"{f}_median"])
                                    else float(rec[f"{f}_median"]) for f in feats]})
        chart = base / f"by_{name}.png"
        tables[name] = {"dims": dims, "features": feats, "rows": rows,
                        "n_hidden": sum(r["hidden"] for r in rows),
                        "chart": f"../profiles/{chart.name}" if chart.exists() else None,
                        "csv": f"../profiles/by_{name}.csv"}
    sup = _csv(c.path("suppression"))
    suppression = {"primary": int(sup["primary"].sum()), "secondary": int(sup["secondary"].sum()),
                   "blanked_statistics": int(sup["blanked_statistics"].sum())} \
        if sup is not None else None
    return {"tables": tables, "suppression": suppression}


def _personas_section(study: Study) -> dict[str, Any] | None:
    base = study.catalog.path("persona_outputs")
    card = _read_json(study.catalog.path("persona_model"))
    if not isinstance(card, dict):
        return None
    return {
        "k": card.get("k"), "k_mode": card.get("k_mode"), "k_range": card.get("k_range"),
        "n_boot": card.get("n_boot"), "n_people": card.get("n_people"),
        "silhouette": card.get("silhouette"), "stability_median": card.get("stability_median"),
        "stability_p10": card.get("stability_p10"), "structure_ok": card.get("structure_ok"),
        "prediction_strength": card.get("prediction_strength"),
        "k_reason": card.get("k_reason"),  # why k was chosen, in the card's language
        "k_candidates": (card.get("k_choice") or {}).get("candidates") or [],
        "warnings": card.get("warnings") or [], "thresholds": card.get("thresholds") or {},
        "features_used": card.get("features_used") or [],
        "personas": [{"id": p.get("persona"), "name": p.get("name"), "size": p.get("size"),
                      "share": p.get("share"), "jaccard": p.get("jaccard")}
                     for p in card.get("personas", [])],
        "sheets_html": "../personas/personas.html" if (base / "personas.html").exists()
        else None,
        "sheets_pdf": "../personas/personas.pdf" if (base / "personas.pdf").exists() else None,
    }


def _panel_section(study: Study) -> dict[str, Any] | None:
    c = study.catalog
    fair = _read_json(c.path("fairness"))
    panel = _csv(c.path("panel"))
    if not isinstance(fair, dict) or panel is None:
        return None
    comp = _csv(c.path("composition"))
    reserves = _csv(c.path("reserves"))
    roles = panel["role"].value_counts().sort_index() if "role" in panel else pd.Series()
    return {
        "size": int(len(panel)), "reserves": int(len(reserves)) if reserves is not None else 0,
        "roles": {str(k): int(v) for k, v in roles.items()},
        "fairness": fair,
        "composition": _records(comp) if comp is not None else [],
        "sessions": [{"id": str(s.get("id", "")), "start": str(s.get("start", "")),
                      "end": str(s.get("end", "")), "place": str(s.get("place", ""))}
                     for s in study.section("workshop").get("sessions", [])],
    }


def _habit_rules(study: Study) -> dict[str, Any]:
    rules = _read_json(study.catalog.path("profile_rules"))
    return rules if isinstance(rules, dict) else {"habits": [], "work_pattern": {},
                                                   "min_messages": None,
                                                   "min_active_days": None}


def _study_section(study: Study) -> dict[str, Any]:
    org, t, priv = study.section("organisation"), study.section("time"), study.section("privacy")
    rep = study.section("report")
    recipient = study.keyholder_recipient()
    return {
        "name": org.get("name") or "",
        "domains": study.domains, "partner_domains": study.partner_domains,
        "timezone": t.get("timezone"), "workdays": t.get("workdays"),
        "work_start": t.get("work_start"), "work_end": t.get("work_end"),
        "public_holidays": t.get("public_holidays"),
        "min_group_size": study.min_group_size,
        "retention_until": priv.get("retention_until") or "",
        "personal_folders": study.personal_folders,
        "keyholder": (recipient[:12] + "…" + recipient[-6:]) if recipient else None,
        # Contacts the notice needs; study.toml [report] may give them, else placeholders.
        "controller": rep.get("controller", ""), "dpo": rep.get("dpo", ""),
        "contact": rep.get("contact", ""), "keyholder_role": rep.get("keyholder_role", ""),
        "purpose": rep.get("purpose", ""),
    }


def report_context(study: Study, lang: str = "fr") -> dict[str, Any]:
    """Everything the report shows, read from the stage outputs (plus the scope)."""
    scope = scope_summary(study)
    return {
        "lang": lang,
        "generated": dt.date.today().isoformat(),  # formatted in the reader's language
        "study": _study_section(study),
        "scope": scope,
        "collection": _collect_runs(study),
        "features": {c.name: column_doc(lang, c.doc) for c in schema.FEATURES},
        "people_columns": {n: column_doc(lang, d) for n, d in schema.describe("people").items()},
        "feature_names": list(schema.FEATURE_NAMES),
        "message_columns": {n: column_doc(lang, d)
                            for n, d in schema.describe("messages").items()},
        "rules": _habit_rules(study),
        "profiles": _profile_section(study),
        "personas": _personas_section(study),
        "panel": _panel_section(study),
        "reveals": _count_lines(study.catalog.path("reidentification_log")),
        "compare": compare_section(study),
    }


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
    summary = _read_json(c.path("compare_summary"))
    diffs = _csv(c.path("compare_table", table="differences", ext="csv"))
    if not isinstance(summary, dict) or diffs is None:
        return None
    shown = diffs[~diffs["suppressed"].astype(bool)]
    scales = summary.get("scales") or {}
    org = shown[shown["group_by"] == "organisation"]
    sig = shown[(shown["group_by"] != "organisation") & shown["significant"].astype(bool)]
    shares = _csv(c.path("compare_table", table="persona_shares", ext="csv"))
    if shares is not None:  # persona rows carry the id; the report names them
        names = dict(zip(shares["persona"].astype(str), shares["persona_name"], strict=True))
        persona = sig["group_by"] == "persona"
        sig = sig.assign(group=sig["group"].astype(str).where(
            ~persona, sig["group"].astype(str).map(names)))
    return {"summary": summary, "drift": summary.get("drift"),
            "organisation": [_chart_row(r, scales) for r in _records(org)],
            "significant": [_chart_row(r, scales) for r in _records(sig)],
            "n_hidden_groups": summary.get("groups_hidden", 0),
            "personas": _records(shares) if shares is not None else [],
            "csv": "../compare/differences.csv", "xlsx": "../compare/differences.xlsx"}


def _count_lines(path: Path) -> int:
    try:
        return sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    except OSError:
        return 0


def run_report(study: Study, lang: str | None = None, *, pdf: bool = True) -> dict[str, Path]:
    """``mailstudy report``: ``out/report/rapport.html`` and ``.pdf`` (``report.*`` in
    English), the scope figures in ``out/report/scope.json`` and the annexes as HTML."""
    from reports.audit import write_audit

    lang = lang or study.section("report").get("lang", "fr")
    if lang not in REPORT_NAMES:
        raise StudyError("the report language must be fr or en")
    if not (study.messages_dir.exists() and any(study.messages_dir.glob("mailbox=*"))):
        raise StudyError("nothing collected yet: run 'mailstudy collect files' or "
                         "'mailstudy collect imap' first, then 'mailstudy profile'")
    if not study.catalog.exists("people"):
        raise StudyError("nobody profiled yet: run 'mailstudy profile' first")
    ctx = report_context(study, lang)
    out = study.catalog.path("report")
    out.mkdir(parents=True, exist_ok=True)
    scope = study.catalog.path("scope")
    scope.write_text(json.dumps(ctx["scope"], indent=2, ensure_ascii=False), encoding="utf-8")
    paths = report_paths(study, lang)
    written = write_audit(ctx, out, paths["html"], paths["pdf"] if pdf else None)
    close_release(study)
    return {"scope": scope, **written}
