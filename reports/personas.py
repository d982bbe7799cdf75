"""Persona sheets: an overview page and one A4 page per persona (HTML with print CSS, PDF).

Rendering only: :func:`build_sheets` receives the context built by
``mailstudy.personas.sheet_context`` (texts, formatted figures, z-scores, week shares) and
draws charts with matplotlib (SVG, so that they stay sharp when printed). It computes no
statistic; the illustration is an SVG placeholder with the persona's initial, never a photo.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from mailstudy.i18n import axis_formatter  # noqa: E402
from reports.render import render_html  # noqa: E402

TEMPLATE = "personas.html"

UI: dict[str, dict[str, str]] = {
    "fr": {
        "title": "Personas du courriel",
        "overview": "Vue d'ensemble",
        "persona": "Persona",
        "share": "Part des agents",
        "stability": "Stabilité",
        "behaviours": "Comportements",
        "goals": "Objectifs",
        "frustrations": "Frustrations",
        "key_figures": "Chiffres clés",
        "org_median": "médiane de l'organisation",
        "profile": "Profil par rapport à l'organisation (écart réduit)",
        "composition": "Composition",
        "by_level": "Par niveau hiérarchique",
        "by_direction": "Par direction",
        "others": "Autres (petits effectifs regroupés)",
        "others_hidden": "Autres petits effectifs, non détaillés",
        "week": "Semaine type (envois)",
        "caveats": "Limites",
        "quality": "Qualité de la typologie",
        "people": "personnes",
        "personas": "personas",
        "silhouette": "silhouette",
        "stab_median": "stabilité médiane",
        "stab_p10": "10e centile",
        "warning": "Attention",
        "illustration": "Illustration générique (pas une photo)",
        "comparison": "Comparaison des personas (écart réduit à l'organisation)",
        "quality_ok": "structure stable",
        "quality_ko": "pas de structure stable",
        "days": "lun mar mer jeu ven sam dim",
        "hour": "heure",
        "week_legend": "part des envois de la semaine",
        "z_explain": "Écart réduit : écart du persona à la moyenne de l'organisation, en "
                     "nombre d'écarts-types (0 : comme l'organisation ; au-delà de ±0,5, "
                     "pointillés, la différence est nette). À droite : plus que "
                     "l'organisation ; à gauche : moins.",
        "comp_hidden": "Aucune direction ne compte assez de membres de ce persona (au moins "
                       "{k}) pour être montrée sans risquer de désigner quelqu'un.",
    },
    "en": {
        "title": "E-mail personas",
        "overview": "Overview",
        "persona": "Persona",
        "share": "Share of staff",
        "stability": "Stability",
        "behaviours": "Behaviours",
        "goals": "Goals",
        "frustrations": "Frustrations",
        "key_figures": "Key figures",
        "org_median": "organisation median",
        "profile": "Profile against the organisation (z-score)",
        "composition": "Composition",
        "by_level": "By hierarchical level",
        "by_direction": "By department",
        "others": "Others (small groups pooled)",
        "others_hidden": "Other small groups, not detailed",
        "week": "Typical week (mail sent)",
        "caveats": "Caveats",
        "quality": "Quality of the typology",
        "people": "people",
        "personas": "personas",
        "silhouette": "silhouette",
        "stab_median": "median stability",
        "stab_p10": "10th percentile",
        "warning": "Warning",
        "illustration": "Generic illustration (not a photo)",
        "comparison": "Personas compared (z-score against the organisation)",
        "quality_ok": "stable structure",
        "quality_ko": "no stable structure",
        "days": "Mon Tue Wed Thu Fri Sat Sun",
        "hour": "hour",
        "week_legend": "share of the week's mail sent",
        "z_explain": "Z-score: the persona's distance from the organisation's mean, in "
                     "standard deviations (0: like the organisation; beyond ±0.5, dotted, "
                     "the difference is clear). Right: more than the organisation; left: "
                     "less.",
        "comp_hidden": "No department holds enough members of this persona (at least {k}) "
                       "to be shown without risking to point at someone.",
    },
}

_SVG_META = {"Date": None}


def _save(fig: Any, path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    # A fixed hash salt keeps the SVG identical from one run to the next.
    with matplotlib.rc_context({"svg.hashsalt": "mailstudy", "svg.fonttype": "path"}):
        fig.savefig(path, format="svg", bbox_inches="tight", metadata=_SVG_META)
    plt.close(fig)
    return f"{path.parent.name}/{path.name}"


FONT = 8  # points: the sheets print the charts at about their own size


def profile_chart(profile: list[dict[str, Any]], path: Path, lang: str = "fr") -> str:
    """Horizontal bars of the given z-scores (above the organisation to the right)."""
    labels = [p["label"] for p in profile][::-1]
    z = [p["z"] for p in profile][::-1]
    fig, ax = plt.subplots(figsize=(3.6, 0.24 * len(z) + 0.5))
    colors = ["#c0504d" if v > 0 else "#4f81bd" for v in z]
    ax.barh(range(len(z)), z, color=colors, height=0.65)
    ax.axvline(0, color="#333", lw=0.8)
    for x in (-0.5, 0.5):
        ax.axvline(x, color="#999", lw=0.5, ls=":")
    ax.set_yticks(range(len(z)), labels, fontsize=FONT)
    ax.tick_params(axis="x", labelsize=FONT)
    ax.xaxis.set_major_formatter(axis_formatter(lang, digits=1))
    lim = max(1.5, max((abs(v) for v in z), default=1.0) * 1.1)
    ax.set_xlim(-lim, lim)
    for s in ("top", "right"):
        ax.spines[s].set_visible(False)
    return _save(fig, path)


def week_chart(shares: list[list[float]], days: list[str], hour_label: str, path: Path,
               legend: str = "", lang: str = "fr") -> str:
    """Heat map hour x weekday of the given shares of mail sent, with its colour legend
    (percentages in the sheet's language)."""
    arr = np.asarray(shares)
    fig, ax = plt.subplots(figsize=(6.8, 1.9))
    im = ax.imshow(arr, aspect="auto", cmap="Oranges", interpolation="nearest", vmin=0)
    ax.set_yticks(range(7), days, fontsize=FONT)
    ax.set_xticks(range(0, 24, 2), [str(h) for h in range(0, 24, 2)], fontsize=FONT)
    ax.set_xlabel(hour_label, fontsize=FONT)
    for s in ax.spines.values():
        s.set_visible(False)
    cb = fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02)
    cb.ax.tick_params(labelsize=FONT)
    cb.ax.yaxis.set_major_formatter(axis_formatter(lang, percent=True, digits=1))
    cb.ax.yaxis.set_major_locator(plt.MaxNLocator(4))
    if legend:
        cb.set_label(legend, fontsize=FONT)
    return _save(fig, path)


def overview_chart(features: list[str], personas: list[str], z: list[list[float]],
                   path: Path, lang: str = "fr") -> str:
    """Heat map persona x feature of the given z-scores (diverging, centred on 0)."""
    arr = np.asarray(z, dtype=float)
    fig, ax = plt.subplots(figsize=(7.2, 0.35 * len(personas) + 2.6))
    lim = max(1.5, float(np.nanmax(np.abs(arr))) if arr.size else 1.5)
    im = ax.imshow(arr, aspect="auto", cmap="RdBu_r", vmin=-lim, vmax=lim)
    ax.set_yticks(range(len(personas)), personas, fontsize=FONT)
    ax.set_xticks(range(len(features)), features, fontsize=FONT, rotation=55, ha="right")
    cb = fig.colorbar(im, ax=ax, fraction=0.03, pad=0.02)
    cb.ax.tick_params(labelsize=FONT)
    cb.ax.yaxis.set_major_formatter(axis_formatter(lang, digits=1))
    return _save(fig, path)


def build_sheets(ctx: dict[str, Any], out_dir: Path) -> str:
    """Draw the charts under ``out_dir/charts`` and return the sheets' HTML (links relative
    to ``out_dir``, so write it there and render the PDF with ``base_url=out_dir``)."""
    lang = ctx["lang"]
    ui = UI[lang]
    charts = out_dir / "charts"
    for old in charts.glob("persona-*.svg") if charts.exists() else []:
        old.unlink()
    days = ui["days"].split()
    ov = ctx["overview"]
    overview_img = overview_chart(ov["features"], ov["personas"], ov["z"],
                                  charts / "persona-overview.svg", lang)
    pages = []
    for p in ctx["personas"]:
        page = dict(p)
        page["profile_img"] = profile_chart(p["profile"],
                                            charts / f"persona-{p['id']}-profile.svg", lang)
        page["week_img"] = (week_chart(p["week"], days, ui["hour"],
                                       charts / f"persona-{p['id']}-week.svg",
                                       ui["week_legend"], lang)
                            if p["week"] else None)
        pages.append(page)
    css = (Path(__file__).parent / "templates" / "personas.css").read_text(encoding="utf-8")
    return render_html(TEMPLATE, ctx=ctx, ui=ui, pages=pages, overview_img=overview_img,
                       css=css)
