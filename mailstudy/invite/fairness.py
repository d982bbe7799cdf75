"""What the outputs say: fairness of the probabilities, panel composition, reasons."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from mailstudy.i18n import fmt_pct
from mailstudy.invite.plan import USAGERS


def gini(x: Sequence[float] | np.ndarray) -> float:
    a = np.sort(np.asarray(x, float))
    n = len(a)
    if n == 0 or a.sum() == 0:
        return 0.0
    return float((2 * np.arange(1, n + 1) - n - 1) @ a / (n * a.sum()))


def fairness(probabilities: pd.Series, size: int) -> dict[str, float]:
    """Min probability over size/pool, Gini of probabilities, share of the pool below size/pool."""
    n = len(probabilities)
    fair = size / n if n else 0.0
    p = probabilities.to_numpy(float)
    return {"pool": n, "size": size, "equal_share": fair,
            "min_probability": float(p.min()) if n else 0.0,
            "max_probability": float(p.max()) if n else 0.0,
            "min_over_equal_share": float(p.min() / fair) if n else 0.0,
            "gini": gini(p),
            "share_below_equal_share": float((p < fair * (1 - 1e-6)).mean()) if n else 0.0}


def composition(panel: pd.DataFrame, population: pd.DataFrame, features: Sequence[str],
                min_group: int) -> tuple[pd.DataFrame, int]:
    """Panel vs population per feature value; values held by fewer than ``min_group`` people
    in the population are suppressed (with secondary suppression)."""
    rows = []
    n_pop, n_pan = len(population), len(panel)
    for f in features:
        pc = population[f].astype(str).value_counts()
        kc = panel[f].astype(str).value_counts()
        for v, c in sorted(pc.items()):
            rows.append({"feature": f, "value": v, "population": int(c),
                         "population_share": round(c / n_pop, 4),
                         "panel": int(kc.get(v, 0)),
                         "panel_share": round(kc.get(v, 0) / n_pan, 4) if n_pan else 0.0})
    t = pd.DataFrame(rows, columns=["feature", "value", "population", "population_share",
                                    "panel", "panel_share"])
    # Each feature is a line whose total (the population) is public: anonymise.disclosure
    # hides the small cells and enough others that none is the difference of shown ones.
    # Value labels stay (they are not counts); the counts of hidden cells go.
    from anonymise.disclosure import TOTAL, suppress_linked

    hidden = pd.Series(False, index=t.index)
    for _, grp in t.groupby("feature"):
        cells = pd.concat([grp[["value", "population"]],
                           pd.DataFrame({"value": [TOTAL], "population": [n_pop]})])
        cells.index = [*grp.index, -1]
        res = suppress_linked(cells, ["value"], "population", min_group)
        hidden.loc[grp.index] = res.suppressed.loc[grp.index].to_numpy(dtype=bool)
    cols = ["population", "population_share", "panel", "panel_share"]
    t["_n_true"] = t["population"]  # for the release ledger only, never published
    t[cols] = t[cols].astype("float64")
    t.loc[hidden, cols] = np.nan
    t["suppressed"] = hidden
    return t, int(hidden.sum())


WHY = {
    "fr": {"seat": "siège de rôle « {role} »", "strata": "strate {strata}",
           "prob": "probabilité d'être tiré·e : {p}"},
    "en": {"seat": "role seat '{role}'", "strata": "stratum {strata}",
           "prob": "selection probability: {p}"},
}


def explain(panel: pd.DataFrame, lang: str = "fr") -> pd.DataFrame:
    """One line per invitee: the role seat or the strata filled, and the probability."""
    w = WHY.get(lang, WHY["fr"])
    lines = []
    for _, r in panel.iterrows():
        what = (w["seat"].format(role=r["role"]) if r["role"] != USAGERS else
                w["strata"].format(strata=r["strata"]))
        if r["role"] != USAGERS:
            what += ", " + w["strata"].format(strata=r["strata"])
        p = fmt_pct(lang, r["selection_probability"], 1)  # "100,0 %" in French (Babel)
        lines.append(f"{what}; {w['prob'].format(p=p)}")
    return pd.DataFrame({"person": panel["person"], "seat": panel["seat"],
                         "role": panel["role"],
                         "selection_probability": panel["selection_probability"],
                         "why": lines})
