"""Fitting: reference KMeans fits and bootstrap refits over a range of k, silhouette, the
choice of k, merging of small clusters, persona ids by size, per-persona Jaccard stability,
:func:`fit_personas` (the whole model) and :func:`assign_personas` (new people on fitted
personas, without refitting). The parallel refits use joblib (``n_jobs=2`` by default: both
cores of the target machine)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mailstudy.i18n import LANGS
from mailstudy.personas.choose import RULE, KChoice, choose_k, ps_split, seed_for
from mailstudy.personas.describe import describe_personas, stability_warnings, zscores
from mailstudy.personas.model import PersonaModel, card_centres, card_transform
from mailstudy.personas.settings import (
    DEFAULT_SEED,
    JACCARD_TARGET,
    MIN_SHARE,
    N_INIT_BOOT,
    N_INIT_REF,
    N_SPLIT,
    PS_MIN,
    SILHOUETTE_MAX_N,
    SILHOUETTE_MIN,
    STABILITY_MEDIAN_TARGET,
    STABILITY_P10_MIN,
    TRAIT_Z,
    PersonaError,
)
from mailstudy.personas.transform import Prepared, prepare_features


def _resample(n: int, seed: int, b: int) -> np.ndarray:
    # Same resamples for every k, so that ks are compared on the same draws.
    return np.random.default_rng([seed, 7, b]).integers(0, n, n)


def _ref_fit(X: np.ndarray, k: int, seed: int) -> tuple[int, np.ndarray, float]:
    from sklearn.cluster import KMeans

    km = KMeans(n_clusters=k, n_init=N_INIT_REF, random_state=seed_for(seed, k)).fit(X)
    labels = km.labels_.astype(np.int16)
    return k, labels, silhouette(X, labels, seed)


def silhouette(X: np.ndarray, labels: np.ndarray, seed: int) -> float:
    from sklearn import config_context
    from sklearn.metrics import silhouette_score

    if len(np.unique(labels)) < 2:
        return 0.0
    sample = SILHOUETTE_MAX_N if len(X) > SILHOUETTE_MAX_N else None
    # Distances in 64 MB chunks: the default (1 GB) makes silhouette the memory peak.
    with config_context(working_memory=64):
        return float(silhouette_score(X, labels, sample_size=sample, random_state=seed))


def _boot_fit(X: np.ndarray, k: int, b: int, seed: int,
              ref_labels: np.ndarray) -> tuple[int, int, float, np.ndarray, np.ndarray]:
    """One bootstrap refit: ARI against the reference partition on the resampled points."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score

    idx = _resample(len(X), seed, b)
    km = KMeans(n_clusters=k, n_init=N_INIT_BOOT, random_state=seed_for(seed, k, b)).fit(X[idx])
    uniq = np.unique(idx)
    lab = km.predict(X[uniq])
    ari = float(adjusted_rand_score(ref_labels[uniq], lab))
    return k, b, ari, uniq.astype(np.int32), lab.astype(np.int16)


def _batch(fn: Any, chunk: list[tuple[Any, ...]]) -> list[Any]:
    from threadpoolctl import threadpool_limits

    # One thread per fit: the parallelism is across fits (processes). KMeans' own OpenMP
    # threads on small data cost more than they bring, and fight the other worker's.
    with threadpool_limits(limits=1):
        return [fn(*t) for t in chunk]


def _run(tasks: list[tuple[Any, ...]], fn: Any, n_jobs: int) -> list[Any]:
    """Run ``fn`` over ``tasks`` on ``n_jobs`` processes (joblib), in order."""
    if n_jobs == 1 or len(tasks) <= 1:
        return _batch(fn, tasks)
    from joblib import Parallel, delayed

    n_chunks = min(len(tasks), 4 * n_jobs)
    chunks = [tasks[i::n_chunks] for i in range(n_chunks)]
    done = Parallel(n_jobs=n_jobs)(delayed(_batch)(fn, c) for c in chunks)
    out: list[Any] = [None] * len(tasks)
    for i, res in enumerate(done):
        out[i::n_chunks] = res
    return out


@dataclass
class _Fits:
    diagnostics: pd.DataFrame
    labels: dict[int, np.ndarray]
    boots: dict[int, list[tuple[np.ndarray, np.ndarray]]]


def fit_range(X: np.ndarray, ks: Sequence[int], *, n_boot: int, seed: int, threshold: int,
              n_jobs: int = 2, n_split: int = N_SPLIT) -> _Fits:
    """Reference fit, ``n_boot`` bootstrap refits and ``n_split`` prediction-strength half
    splits for each k; one row of diagnostics per k (``n_split=0``: no prediction strength).

    Results do not depend on ``n_jobs``: every fit has its own seed derived from (seed, k, b).
    """
    refs = _run([(X, k, seed) for k in ks], _ref_fit, n_jobs)
    labels = {k: lab for k, lab, _ in refs}
    sils = {k: s for k, _, s in refs}
    tasks = [(X, k, b, seed, labels[k]) for k in ks for b in range(n_boot)]
    out = _run(tasks, _boot_fit, n_jobs)
    strengths: dict[int, list[float]] = {k: [] for k in ks}
    for k, _r, value in _run([(X, k, r, seed) for k in ks for r in range(n_split)], ps_split,
                             n_jobs):
        strengths[k].append(value)
    aris: dict[int, list[float]] = {k: [] for k in ks}
    boots: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {k: [] for k in ks}
    for k, _b, ari, uniq, lab in out:
        aris[k].append(ari)
        boots[k].append((uniq, lab))
    rows = []
    for k in ks:
        a = np.asarray(aris[k]) if aris[k] else np.asarray([np.nan])
        ps = np.asarray(strengths[k]) if strengths[k] else np.asarray([np.nan])
        sizes = np.bincount(labels[k], minlength=k)
        rows.append({"k": k, "silhouette": round(sils[k], 4),
                     "stability_median": round(float(np.median(a)), 4),
                     "stability_p10": round(float(np.percentile(a, 10)), 4),
                     "prediction_strength": round(float(np.mean(ps)), 4),
                     "prediction_strength_sd": round(float(np.std(ps)), 4),
                     "smallest_ok": bool(sizes.min() >= threshold)})
    return _Fits(pd.DataFrame(rows), labels, boots)


def merge_small(X: np.ndarray, labels: np.ndarray, threshold: int) -> tuple[np.ndarray, int]:
    """Move the members of clusters under ``threshold`` to the nearest remaining centroid,
    smallest cluster first. Returns the new labels and how many clusters were merged."""
    labels = labels.copy()
    merged = 0
    while True:
        present, sizes = np.unique(labels, return_counts=True)
        if len(present) <= 1 or sizes.min() >= threshold:
            return labels, merged
        small = present[np.argmin(sizes)]
        rest = [c for c in present if c != small]
        cents = np.vstack([X[labels == c].mean(axis=0) for c in rest])
        members = np.flatnonzero(labels == small)
        d = ((X[members, None, :] - cents[None, :, :]) ** 2).sum(axis=2)
        labels[members] = np.asarray(rest)[d.argmin(axis=1)]
        merged += 1


def relabel_by_size(labels: np.ndarray) -> np.ndarray:
    """Persona ids 1..K, largest first; ties broken by first appearance (deterministic)."""
    present, first, sizes = np.unique(labels, return_index=True, return_counts=True)
    order = sorted(range(len(present)), key=lambda i: (-sizes[i], first[i]))
    mapping = {present[i]: rank + 1 for rank, i in enumerate(order)}
    return np.array([mapping[v] for v in labels], dtype=np.int16)


def jaccard_stability(labels: np.ndarray, boots: list[tuple[np.ndarray, np.ndarray]]
                      ) -> dict[int, float]:
    """Mean over refits of each persona's best Jaccard match among the refit's clusters."""
    ids = sorted(int(v) for v in np.unique(labels))
    acc: dict[int, list[float]] = {i: [] for i in ids}
    for uniq, lab in boots:
        ref = labels[uniq]
        for i in ids:
            a = ref == i
            na = int(a.sum())
            if na == 0:
                continue
            best = 0.0
            for d in np.unique(lab):
                bmask = lab == d
                inter = int((a & bmask).sum())
                best = max(best, inter / (na + int(bmask.sum()) - inter))
            acc[i].append(best)
    return {i: round(float(np.mean(v)), 4) if v else float("nan") for i, v in acc.items()}


def min_persona_size(n_people: int, min_group_size: int) -> int:
    """Smallest persona kept: the study's minimum group size or 5% of people, whichever is
    larger."""
    return max(int(min_group_size), math.ceil(MIN_SHARE * n_people))


def fit_personas(people: pd.DataFrame, k: int | str = "auto",
                 k_range: tuple[int, int] = (2, 10), n_boot: int = 50, seed: int = DEFAULT_SEED,
                 *, min_group_size: int = 10, lang: str = "fr",
                 features: Sequence[str] | None = None, n_jobs: int = 2,
                 n_split: int = N_SPLIT) -> PersonaModel:
    """Cluster ``people`` (the PEOPLE contract) into named personas.

    ``k``: "auto" (chosen in ``k_range``, inclusive, by the rule of
    :mod:`~mailstudy.personas.choose`) or a fixed number; ``n_boot`` bootstrap refits and
    ``n_split`` prediction-strength half splits per k; ``min_group_size`` from study.toml;
    ``lang`` of the texts (fr, en); ``features`` defaults to ``schema.FEATURE_NAMES``. Same
    inputs and seed give the same personas, whatever ``n_jobs``. Raises :class:`PersonaError`
    when there are too few people or a parameter is out of range. The card (``model.json``)
    records every candidate k's figures and why k was chosen (``k_choice``, ``k_reason``).

    End-to-end check against a generated council's ground truth::

        gt = pd.read_csv(council.ground_truth_csv)             # address, behaviour
        gt["person"] = [study.pseudonymiser().person(a) for a in gt.address]
        m = fit_personas(load_people(study), k="auto", min_group_size=study.min_group_size)
        j = gt.merge(m.assignments, on="person")
        assert m.k == gt.behaviour.nunique()
        assert adjusted_rand_score(j.behaviour, j.persona) >= 0.8
    """
    people = people.reset_index(drop=True)
    threshold = _check_inputs(people, lang, n_boot, n_split, min_group_size)
    prep = prepare_features(people, features)
    ks = _k_candidates(k, k_range, threshold, len(people))
    fits = fit_range(prep.X, ks, n_boot=n_boot, seed=seed, threshold=threshold,
                     n_jobs=n_jobs, n_split=n_split)
    choice = choose_k(fits.diagnostics, None if k == "auto" else int(k), lang)
    raw, n_merged = merge_small(prep.X, fits.labels[choice.k], threshold)
    labels = relabel_by_size(raw)
    jac = jaccard_stability(labels, fits.boots[choice.k])
    row = fits.diagnostics.set_index("k").loc[choice.k]
    warnings = stability_warnings(choice.structure_ok, float(row.prediction_strength),
                                  float(row.stability_median), jac, n_merged,
                                  len(np.unique(labels)), lang)
    z = zscores(prep.natural, labels)
    desc = describe_personas(people, labels, z, prep, jac, min_group_size, lang)
    names = dict(zip(desc.persona, desc.name, strict=True))
    assignments = pd.DataFrame({"person": people.person.astype(str).to_numpy(),
                                "persona": labels,
                                "persona_name": [names[int(v)] for v in labels]})
    card = {
        "k": int(len(desc)), "k_chosen": choice.k, "k_mode": "auto" if k == "auto" else "fixed",
        "k_range": [int(ks[0]), int(ks[-1])], "seed": int(seed), "n_boot": int(n_boot),
        "n_split": int(n_split), "n_people": int(len(people)),
        "method": f"KMeans (n_init {N_INIT_REF}, prediction-strength half splits too; "
        f"bootstrap refits n_init {N_INIT_BOOT}) on robust-scaled features",
        "silhouette": round(silhouette(prep.X, labels, seed), 4),
        **_chosen_figures(row, choice, fits.diagnostics), "warnings": warnings,
        **_in_both_languages(fits.diagnostics, None if k == "auto" else int(k), row, jac,
                             n_merged, len(desc), choice.structure_ok),
        "thresholds": _thresholds(threshold, min_group_size),
        "merged_small_clusters": int(n_merged),
        **_persona_summary(desc, jac), **_fitted_space(prep, labels),
        "diagnostics": fits.diagnostics.to_dict(orient="records"),
    }
    return PersonaModel(assignments, desc, z, card, fits.diagnostics, lang)


def _check_inputs(people: pd.DataFrame, lang: str, n_boot: int, n_split: int,
                  min_group_size: int) -> int:
    """Refuse bad parameters; the smallest persona size kept."""
    if lang not in ("fr", "en"):
        raise PersonaError("unknown language {lang!r} (fr or en)", lang=lang)
    if n_boot < 1:
        raise PersonaError("n_boot must be at least 1")
    if n_split < 1:
        raise PersonaError("n_split must be at least 1")
    if "person" not in people.columns:
        raise PersonaError("people table lacks the 'person' column")
    threshold = min_persona_size(len(people), min_group_size)
    if len(people) < 2 * threshold:
        raise PersonaError("{n_people} people: too few for two personas of at least "
                           "{threshold}", n_people=len(people), threshold=threshold)
    return threshold


def _chosen_figures(row: pd.Series, choice: KChoice, diagnostics: pd.DataFrame
                    ) -> dict[str, Any]:
    """The card's figures at the chosen k, and why it was chosen (every candidate's verdict:
    the figures themselves are in ``diagnostics``)."""
    return {
        "silhouette_chosen_k": float(row.silhouette),
        "stability_median": float(row.stability_median),
        "stability_p10": float(row.stability_p10),
        "prediction_strength": float(row.prediction_strength),
        "structure_ok": bool(choice.structure_ok),
        "k_reason": choice.reason,
        "k_choice": {"criterion": "prediction strength with bootstrap stability",
                     "rule": RULE, "chosen": choice.k, "reason": choice.reason,
                     "candidates": [{**r, "verdict": choice.verdicts[int(r["k"])]}
                                    for r in diagnostics.to_dict(orient="records")]},
    }


def _in_both_languages(diagnostics: pd.DataFrame, fixed: int | None, row: pd.Series,
                       jac: dict[int, float], n_merged: int, k: int, ok: bool
                       ) -> dict[str, Any]:
    """Why k was chosen and the card's warnings in French and in English: the report may be
    asked in the other language than the study's, and must not quote French in English."""
    return {
        "k_reasons": {lg: choose_k(diagnostics, fixed, lg).reason for lg in LANGS},
        "warnings_by_lang": {lg: stability_warnings(ok, float(row.prediction_strength),
                                                    float(row.stability_median), jac,
                                                    n_merged, k, lg) for lg in LANGS},
    }


def _thresholds(threshold: int, min_group_size: int) -> dict[str, Any]:
    return {"prediction_strength": PS_MIN, "stability_p10": STABILITY_P10_MIN,
            "silhouette": SILHOUETTE_MIN, "stability_median_target": STABILITY_MEDIAN_TARGET,
            "jaccard_target": JACCARD_TARGET, "trait_z": TRAIT_Z,
            "min_persona_size": threshold, "min_group_size": int(min_group_size)}


def _k_candidates(k: int | str, k_range: tuple[int, int], threshold: int, n_people: int
                  ) -> list[int]:
    """The ks to fit: the range (those leaving room for personas of ``threshold``) or k."""
    if k == "auto":
        lo, hi = int(k_range[0]), int(k_range[1])
        if not 2 <= lo <= hi:
            raise PersonaError("bad k_range {lo}..{hi}: needs 2 <= first <= last", lo=lo, hi=hi)
        return [kk for kk in range(lo, hi + 1) if kk * threshold <= n_people] or [lo]
    if int(k) < 2:
        raise PersonaError("k must be at least 2")
    return [int(k)]


def _persona_summary(desc: pd.DataFrame, jac: dict[int, float]) -> dict[str, Any]:
    """The card's per-persona entries (sizes, stability, traits, hidden composition cells)."""
    return {
        "suppressed_cells": {c: int(sum(v.get("n_hidden", 0) for v in desc[f"composition_{c}"]))
                             for c in ("level", "direction")},
        "personas": [{"persona": int(r.persona), "name": r.name, "size": int(r.size),
                      "share": float(r.share), "jaccard": float(r.jaccard),
                      "traits": [t["feature"] + ("+" if t["z"] > 0 else "-") for t in r.traits]}
                     for r in desc.itertuples()],
        "sizes": {str(int(r.persona)): int(r.size) for r in desc.itertuples()},
        "jaccard": {str(i): v for i, v in jac.items()},
    }


def _fitted_space(prep: Prepared, labels: np.ndarray) -> dict[str, Any]:
    """The card's feature transform and persona centres (mean scaled values per persona):
    what :func:`assign_personas` needs to place new people without refitting."""
    centres = {str(int(i)): [float(v) for v in prep.X[labels == i].mean(axis=0)]
               for i in np.unique(labels)}
    return {"features_used": prep.features, "features_dropped": prep.dropped,
            "transforms": prep.transforms, "transform": prep.transform.to_dict(),
            "centres": centres}


def assign_personas(model: PersonaModel | dict[str, Any], people: pd.DataFrame) -> pd.DataFrame:
    """Place ``people`` (e.g. a later campaign) on fitted personas, without refitting: the
    stored transform, then the nearest stored centre. ``model`` is a :class:`PersonaModel` or
    its card (``model.json`` read back with :func:`~mailstudy.personas.model.read_card`).
    Returns the PERSONAS columns (person, persona, persona_name).

    A stable public function: a follow-up campaign is compared with the first by placing its
    people here with the first campaign's card; the card keys it reads (``transform``,
    ``centres``, ``personas``) keep their meaning across versions."""
    card = model.card if isinstance(model, PersonaModel) else model
    if "person" not in people.columns:
        raise PersonaError("people table lacks the 'person' column")
    X = card_transform(card).transform(people)
    ids, centres = card_centres(card)
    distances = ((X[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
    labels = ids[distances.argmin(axis=1)]
    names = {int(p["persona"]): p["name"] for p in card["personas"]}
    return pd.DataFrame({"person": people.person.astype(str).to_numpy(), "persona": labels,
                         "persona_name": [names[int(v)] for v in labels]})
