"""The choice of k: prediction strength (Tibshirani and Walther 2005) read with the bootstrap
stability, and the reason written to ``model.json``.

Why prediction strength. The earlier rule (silhouette x stability p10) rewarded the coarsest
stable split: silhouette falls with k on most data, and merging two real behaviours keeps a
partition just as stable. Prediction strength asks, for each k, whether *every* cluster is
reproducible: the people are split in two halves, each half is clustered, and for each cluster
of the test half we measure the share of its pairs that the training half's centroids also put
together; the minimum over clusters is the strength of that split (the mean over the repeated
splits is PS(k)). Over-splitting cuts one real group at random, so that cluster's pairs scatter
and PS drops; merging does not lower PS, so the rule takes the **largest** k whose PS reaches
:data:`~mailstudy.personas.settings.PS_MIN` (0.8, the authors' threshold) - the opposite bias
of the old one. The bootstrap stability (median ARI of the refits >= 0.8) must hold too: its
10th percentile is still shown, but with 3-start refits on a few hundred people it measures the
refits' local optima as much as the data (on a generated mail council of six behaviours and 200
agents, p10 was 0.66 at the true k, median 0.98). The half splits use 10 starts, like the
reference fits, for the same reason: with 3 they merged two small groups now and then, and
one merged pair is enough to sink the weakest cluster's score.
When no k passes both, the data hold no stable structure: the k of highest PS is returned,
flagged. Pure noise gives PS(2) near 0.5 in 19 dimensions.

Silhouette is still computed and shown (and warned about below 0.25) but no longer gates k:
it falls as real groups multiply, which is how six behaviours became four.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mailstudy.personas.formatting import format_number as _num
from mailstudy.personas.settings import N_INIT_REF, PS_MIN, STABILITY_MEDIAN_TARGET

RULE = (f"largest k whose prediction strength (Tibshirani and Walther 2005, mean over "
        f"repeated half splits of the weakest cluster's co-membership) is >= {PS_MIN} and "
        f"whose bootstrap stability median is >= {STABILITY_MEDIAN_TARGET}; none: no stable "
        "structure, the k of highest prediction strength is kept and flagged")


def seed_for(seed: int, *keys: int) -> int:
    """A fit's own seed, derived from the run's seed and the fit's keys (k, resample...)."""
    return int(np.random.SeedSequence([seed, *keys]).generate_state(1)[0])


def _split(n: int, seed: int, r: int) -> tuple[np.ndarray, np.ndarray]:
    # The same halves for every k, so that ks are compared on the same splits.
    perm = np.random.default_rng([seed, 11, r]).permutation(n)
    return perm[: n // 2], perm[n // 2:]


def _strength(test_labels: np.ndarray, predicted: np.ndarray) -> float:
    """Share of each test cluster's pairs that the training centroids keep together; the
    weakest cluster's (clusters of one person count as kept)."""
    worst = 1.0
    for c in np.unique(test_labels):
        members = predicted[test_labels == c]
        m = len(members)
        if m < 2:
            continue
        _, counts = np.unique(members, return_counts=True)
        worst = min(worst, float((counts * (counts - 1)).sum()) / (m * (m - 1)))
    return worst


def ps_split(X: np.ndarray, k: int, r: int, seed: int) -> tuple[int, int, float]:
    """Prediction strength of one half split, both ways (each half tests the other)."""
    from sklearn.cluster import KMeans

    a, b = _split(len(X), seed, r)
    fit_a = KMeans(n_clusters=k, n_init=N_INIT_REF, random_state=seed_for(seed, k, r, 1)
                   ).fit(X[a])
    fit_b = KMeans(n_clusters=k, n_init=N_INIT_REF, random_state=seed_for(seed, k, r, 2)
                   ).fit(X[b])
    both = (_strength(fit_b.labels_, fit_a.predict(X[b]))
            + _strength(fit_a.labels_, fit_b.predict(X[a]))) / 2
    return k, r, both


def admissible(row: Any) -> bool:
    """Whether a k passes both tests of the rule (row of the diagnostics)."""
    return bool(row.prediction_strength >= PS_MIN
                and row.stability_median >= STABILITY_MEDIAN_TARGET)


@dataclass(frozen=True)
class KChoice:
    """The k kept, whether the data hold stable structure, and why (for ``model.json``)."""

    k: int
    structure_ok: bool
    reason: str
    verdicts: dict[int, str]


def _verdict(row: Any, lang: str) -> str:
    fr = lang == "fr"
    why = []
    if row.prediction_strength < PS_MIN:
        why.append((f"force de prédiction {_num(row.prediction_strength, 2, lang)} < "
                    f"{_num(PS_MIN, 1, lang)}") if fr else
                   f"prediction strength {row.prediction_strength:.2f} < {PS_MIN:.1f}")
    if row.stability_median < STABILITY_MEDIAN_TARGET:
        why.append((f"stabilité médiane {_num(row.stability_median, 2, lang)} < "
                    f"{_num(STABILITY_MEDIAN_TARGET, 1, lang)}") if fr else
                   f"median stability {row.stability_median:.2f} < "
                   f"{STABILITY_MEDIAN_TARGET:.1f}")
    return "; ".join(why) or "admissible"


def choose_k(diagnostics: pd.DataFrame, fixed: int | None = None, lang: str = "en"
             ) -> KChoice:
    """The k to use (``fixed``, or by the rule of the module docstring) and the reason."""
    fr = lang == "fr"
    d = diagnostics.set_index("k", drop=False)
    verdicts = {int(r.k): _verdict(r, lang) for r in d.itertuples()}
    ok_ks = [int(r.k) for r in d.itertuples() if admissible(r)]
    if fixed is not None:
        ok = fixed in ok_ks
        text = (f"k = {fixed} imposé ; " if fr else f"k = {fixed} forced; ") + verdicts[fixed]
        return KChoice(fixed, ok, text, verdicts)
    if ok_ks:
        k = max(ok_ks)
        row = d.loc[k]
        nxt = d[d.k > k]
        after = "" if nxt.empty else (
            f" ; au-delà, k = {int(nxt.k.iloc[0])} : {verdicts[int(nxt.k.iloc[0])]}" if fr
            else f"; beyond it, k = {int(nxt.k.iloc[0])}: {verdicts[int(nxt.k.iloc[0])]}")
        text = (f"k = {k} : le plus grand k dont la force de prédiction "
                f"({_num(row.prediction_strength, 2, lang)}) atteint {_num(PS_MIN, 1, lang)} et "
                f"la stabilité médiane ({_num(row.stability_median, 2, lang)}) atteint "
                f"{_num(STABILITY_MEDIAN_TARGET, 1, lang)}{after}." if fr else
                f"k = {k}: the largest k whose prediction strength ({row.prediction_strength:.2f})"
                f" reaches {PS_MIN:.1f} and whose median stability ({row.stability_median:.2f}) "
                f"reaches {STABILITY_MEDIAN_TARGET:.1f}{after}.")
        return KChoice(k, True, text, verdicts)
    best = diagnostics.sort_values(["prediction_strength", "k"], ascending=[False, True]).iloc[0]
    k = int(best.k)
    text = (f"aucun k ne passe les deux tests (meilleure force de prédiction "
            f"{_num(best.prediction_strength, 2, lang)} à k = {k}) : pas de structure stable ; "
            f"k = {k} est gardé comme repère." if fr else
            f"no k passes both tests (best prediction strength {best.prediction_strength:.2f} "
            f"at k = {k}): no stable structure; k = {k} is kept as a landmark.")
    return KChoice(k, False, text, verdicts)
