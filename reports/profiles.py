"""Charts of the group profiles (PNG, matplotlib Agg): rendering only.

Receives the released tables (suppression already applied) and draws, per table, the number of
people and the median with its interquartile range of each feature per group. Suppressed groups
are never drawn nor estimated: the caption and the tables say how many are hidden.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from mailstudy.i18n import axis_formatter, label  # noqa: E402

#: The chart is drawn at the width of the A4 text column (180 mm) and shown at 100 % of it,
#: so a font of MIN_FONT_PT in the figure is MIN_FONT_PT on paper (the issue measured 5-6 pt
#: when a 12-inch figure was shrunk onto the page).
CHART_WIDTH_IN = 7.0
MIN_FONT_PT = 8.5  # a tall chart may be shrunk a little to fit the page: still >= 8 pt
DPI = 150


def feature_label(feature: str, lang: str) -> str:
    return label(lang, "feature", feature)


_CODED = {"habit": "habit", "work_pattern": "work_pattern"}


def _group_labels(df: pd.DataFrame, lang: str) -> list[str]:
    dims = [c for c in df.columns[: list(df.columns).index("n_people")]]
    out = []
    for row in df[dims].itertuples(index=False):
        parts = [label(lang, _CODED[d], v) if d in _CODED else str(v)
                 for d, v in zip(dims, row, strict=True)]
        out.append(textwrap.fill(" · ".join(parts), 26))
    return out


#: Features drawn by default (all of them stay in the CSV): a chart of 8 panels reads well
#: on an A4 page and renders in under a second.
KEY_FEATURES = ["sent_per_day", "received_per_day", "after_hours_share", "reply_delay_h",
                "cc_share", "unread_share", "mobile_share"]


def _panel(ax: plt.Axes, df: pd.DataFrame, panel: str, y: list[int], lang: str) -> None:
    if panel == "n_people":
        ax.barh(y, df["n_people"].fillna(0), color="#4c72b0")
        ax.xaxis.set_major_formatter(axis_formatter(lang))
    else:
        med, q1, q3 = (df[f"{panel}_{s}"] for s in ("median", "q1", "q3"))
        ax.hlines(y, q1, q3, color="#8fa8c8", linewidth=3)
        ax.plot(med, y, "o", color="#c44e52", markersize=4)
        ax.xaxis.set_major_formatter(axis_formatter(
            lang, percent=panel.endswith(("_share", "_rate"))))
    ax.set_title(feature_label(panel, lang), fontsize=MIN_FONT_PT + 1)
    ax.tick_params(axis="both", labelsize=MIN_FONT_PT)
    ax.xaxis.set_major_locator(plt.MaxNLocator(4))
    ax.grid(axis="x", alpha=0.3)


def render_group_chart(df: pd.DataFrame, name: str, path: Path, *, lang: str = "fr",
                       features: list[str] | None = None) -> Path | None:
    """One PNG, as wide as the A4 text column: a panel for n_people, then one per feature
    (median dot, q1-q3 bar), two panels a row; shares on percent axes, numbers with the
    language's decimal mark. Hidden groups are left out of the chart (their count is in the
    caption and the tables); a table whose rows are all hidden gets no chart (None)."""
    lang = lang if lang in ("fr", "en") else "fr"
    hidden = df["suppressed"].fillna(False).astype(bool) if "suppressed" in df \
        else pd.Series(False, index=df.index)
    shown = df[~hidden.to_numpy()].reset_index(drop=True)
    if shown.empty:
        path.unlink(missing_ok=True)
        return None
    feats = [f for f in (features or KEY_FEATURES) if f"{f}_median" in shown.columns]
    labels = _group_labels(shown, lang)
    panels = ["n_people", *feats]
    ncol = 2
    nrow = math.ceil(len(panels) / ncol)
    # each group gets the height of its longest (wrapped) label, so labels never overlap
    per_group = 0.15 * max((lab.count("\n") + 1 for lab in labels), default=1) + 0.06
    row_h = max(1.4, per_group * len(labels) + 0.7)
    fig, axes = plt.subplots(nrow, ncol, figsize=(CHART_WIDTH_IN, row_h * nrow + 0.5),
                             squeeze=False, sharey=True)
    y = list(range(len(shown)))[::-1]
    for ax, panel in zip(axes.flat, panels, strict=False):
        _panel(ax, shown, panel, y, lang)
    for r in range(nrow):
        axes[r, 0].set_yticks(y)
        axes[r, 0].set_yticklabels(labels)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.suptitle(label(lang, "chart_title", name), fontsize=MIN_FONT_PT + 3)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / (row_h * nrow + 0.5)))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def render_group_charts(tables: dict[str, pd.DataFrame], out_dir: Path, *,
                        lang: str = "fr") -> list[Path]:
    """A chart per released table, ``by_<name>.png`` in ``out_dir``."""
    paths = [render_group_chart(df, name, Path(out_dir) / f"by_{name}.png", lang=lang)
             for name, df in tables.items() if len(df)]
    return [p for p in paths if p is not None]
