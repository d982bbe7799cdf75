"""Numbers and feature labels in plain words, French or English (units from
:data:`mailstudy.personas.wording.LABELS`)."""

from __future__ import annotations

import math

from mailstudy.personas.wording import LABELS


def format_number(v: float, digits: int, lang: str) -> str:
    """``v`` with ``digits`` decimals; French uses a narrow space and a decimal comma."""
    s = f"{v:,.{digits}f}"
    if lang == "fr":
        s = s.replace(",", "\u202f").replace(".", ",")
    return s


def fmt_value(feature: str, v: float, lang: str) -> str:
    """A feature value in plain units (% for shares, h for hours, KB/Ko for sizes)."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    kind = LABELS.get(feature, ("", "", "rate"))[2]
    nb = "\u202f" if lang == "fr" else ""
    if kind == "share":
        return f"{format_number(100 * v, 0, lang)}{nb}%"
    if kind == "hours":
        if v < 1:
            return f"{format_number(60 * v, 0, lang)} min"
        return f"{format_number(v, 1, lang)} h"
    if kind == "kb":
        return f"{format_number(v, 1, lang)} {'Ko' if lang == 'fr' else 'KB'}"
    if kind == "count":
        return format_number(v, 0, lang)
    return format_number(v, 1 if v < 100 else 0, lang)


def feature_label(feature: str, lang: str) -> str:
    """The one wording of a feature's name (falls back to the column name)."""
    lab = LABELS.get(feature)
    if lab is None:
        return feature.replace("_", " ")
    return lab[0] if lang == "fr" else lab[1]

