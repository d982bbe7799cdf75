"""Words for each persona: z-scores against the organisation, the sheet texts
(:func:`describe_personas`: epithet, tagline, behaviours, goals and frustrations, key figures),
the composition by level and direction with small cells hidden (:func:`suppress_cells`), and
the stability warnings.

A trait is a feature where the persona's mean differs from the organisation's by |z| >= 0.5
(z on the transformed, unscaled values: mean difference over the organisation's standard
deviation). The strongest unused trait gives the epithet and the tagline; traits give the
behaviours (3 to 5, padded with the next closest features when fewer are distinctive);
:data:`~mailstudy.personas.wording.RULES` turn traits into goals and frustrations; the three
largest |z| give the key figures (persona median vs organisation median).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mailstudy.personas.formatting import feature_label, fmt_value
from mailstudy.personas.formatting import format_number as _num
from mailstudy.personas.settings import (
    JACCARD_TARGET,
    PS_MIN,
    STABILITY_MEDIAN_TARGET,
    TRAIT_Z,
)
from mailstudy.personas.transform import Prepared
from mailstudy.personas.wording import (
    FALLBACK_FRUSTRATION,
    FALLBACK_GOAL,
    FIRST_NAMES,
    GENERIC_EN,
    GENERIC_FR,
    NEAR_EN,
    NEAR_FR,
    ORG_EN,
    ORG_FR,
    PLAIN,
    RULES,
    TRAITS,
)


def stability_warnings(ok: bool, ps: float, median: float, jac: dict[int, float],
                       merged: int, k: int, lang: str) -> list[str]:
    """Plain-language warnings of the card: no stable structure, unstable personas, merges.
    ``ps`` and ``median``: prediction strength and median bootstrap stability at the chosen
    k."""
    fr = lang == "fr"
    out = []
    if not ok:
        out.append(
            f"Pas de structure stable dans les données (force de prédiction {_num(ps, 2, lang)},"
            f" seuil {_num(PS_MIN, 1, lang)} ; stabilité médiane {_num(median, 2, lang)}, "
            f"seuil {_num(STABILITY_MEDIAN_TARGET, 1, lang)}) : ces profils sont des repères "
            "indicatifs, pas des groupes réels." if fr else
            f"No stable structure in the data (prediction strength {ps:.2f}, threshold "
            f"{PS_MIN:.1f}; median stability {median:.2f}, threshold "
            f"{STABILITY_MEDIAN_TARGET:.1f}): these profiles are rough landmarks, not real "
            "groups.")
    weak = [i for i, v in jac.items() if v < JACCARD_TARGET]
    if weak:
        ids = ", ".join(str(i) for i in weak)
        out.append(f"Persona(s) {ids} moins stable(s) (Jaccard < {_num(JACCARD_TARGET, 2, lang)})"
                   " : leurs contours bougent d'un échantillon à l'autre." if fr else
                   f"Persona(s) {ids} less stable (Jaccard < {JACCARD_TARGET:.2f}): their "
                   "boundaries move from one sample to the next.")
    if merged:
        out.append(f"{merged} groupe(s) trop petit(s) fusionné(s) avec le plus proche." if fr
                   else f"{merged} group(s) too small merged into the nearest one.")
    if k < 2:
        out.append("Un seul groupe après fusion : aucune typologie à présenter." if fr else
                   "A single group after merging: no typology to present.")
    return out


def zscores(natural: pd.DataFrame, labels: np.ndarray) -> pd.DataFrame:
    """Persona x feature z-scores: persona mean minus organisation mean, over its sd."""
    mu = natural.mean()
    sd = natural.std(ddof=0).replace(0, np.nan)
    means = natural.groupby(labels).mean()
    z = (means - mu) / sd
    z.index.name = "persona"
    return z.fillna(0.0)


def describe_personas(people: pd.DataFrame, labels: np.ndarray, z: pd.DataFrame,
                      prep: Prepared, jaccard: dict[int, float], min_group_size: int,
                      lang: str) -> pd.DataFrame:
    """One row per persona with every text of its sheet (rules in the module docstring)."""
    fr = lang == "fr"
    raw = people[prep.features].apply(pd.to_numeric, errors="coerce")
    org_med = raw.median()
    n = len(people)
    comp_level = _composition(people, labels, "level", min_group_size)
    comp_dir = _composition(people, labels, "direction", min_group_size)
    used_epithets: set[str] = set()
    used_frustrations: set[str] = set()  # two personas never share a frustration
    rows = []
    for i in sorted(int(v) for v in np.unique(labels)):
        zi = z.loc[i]
        order = zi.abs().sort_values(ascending=False, kind="stable").index.tolist()
        traits = [{"feature": f, "z": round(float(zi[f]), 2)} for f in order
                  if abs(zi[f]) >= TRAIT_Z]
        first, gender = FIRST_NAMES[(i - 1) % len(FIRST_NAMES)]
        med = raw[labels == i].median()
        epithet_trait = _epithet_trait(traits, used_epithets)
        used_epithets.add(epithet_trait.en)
        epithet = (epithet_trait.fr_f if gender == "f" else epithet_trait.fr_m) if fr \
            else epithet_trait.en
        behaviours = _behaviours(order, zi, med, org_med, lang)
        goals, frustrations = _goals_frustrations(zi, order, lang, used_frustrations)
        used_frustrations.update(frustrations)
        key_figures = [{"feature": f, "label": feature_label(f, lang),
                        "value": fmt_value(f, med[f], lang),
                        "org": fmt_value(f, org_med[f], lang),
                        "arrow": "▲" if zi[f] > 0 else "▼", "z": round(float(zi[f]), 2)}
                       for f in order[:3]]
        size = int((labels == i).sum())
        rows.append({
            "persona": i, "name": f"{first}, {epithet}", "first_name": first,
            "epithet": epithet,
            "tagline": epithet_trait.quote_fr if fr else epithet_trait.quote_en,
            "size": size, "share": round(size / n, 4), "jaccard": jaccard.get(i, float("nan")),
            "traits": traits, "behaviours": behaviours, "goals": goals,
            "frustrations": frustrations, "key_figures": key_figures,
            "composition_level": comp_level.get(i, {}),
            "composition_direction": comp_dir.get(i, {}),
        })
    return pd.DataFrame(rows)


def _epithet_trait(traits: list[dict[str, Any]], used: set[str]) -> Any:
    """The strongest trait with a wording no earlier persona took (two personas never share
    an epithet), else the plain one."""
    for t in traits:
        trait = TRAITS.get((t["feature"], 1 if t["z"] > 0 else -1))
        if trait is not None and trait.en not in used:
            return trait
    return PLAIN


def _behaviours(order: list[str], zi: pd.Series, med: pd.Series, org_med: pd.Series,
                lang: str) -> list[str]:
    """Up to five sentences on the persona's most distinctive features: its own wording for
    a strong trait, a generic or "near the organisation" sentence otherwise (at least three)."""
    fr = lang == "fr"
    behaviours: list[str] = []
    for f in order[:5]:
        v = fmt_value(f, med[f], lang)
        m = fmt_value(f, org_med[f], lang)
        trait = TRAITS.get((f, 1 if zi[f] > 0 else -1))
        if abs(zi[f]) >= TRAIT_Z and trait is not None:
            behaviours.append((trait.do_fr if fr else trait.do_en).format(v=v, m=m))
        elif abs(zi[f]) >= TRAIT_Z or len(behaviours) < 3:
            tmpl = (NEAR_FR if fr else NEAR_EN) if abs(zi[f]) < TRAIT_Z else \
                (GENERIC_FR if fr else GENERIC_EN)
            org = (ORG_FR if fr else ORG_EN).format(m=m)
            text = tmpl.format(label=feature_label(f, lang), v=v, org=org)
            behaviours.append(text[0].upper() + text[1:])
    return behaviours


def _goals_frustrations(zi: pd.Series, order: list[str], lang: str,
                        taken: set[str] | frozenset[str] = frozenset()
                        ) -> tuple[list[str], list[str]]:
    """Up to three goals and three frustrations from the persona's traits, strongest first;
    a frustration ``taken`` by an earlier (larger) persona goes to the next trait."""
    goals: list[str] = []
    frus: list[str] = []
    for f in order:
        if abs(zi[f]) < TRAIT_Z:
            break
        sign = 1 if zi[f] > 0 else -1
        for feat, s, kind, t_fr, t_en in RULES:
            if feat == f and s == sign:
                target = goals if kind == "goal" else frus
                text = t_fr if lang == "fr" else t_en
                if kind != "goal" and text in taken:
                    continue
                if len(target) < 3 and text not in target:
                    target.append(text)
    idx = 0 if lang == "fr" else 1
    return goals or [FALLBACK_GOAL[idx]], frus or [FALLBACK_FRUSTRATION[idx]]


def suppress_cells(table: pd.DataFrame, threshold: int) -> pd.DataFrame:
    """Which cells of a persona x category count table to hide (True = hidden), by
    ``anonymise.disclosure.suppress_linked``: cells under ``threshold`` (primary), then
    complementary cells so that none can be recovered by subtraction from a row total (the
    persona sizes are shown) or a column total (category sizes are published by the profile
    reports)."""
    from anonymise.disclosure import TOTAL, suppress_linked

    rows = [{"persona": str(i), "group": str(c), "n": int(table.loc[i, c])}
            for i in table.index for c in table.columns]
    rows += [{"persona": str(i), "group": TOTAL, "n": int(table.loc[i].sum())}
             for i in table.index]
    rows += [{"persona": TOTAL, "group": str(c), "n": int(table[c].sum())}
             for c in table.columns]
    rows.append({"persona": TOTAL, "group": TOTAL, "n": int(table.to_numpy().sum())})
    cells = pd.DataFrame(rows)
    hidden = suppress_linked(cells, ["persona", "group"], "n", threshold).suppressed.to_numpy()
    inner = table.shape[0] * table.shape[1]
    return pd.DataFrame(hidden[:inner].reshape(table.shape), index=table.index,
                        columns=table.columns)


def _composition(people: pd.DataFrame, labels: np.ndarray, col: str, min_group_size: int
                 ) -> dict[int, dict[str, Any]]:
    """Persona x ``col`` counts with small cells hidden. Hidden cells are pooled into one
    unnamed "other" line: naming them would tell that someone of a tiny group is in the
    persona."""
    if col not in people.columns:
        return {}
    cats = people[col].astype("object").where(people[col].notna(), "non renseigné").astype(str)
    tab = pd.crosstab(pd.Series(labels, name="persona"), pd.Series(cats.to_numpy(), name=col))
    hide = suppress_cells(tab, min_group_size).to_numpy()
    vals = tab.to_numpy()
    out: dict[int, dict[str, Any]] = {}
    for r, i in enumerate(tab.index):
        total = int(vals[r].sum())
        shown = [{"group": str(c), "n": int(vals[r, j]),
                  "share": round(float(vals[r, j]) / total, 3)}
                 for j, c in enumerate(tab.columns) if not hide[r, j] and vals[r, j] > 0]
        shown.sort(key=lambda d: (-d["n"], d["group"]))
        other = int(vals[r][hide[r]].sum())
        out[int(i)] = {"shown": shown, "n_hidden": int(hide[r].sum()),
                       "other_n": other if other >= min_group_size else None,
                       "other_share": round(other / total, 3) if other >= min_group_size
                       else None}
    return out

