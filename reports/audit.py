"""The audit report and its annexes: rendering only.

Receives the context built by the report stage (``mailstudy.report.report_context``: numbers
read from the stage outputs, suppression already applied) and turns it into HTML and PDF.
Nothing here computes a statistic; it formats numbers and picks words in French or English.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from reports.profiles import FEATURE_LABELS
from reports.render import render_html, write_html, write_pdf

ANNEXES = ("notice", "register", "dpia")

WORDS: dict[str, dict[str, str]] = {
    "fr": {
        "title": "Audit des usages de la messagerie", "subtitle": "Rapport d'audit",
        "generated": "Généré le", "toc": "Sommaire", "scope": "Périmètre",
        "method": "Méthode", "privacy": "Protection des données",
        "profiles": "Profils par typologie", "habits": "Habitudes et rythmes de travail",
        "personas": "Personas", "panel": "Panel des ateliers", "limits": "Limites des données",
        "annexes": "Annexes", "notice": "Notice d'information des agents (RGPD, art. 13)",
        "register": "Fiche du registre des traitements (RGPD, art. 30)",
        "dpia": "Annexe technique de l'analyse d'impact (AIPD)",
        "columns": "Définition des colonnes des messages",
        "hidden": "masqué", "total": "Total", "n_people": "Personnes",
        "group": "Groupe", "yes": "oui", "no": "non", "none": "aucun",
        "direction": "Direction", "level": "Niveau", "habit": "Habitude",
        "work_pattern": "Rythme de travail", "known": "Personnes connues",
        "in_directory": "Dans l'annuaire", "collected": "Boîte collectée",
        "profiled": "Profilées", "feature": "Indicateur", "definition": "Définition",
        "value": "Modalité", "population": "Population", "panel_n": "Panel",
        "population_share": "Part population", "panel_share": "Part panel",
        "to_complete": "[à compléter]", "column": "Colonne", "sent": "envoyés",
        "received": "reçus", "persona": "Persona", "size": "Effectif", "share": "Part",
        "stability": "Stabilité (Jaccard)", "role": "Rôle", "seats": "Sièges",
        "session": "Séance", "place": "Lieu", "start": "Début", "end": "Fin",
        "rule": "Règle", "label": "Étiquette", "median": "médiane",
    },
    "en": {
        "title": "Audit of mailbox usage", "subtitle": "Audit report",
        "generated": "Generated on", "toc": "Contents", "scope": "Scope",
        "method": "Method", "privacy": "Data protection",
        "profiles": "Profiles by typology", "habits": "Habits and working patterns",
        "personas": "Personas", "panel": "Workshop panel", "limits": "Limits of the data",
        "annexes": "Annexes", "notice": "Staff information notice (GDPR art. 13)",
        "register": "Record of processing activities (GDPR art. 30)",
        "dpia": "Technical annex of the data protection impact assessment (DPIA)",
        "columns": "Definitions of the message columns",
        "hidden": "hidden", "total": "Total", "n_people": "People",
        "group": "Group", "yes": "yes", "no": "no", "none": "none",
        "direction": "Direction", "level": "Level", "habit": "Habit",
        "work_pattern": "Working pattern", "known": "People known",
        "in_directory": "In the directory", "collected": "Mailbox collected",
        "profiled": "Profiled", "feature": "Feature", "definition": "Definition",
        "value": "Value", "population": "Population", "panel_n": "Panel",
        "population_share": "Population share", "panel_share": "Panel share",
        "to_complete": "[to be completed]", "column": "Column", "sent": "sent",
        "received": "received", "persona": "Persona", "size": "Size", "share": "Share",
        "stability": "Stability (Jaccard)", "role": "Role", "seats": "Seats",
        "session": "Session", "place": "Place", "start": "Start", "end": "End",
        "rule": "Rule", "label": "Label", "median": "median",
    },
}


def fmt_num(v: Any, digits: int = 0, lang: str = "fr") -> str:
    """A number in the report's language (decimal comma and thin space in French)."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    s = f"{float(v):,.{digits}f}"
    if lang == "fr":
        s = s.replace(",", "\u202f").replace(".", ",")
    return s


def fmt_pct(v: Any, digits: int = 0, lang: str = "fr") -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return fmt_num(100 * float(v), digits, lang) + ("\u00a0%" if lang == "fr" else "%")


def fmt_feature(feature: str, v: Any, lang: str = "fr") -> str:
    """A feature value with the precision its unit calls for (shares in %, hours, counts)."""
    if feature.endswith(("_share", "_rate")):
        return fmt_pct(v, 0, lang)
    return fmt_num(v, 1, lang)


def feature_label(feature: str, lang: str) -> str:
    return FEATURE_LABELS.get(feature, {}).get(lang, feature)


def _helpers(lang: str) -> dict[str, Any]:
    w = WORDS.get(lang, WORDS["fr"])
    return {
        "W": w,
        "num": lambda v, d=0: fmt_num(v, d, lang),
        "pct": lambda v, d=0: fmt_pct(v, d, lang),
        "fval": lambda f, v: fmt_feature(f, v, lang),
        "flabel": lambda f: feature_label(f, lang),
        "or_todo": lambda v: v if v else w["to_complete"],
    }


def render_audit(ctx: dict[str, Any]) -> str:
    """The whole report (annexes included) as one HTML document."""
    lang = ctx.get("lang", "fr")
    return render_html("audit.html", **{**ctx, **_helpers(lang), "lang": lang})


def render_annex(name: str, ctx: dict[str, Any]) -> str:
    """One annex as a standalone HTML page (to hand to the DPO or the staff committee)."""
    if name not in ANNEXES:
        raise ValueError(f"unknown annex {name!r}")
    lang = ctx.get("lang", "fr")
    return render_html("audit_annex_page.html",
                       **{**ctx, **_helpers(lang), "lang": lang, "annex": name})


def write_audit(ctx: dict[str, Any], out_dir: Path, html_path: Path,
                pdf_path: Path | None) -> dict[str, Path]:
    """Write the report (HTML, and PDF when ``pdf_path``) and the annexes as HTML pages.

    The stylesheet is copied next to the report so that the HTML opens on its own; relative
    links to ``../profiles`` and ``../personas`` resolve from ``out/report/``.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    css = (Path(__file__).parent / "templates" / "audit.css").read_text(encoding="utf-8")
    (out_dir / "audit.css").write_text(css, encoding="utf-8")
    html = render_audit(ctx)
    paths = {"html": write_html(html, html_path), "css": out_dir / "audit.css"}
    suffix = "" if ctx.get("lang", "fr") == "fr" else "-en"
    for name in ANNEXES:
        paths[f"annex_{name}"] = write_html(render_annex(name, ctx),
                                            out_dir / f"annexe-{name}{suffix}.html")
    if pdf_path is not None:
        paths["pdf"] = write_pdf(html, pdf_path, base_url=out_dir)
    return paths
