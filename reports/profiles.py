"""Charts of the group profiles (PNG, matplotlib Agg): rendering only.

Receives the released tables (suppression already applied) and draws, per table, the number of
people and the median with its interquartile range of each feature per group. Suppressed cells
are drawn as an empty row marked as such, never estimated.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

FEATURE_LABELS: dict[str, dict[str, str]] = {
    "sent_per_day": {"fr": "Envoyés / jour ouvré", "en": "Sent / working day"},
    "received_per_day": {"fr": "Reçus / jour ouvré", "en": "Received / working day"},
    "after_hours_share": {"fr": "Part hors horaires", "en": "After-hours share"},
    "weekend_share": {"fr": "Part jours non ouvrés", "en": "Non-working-day share"},
    "workday_span_h": {"fr": "Amplitude de journée (h)", "en": "Workday span (h)"},
    "reply_delay_h": {"fr": "Délai de réponse (h)", "en": "Reply delay (h)"},
    "reply_rate": {"fr": "Taux de réponse", "en": "Reply rate"},
    "cc_share": {"fr": "Part reçue en copie", "en": "Received as Cc"},
    "recipients_per_sent": {"fr": "Destinataires / envoi", "en": "Recipients / sent"},
    "reply_all_rate": {"fr": "Taux « répondre à tous »", "en": "Reply-all rate"},
    "external_share": {"fr": "Part destinataires externes", "en": "External share"},
    "attachment_rate": {"fr": "Taux de pièces jointes", "en": "Attachment rate"},
    "sent_text_kb": {"fr": "Taille texte envoyé (Ko)", "en": "Sent text size (KB)"},
    "unread_share": {"fr": "Part non lue", "en": "Unread share"},
    "filing_rate": {"fr": "Taux de classement", "en": "Filing rate"},
    "folder_count": {"fr": "Nombre de dossiers", "en": "Folder count"},
    "bulk_share": {"fr": "Part listes / robots", "en": "Bulk share"},
    "mobile_share": {"fr": "Part mobile", "en": "Mobile share"},
    "forward_rate": {"fr": "Taux de transferts", "en": "Forward rate"},
}
TITLES = {
    "level": {"fr": "Par niveau hiérarchique", "en": "By hierarchical level"},
    "direction": {"fr": "Par direction", "en": "By direction"},
    "habit": {"fr": "Par habitude numérique", "en": "By digital habit"},
    "level_habit": {"fr": "Par niveau et habitude", "en": "By level and habit"},
    "work_pattern": {"fr": "Par rythme de travail", "en": "By working pattern"},
}
WORDS = {
    "n_people": {"fr": "Nombre de personnes", "en": "Number of people"},
    "suppressed": {"fr": "masqué", "en": "hidden"},
}


def _group_labels(df: pd.DataFrame) -> list[str]:
    dims = [c for c in df.columns[: list(df.columns).index("n_people")]]
    return [" · ".join(str(v) for v in row) for row in df[dims].itertuples(index=False)]


#: Features drawn by default (all of them stay in the CSV): a chart of 8 panels reads well
#: on an A4 page and renders in under a second.
KEY_FEATURES = ["sent_per_day", "received_per_day", "after_hours_share", "reply_delay_h",
                "cc_share", "unread_share", "mobile_share"]


def render_group_chart(df: pd.DataFrame, name: str, path: Path, *, lang: str = "fr",
                       features: list[str] | None = None) -> Path:
    """One PNG: a panel for n_people, then one per feature (median dot, q1-q3 bar)."""
    lang = lang if lang in ("fr", "en") else "fr"
    feats = [f for f in (features or KEY_FEATURES) if f"{f}_median" in df.columns]
    labels = _group_labels(df)
    hidden = df["suppressed"].fillna(False).astype(bool).tolist() if "suppressed" in df \
        else [False] * len(df)
    labels = [f"{lab} ({WORDS['suppressed'][lang]})" if h else lab
              for lab, h in zip(labels, hidden, strict=True)]
    panels = ["n_people", *feats]
    ncol = 4
    nrow = math.ceil(len(panels) / ncol)
    height = max(2.0, 0.22 * len(df) + 1.0)
    longest = max((len(x) for x in labels), default=10)
    width = 12 + 0.065 * longest
    fig, axes = plt.subplots(nrow, ncol, figsize=(width, height * nrow),
                             squeeze=False, sharey=True)
    y = list(range(len(df)))[::-1]
    for ax, panel in zip(axes.flat, panels, strict=False):
        if panel == "n_people":
            ax.barh(y, df["n_people"].fillna(0), color="#4c72b0")
            ax.set_title(WORDS["n_people"][lang], fontsize=9)
        else:
            med, q1, q3 = (df[f"{panel}_{s}"] for s in ("median", "q1", "q3"))
            ax.hlines(y, q1, q3, color="#8fa8c8", linewidth=3)
            ax.plot(med, y, "o", color="#c44e52", markersize=4)
            ax.set_title(FEATURE_LABELS[panel][lang], fontsize=9)
        ax.tick_params(axis="both", labelsize=7)
        ax.grid(axis="x", alpha=0.3)
    axes[0, 0].set_yticks(y)
    axes[0, 0].set_yticklabels(labels)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.suptitle(TITLES.get(name, {}).get(lang, name), fontsize=12)
    fig.subplots_adjust(left=min(0.5, (0.065 * longest + 0.3) / width), right=0.98, wspace=0.25,
                        hspace=0.45, top=1 - 0.6 / (height * nrow), bottom=0.08)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def render_group_charts(tables: dict[str, pd.DataFrame], out_dir: Path, *,
                        lang: str = "fr") -> list[Path]:
    """A chart per released table, ``by_<name>.png`` in ``out_dir``."""
    return [render_group_chart(df, name, Path(out_dir) / f"by_{name}.png", lang=lang)
            for name, df in tables.items() if len(df)]
