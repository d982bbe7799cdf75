"""The report stage: gathers what the other stages wrote into one context, and renders it
(``scope``: the figures no stage writes; ``campaigns``: the comparison; ``reading``).

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

import pandas as pd

from mailstudy import schema
from mailstudy.i18n import column_doc
from mailstudy.release import close_release
from mailstudy.report.campaigns import compare_section
from mailstudy.report.reading import csv_table, read_json, records
from mailstudy.report.scope import _coverage, scope_summary
from mailstudy.study import Study, StudyError

REPORT_NAMES = {"fr": "rapport", "en": "report"}
PROFILE_TABLES = ("level", "direction", "habit", "level_habit", "work_pattern")
#: Features shown in the report's summary tables (every feature stays in the CSV files).
SUMMARY_FEATURES = ("sent_per_day", "received_per_day", "after_hours_share", "reply_delay_h",
                    "mobile_share")


def report_paths(study: Study, lang: str = "fr") -> dict[str, Path]:
    """Where the report in ``lang`` is written (rapport.* in French, report.* in English)."""
    name = REPORT_NAMES.get(lang, "rapport")
    return {ext: study.catalog.path("report_doc", file=f"{name}.{ext}") for ext in ("html", "pdf")}


# -- what the stages wrote -------------------------------------------------------------------
def _collect_runs(study: Study) -> dict[str, Any]:
    """Skips and defects over every saved collection summary.

    Defects are counted only on the rows a run wrote, so they add up over runs. Skips are
    seen again by every re-run of a mailbox, so each mailbox counts with its latest run only.
    """
    runs = []
    for p in sorted(study.runs_dir.glob("*-collect-*.json")) if study.runs_dir.exists() else []:
        d = read_json(p)
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
        df = csv_table(c.path("group_table", grouping=name))
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
    sup = csv_table(c.path("suppression"))
    suppression = {"primary": int(sup["primary"].sum()), "secondary": int(sup["secondary"].sum()),
                   "blanked_statistics": int(sup["blanked_statistics"].sum())} \
        if sup is not None else None
    return {"tables": tables, "suppression": suppression}


def _personas_section(study: Study, lang: str) -> dict[str, Any] | None:
    base = study.catalog.path("persona_outputs")
    card = read_json(study.catalog.path("persona_model"))
    if not isinstance(card, dict):
        return None
    return {
        "k": card.get("k"), "k_mode": card.get("k_mode"), "k_range": card.get("k_range"),
        "n_boot": card.get("n_boot"), "n_people": card.get("n_people"),
        "silhouette": card.get("silhouette"), "stability_median": card.get("stability_median"),
        "stability_p10": card.get("stability_p10"), "structure_ok": card.get("structure_ok"),
        "prediction_strength": card.get("prediction_strength"),
        # why k was chosen, and the warnings, in the reader's language (the card's own
        # language for a card written before both were kept)
        "k_reason": (card.get("k_reasons") or {}).get(lang) or card.get("k_reason"),
        "k_candidates": (card.get("k_choice") or {}).get("candidates") or [],
        "warnings": (card.get("warnings_by_lang") or {}).get(lang) or card.get("warnings")
        or [], "thresholds": card.get("thresholds") or {},
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
    fair = read_json(c.path("fairness"))
    panel = csv_table(c.path("panel"))
    if not isinstance(fair, dict) or panel is None:
        return None
    comp = csv_table(c.path("composition"))
    reserves = csv_table(c.path("reserves"))
    roles = panel["role"].value_counts().sort_index() if "role" in panel else pd.Series()
    return {
        "size": int(len(panel)), "reserves": int(len(reserves)) if reserves is not None else 0,
        "roles": {str(k): int(v) for k, v in roles.items()},
        "fairness": fair,
        "composition": records(comp) if comp is not None else [],
        "sessions": [{"id": str(s.get("id", "")), "start": str(s.get("start", "")),
                      "end": str(s.get("end", "")), "place": str(s.get("place", ""))}
                     for s in study.section("workshop").get("sessions", [])],
    }


def _habit_rules(study: Study) -> dict[str, Any]:
    rules = read_json(study.catalog.path("profile_rules"))
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
        "personas": _personas_section(study, lang),
        "panel": _panel_section(study),
        "reveals": _count_lines(study.catalog.path("reidentification_log")),
        "compare": compare_section(study),
    }


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


__all__ = ["REPORT_NAMES", "compare_section", "report_context", "report_paths", "run_report",
           "scope_summary", "_coverage"]
