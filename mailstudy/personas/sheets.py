"""What the sheets show: the typical week of mail sent per persona (:func:`week_grid_from_messages`,
:func:`week_shares`), :func:`sheet_context` (every string and number ``reports.personas``
renders) and :func:`find_person_ids` (the check that no person identifier reaches a sheet)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from mailstudy.personas.formatting import feature_label
from mailstudy.personas.formatting import format_number as _num
from mailstudy.personas.model import PersonaModel
from mailstudy.personas.settings import JACCARD_TARGET, PSEUDONYM_RE
from mailstudy.personas.wording import WEEKDAYS


def week_grid_from_messages(messages: pd.DataFrame, assignments: pd.DataFrame) -> pd.DataFrame:
    """Counts of mail *sent* per persona, weekday (0 = Monday) and hour, from the message table
    (columns mailbox, direction, date_local) and the assignments. Pooled per persona, so each
    grid covers at least the minimum group size of people."""
    m = messages.loc[messages["direction"] == "sent", ["mailbox", "date_local"]].dropna()
    persona = assignments.set_index("person")["persona"]
    m = m.assign(persona=m["mailbox"].astype(str).map(persona)).dropna(subset=["persona"])
    t = pd.to_datetime(m["date_local"])
    grid = (pd.DataFrame({"persona": m["persona"].astype(int), "weekday": t.dt.day_of_week,
                          "hour": t.dt.hour}).groupby(["persona", "weekday", "hour"]).size()
            .rename("n").reset_index())
    return grid


def week_shares(week_grid: pd.DataFrame, persona: int) -> list[list[float]] | None:
    """7 x 24 shares of the persona's mail sent (rows Monday..Sunday), or None if no data."""
    g = week_grid[week_grid["persona"] == persona]
    total = float(g["n"].sum())
    if total <= 0:
        return None
    arr = np.zeros((7, 24))
    for r in g.itertuples():
        arr[int(r.weekday), int(r.hour)] += float(r.n)
    return (arr / total).tolist()


def _peak_text(shares: list[list[float]], lang: str) -> str:
    arr = np.asarray(shares)
    day_share = arr.sum(axis=1)
    hour_share = arr.sum(axis=0)
    d, h = int(day_share.argmax()), int(hour_share.argmax())
    days = WEEKDAYS[lang]
    if lang == "fr":
        return f"Envoie le plus le {days[d]}, surtout vers {h} h."
    return f"Sends most on {days[d]}, mostly around {h}:00."


def sheet_context(model: PersonaModel, week_grid: pd.DataFrame | None = None,
                  min_group_size: int = 10) -> dict[str, Any]:
    """Everything ``reports.personas`` renders, as ready-made strings and numbers: the
    renderer computes nothing. Holds no person identifier by construction."""
    lang = model.lang
    fr = lang == "fr"
    card = model.card
    n_hidden = sum(card.get("suppressed_cells", {}).values())
    caveats = [
        "Profils construits sur les seules métadonnées du courriel (volumes, horaires, "
        "destinataires, classement), jamais sur le contenu des messages." if fr else
        "Profiles built from mail metadata only (volumes, times, recipients, filing), never "
        "from message content.",
        "Un persona est un portrait composite : personne n'y correspond exactement." if fr else
        "A persona is a composite portrait: nobody matches it exactly.",
        "Objectifs et frustrations sont des hypothèses déduites des comportements par des "
        "règles fixes, à confirmer en atelier." if fr else
        "Goals and frustrations are hypotheses drawn from behaviours by fixed rules, to be "
        "checked in the workshop.",
        f"{card['n_people']} personnes profilées ; groupes de moins de {min_group_size} "
        f"personnes masqués ({n_hidden} cellules de composition masquées, petites ou "
        "complémentaires)." if fr else
        f"{card['n_people']} people profiled; groups under {min_group_size} people hidden "
        f"({n_hidden} composition cells hidden, small or complementary).",
    ]
    week_note = None
    if week_grid is None or len(week_grid) == 0:
        week_note = ("Semaine type non disponible : les horaires d'envoi n'ont pas été fournis."
                     if fr else "Typical week not available: sending times were not provided.")
    z = model.profiles
    personas = [_persona_entry(r, z, week_grid, week_note, lang)
                for r in model.descriptions.itertuples()]
    feats = list(z.columns)
    return {
        "lang": lang,
        "structure_ok": model.structure_ok,
        "warnings": model.warnings,
        "k": model.k, "n_people": card["n_people"],
        "silhouette": _num(card["silhouette"], 2, lang),
        "stability_median": _num(card["stability_median"], 2, lang),
        "stability_p10": _num(card["stability_p10"], 2, lang),
        "min_group_size": min_group_size,
        "personas": personas,
        "caveats": caveats,
        "week_note": week_note,
        "overview": {"features": [feature_label(f, lang) for f in feats],
                     "personas": [p["first_name"] for p in personas],
                     "z": [[round(float(z.loc[p["id"], f]), 2) for f in feats]
                           for p in personas]},
    }


def _persona_entry(r: Any, z: pd.DataFrame, week_grid: pd.DataFrame | None,
                   week_note: str | None, lang: str) -> dict[str, Any]:
    """One persona of :func:`sheet_context`: its texts, figures, profile and week."""
    fr = lang == "fr"
    i = int(r.persona)
    shares = None if week_note else week_shares(week_grid, i)
    zi = z.loc[i]
    top = zi.abs().sort_values(ascending=False, kind="stable").index[:8]
    jac_ok = bool(r.jaccard >= JACCARD_TARGET)
    own_caveats = []
    if not jac_ok:
        own_caveats.append(
            f"Persona moins stable (Jaccard {_num(r.jaccard, 2, lang)} < "
            f"{_num(JACCARD_TARGET, 2, lang)}) : ses contours bougent d'un échantillon à "
            "l'autre." if fr else
            f"Less stable persona (Jaccard {r.jaccard:.2f} < {JACCARD_TARGET:.2f}): its "
            "boundaries move from one sample to the next.")
    if len(r.traits) < 3:
        own_caveats.append(
            "Moins de trois traits distinctifs : ce persona ressemble à l'ensemble de "
            "l'organisation." if fr else
            "Fewer than three distinctive traits: this persona looks like the organisation "
            "as a whole.")
    return {
        "id": i, "name": r.name, "first_name": r.first_name, "epithet": r.epithet,
        "initials": r.first_name[:1].upper(), "tagline": r.tagline, "size": int(r.size),
        "share": f"{_num(100 * r.share, 0, lang)}{chr(0x202f) if fr else ''}%",
        "share_value": float(r.share),
        "stability": _num(float(r.jaccard), 2, lang), "stability_ok": jac_ok,
        "behaviours": list(r.behaviours), "goals": list(r.goals),
        "frustrations": list(r.frustrations), "key_figures": list(r.key_figures),
        "composition_level": r.composition_level,
        "composition_direction": r.composition_direction,
        "profile": [{"label": feature_label(f, lang), "z": round(float(zi[f]), 2)}
                    for f in top],
        "week": shares, "week_peak": _peak_text(shares, lang) if shares else None,
        "week_note": week_note or (None if shares else (
            "Aucun envoi daté pour ce persona." if fr else
            "No dated mail sent for this persona.")),
        "caveats": own_caveats,
    }


def find_person_ids(text: str, persons: Sequence[str]) -> list[str]:
    """Person identifiers (or anything shaped like a pseudonym) found in ``text``."""
    tokens = set(re.findall(r"[A-Za-z0-9_\-]+", text))
    hits = tokens & {str(p) for p in persons}
    hits |= set(PSEUDONYM_RE.findall(text))
    return sorted(hits)

