"""The audit report and its annexes: rendering only.

Receives the context built by the report stage (``mailstudy.report.report_context``: numbers
read from the stage outputs, suppression already applied) and turns it into HTML and PDF.
Nothing here computes a statistic; it formats numbers and picks words in French or English.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from markupsafe import Markup

from mailstudy import i18n
from mailstudy.i18n import label, tr
from reports.render import render_html, write_html, write_pdf

ANNEXES = ("notice", "register", "dpia")

#: The report's short words: key -> English msgid (French in mailstudy/locale/fr.po).
WORDS_EN: dict[str, str] = {
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
    "distinct_messages": "Distinct messages",
}


def words(lang: str) -> dict[str, str]:
    """The report's words in ``lang``, from the gettext catalogue."""
    return {k: tr(lang, v) for k, v in WORDS_EN.items()}


#: Dimensions whose values are codes with a reader's name in the catalogue.
CODED_DIMS = {"habit": "habit", "work_pattern": "work_pattern", "direction_of_mail": "direction"}


def fmt_num(v: Any, digits: int = 0, lang: str = "fr") -> str:
    """A number in the report's language (decimal comma and narrow space in French)."""
    return i18n.fmt_num(lang, v, digits)


def fmt_pct(v: Any, digits: int = 0, lang: str = "fr") -> str:
    """A 0-1 share as a percentage ("26 %" with a narrow no-break space in French)."""
    return i18n.fmt_pct(lang, v, digits)


def fmt_feature(feature: str, v: Any, lang: str = "fr") -> str:
    """A feature value with the precision its unit calls for (shares in %, hours, counts)."""
    if feature.endswith(("_share", "_rate")):
        return fmt_pct(v, 0, lang)
    return fmt_num(v, 1, lang)


def feature_label(feature: str, lang: str) -> str:
    return label(lang, "feature", feature)


_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\d+(?:\.\d+)?|>=|<=|==|!=|[<>()]|\S")
_OPS = {">=": "≥", "<=": "≤", "==": "=", "!=": "≠"}


def fmt_rule(rule: str, lang: str) -> str:
    """A habit rule (``unread_share >= 0.3``) in words: "Part non lue ≥ 30 %"."""
    out: list[str] = []
    share_next = False
    for tok in _TOKEN.findall(str(rule)):
        if tok in ("and", "or", "not"):
            out.append(tr(lang, tok))
        elif tok in _OPS or tok in "<>":
            out.append(_OPS.get(tok, tok))
        elif re.fullmatch(r"\d+(?:\.\d+)?", tok):
            v = float(tok)
            out.append(fmt_pct(v, 0, lang) if share_next else fmt_num(v, 0 if v.is_integer()
                                                                      else 1, lang))
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", tok):
            share_next = tok.endswith(("_share", "_rate"))
            out.append(feature_label(tok, lang))
        else:
            out.append(tok)
    return " ".join(out).replace("( ", "(").replace(" )", ")")


def group_label(dim: str, value: Any, lang: str) -> str:
    """A group's value as readers know it (a habit or working-pattern code by its name)."""
    if dim in CODED_DIMS:
        return label(lang, CODED_DIMS[dim], value)
    return str(value)


def sentence(lang: str, msgid: str, values: dict[str, Any]) -> Markup:
    """A report sentence in ``lang``, its ``{name}`` placeholders filled with ``values``.

    Why Markup: the catalogue's sentences are the report's own HTML (``<b>``, ``<code>``),
    while the values (numbers, dates, study.toml text) are escaped as they go in; a value
    that is itself a sentence (already Markup) goes in as it is."""
    text = Markup(tr(lang, msgid, "report"))
    return text.format(**values) if values else text


def _helpers(lang: str) -> dict[str, Any]:
    w = words(lang)
    return {
        "W": w,
        # the report's sentences: English msgid, msgctxt "report" of mailstudy/locale/*.po
        "_": lambda text, **values: sentence(lang, text, values),
        "defect_list": lambda counts: ", ".join(
            f"{label(lang, 'defect', k)} {fmt_num(v, 0, lang)}" for k, v in counts.items()),
        "num": lambda v, d=0: fmt_num(v, d, lang),
        "pct": lambda v, d=0: fmt_pct(v, d, lang),
        "fval": lambda f, v: fmt_feature(f, v, lang),
        "flabel": lambda f: feature_label(f, lang),
        "glabel": lambda dim, v: group_label(dim, v, lang),
        "code": lambda kind, v: label(lang, kind, v),
        "rule": lambda r: fmt_rule(r, lang),
        "date": lambda v: i18n.fmt_date(lang, v),
        "datetime": lambda v: i18n.fmt_datetime(lang, v),
        "time": lambda v: i18n.fmt_time(lang, v),
        "days": lambda ds: i18n.fmt_list(lang, i18n.weekday_names(lang, list(ds or []))),
        "items": lambda xs: i18n.fmt_list(lang, [str(x) for x in xs]),
        "or_todo": lambda v: v if v else w["to_complete"],
    }


_THRESHOLDS = {
    "absent_min_sent": "absent: fewer than {v} messages sent over the period",
    "standard_min_within": "standard: at least {v} of messages sent within working hours",
    "overnight_max_within": "overnight: under {v} within working hours",
    "always_on_min_each": "always on: over {v} before and over {v} after working hours",
}


def _thresholds(rules: dict[str, Any], lang: str) -> list[str]:
    """The working-pattern thresholds as sentences ("absent : moins de 5 messages...")."""
    out = []
    for key, v in (rules.get("work_pattern") or {}).items():
        text = _THRESHOLDS.get(key)
        if text is None:
            out.append(f"{label(lang, 'threshold', key)} = {fmt_num(v, 2, lang)}")
            continue
        shown = fmt_num(v, 0, lang) if key.endswith("_sent") else fmt_pct(v, 0, lang)
        out.append(tr(lang, text, v=shown))
    return out


def _holidays(value: Any, lang: str) -> str:
    if not value:
        return tr(lang, "none")
    if str(value).upper() == "FR":
        return tr(lang, "French public holidays")
    return str(value)


def _data_uri(path: Path) -> str | None:
    """A chart as a ``data:`` URI, so that the HTML report stays whole when sent alone."""
    import base64

    if not path.is_file():
        return None
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _inline_charts(ctx: dict[str, Any], base: Path | None) -> dict[str, Any]:
    tables = (ctx.get("profiles") or {}).get("tables") or {}
    for t in tables.values():
        t.setdefault("chart_uri", None)
        if base is not None and t.get("chart"):
            t["chart_uri"] = _data_uri((base / t["chart"]).resolve())
    return ctx


def _page_context(ctx: dict[str, Any], lang: str) -> dict[str, Any]:
    css = (Path(__file__).parent / "templates" / "audit.css").read_text(encoding="utf-8")
    return {**ctx, **_helpers(lang), "lang": lang, "css": css,
            "thresholds": _thresholds(ctx.get("rules") or {}, lang),
            "holidays": _holidays((ctx.get("study") or {}).get("public_holidays"), lang),
            "k_mode": label(lang, "k_mode", (ctx.get("personas") or {}).get("k_mode", ""))}


def render_audit(ctx: dict[str, Any], base: Path | None = None) -> str:
    """The whole report (annexes included) as one self-contained HTML document: the
    stylesheet inlined and, when ``base`` (the report's folder) is given, every chart
    embedded as a ``data:`` URI."""
    lang = ctx.get("lang", "fr")
    return render_html("audit.html", **_page_context(_inline_charts(ctx, base), lang))


def render_annex(name: str, ctx: dict[str, Any]) -> str:
    """One annex as a standalone HTML page (to hand to the DPO or the staff committee)."""
    if name not in ANNEXES:
        raise ValueError(f"unknown annex {name!r}")
    lang = ctx.get("lang", "fr")
    return render_html("audit_annex_page.html",
                       **{**_page_context(_inline_charts(ctx, None), lang), "annex": name})


def write_audit(ctx: dict[str, Any], out_dir: Path, html_path: Path,
                pdf_path: Path | None) -> dict[str, Path]:
    """Write the report (HTML, and PDF when ``pdf_path``) and the annexes as HTML pages.

    The HTML carries its stylesheet and charts inside (it is e-mailed alone); the stylesheet
    is also copied next to it for the annex pages. Links to ``../profiles`` CSV files and
    ``../personas`` sheets resolve from ``out/report/``.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    css = (Path(__file__).parent / "templates" / "audit.css").read_text(encoding="utf-8")
    (out_dir / "audit.css").write_text(css, encoding="utf-8")
    html = render_audit(ctx, out_dir)
    paths = {"html": write_html(html, html_path), "css": out_dir / "audit.css"}
    suffix = "" if ctx.get("lang", "fr") == "fr" else "-en"
    for name in ANNEXES:
        paths[f"annex_{name}"] = write_html(render_annex(name, ctx),
                                            out_dir / f"annexe-{name}{suffix}.html")
    if pdf_path is not None:
        paths["pdf"] = write_pdf(html, pdf_path, base_url=out_dir)
    return paths
