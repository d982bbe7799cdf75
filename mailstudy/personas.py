"""Personas: stable clusters of people by mail behaviour, named and described in plain words.

Why this shape. Workshop participants reason with personas, so a persona must be (1) real
structure, not an artefact of a seed, (2) safe, never pointing at a handful of people, and
(3) printable. Hence:

* **Transforms** (documented in ``model.json``): volumes, rates per day, delays, sizes and
  counts (:data:`LOG_FEATURES`) get ``log1p`` because their tails are long and a few heavy
  users would otherwise make their own cluster; shares stay as they are. Missing values take
  the feature's median (a person who never replies has no reply delay); a feature missing for
  more than half the people, or constant, is dropped. Each feature is then robustly scaled:
  minus the median, divided by IQR/1.349 (the standard deviation for normal data; the plain
  standard deviation when the IQR is 0), and clipped at +-5 so outliers cannot dominate.
* **KMeans** rather than Ward: its centroids assign resampled points (needed for bootstrap
  ARI), it costs O(n k) memory where Ward needs the O(n^2) distance matrix (200 MB at 5,000
  people, times 300 refits), and on robust-scaled features it finds the compact groups the
  sheets describe. Reference fits use 10 starts, bootstrap refits 3, all seeded.
* **k** is read from silhouette and bootstrap stability *together* (k=2 is always stable, a
  high silhouette can be a fluke): for each k, ``n_boot`` (default 50) refits on bootstrap
  resamples, each scored by the adjusted Rand index against the reference partition on the
  resampled points. A k is admissible when silhouette >= 0.25 and the 10th percentile of the
  ARIs >= 0.7; ``k="auto"`` takes the admissible k with the largest silhouette x stability p10
  (the smaller k on a tie): a k must be both well separated and reproducible. Silhouette alone
  over-splits (on the synthetic council it peaks, by 0.02, at k=6 where one planted behaviour is
  cut in two, while p10 drops from 0.98 to 0.80). With no admissible k the data hold no stable
  structure: the same compromise is still returned, flagged, and every output says so.
* **Small personas**: a cluster smaller than max(min_group_size, 5% of people) has its members
  moved to the nearest remaining centroid (merged), smallest first, until none is left.
* **Per-persona stability**: mean over refits of the best Jaccard match between the persona
  (on the resampled points) and a refit cluster (Hennig's clusterboot).
* **Words**: a trait is a feature where the persona's mean differs from the organisation's by
  |z| >= 0.5 (z on the transformed, unscaled values: mean difference over the organisation's
  standard deviation). The strongest unused trait gives the epithet and the tagline; traits give
  the behaviours (3 to 5, padded with the next closest features when fewer are distinctive);
  :data:`RULES` turn traits into goals and frustrations; the three largest |z| give the key
  figures (persona median vs organisation median).

Everything here is pure pandas/numpy on tables; :func:`run_personas` does the I/O.
The parallel refits use joblib (``n_jobs=2`` by default: both cores of the target machine).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mailstudy import schema
from mailstudy.errors import StageError

SILHOUETTE_MIN = 0.25
STABILITY_P10_MIN = 0.7
STABILITY_MEDIAN_TARGET = 0.8
JACCARD_TARGET = 0.75
TRAIT_Z = 0.5
MIN_SHARE = 0.05
CLIP = 5.0
MAX_MISSING = 0.5
N_INIT_REF = 10
N_INIT_BOOT = 3
SILHOUETTE_MAX_N = 5000  # above this, silhouette on a seeded sample (it is O(n^2))
DEFAULT_SEED = 20261126
LOG_FEATURES = frozenset({"sent_per_day", "received_per_day", "reply_delay_h",
                          "recipients_per_sent", "sent_text_kb", "folder_count"})
PSEUDONYM_RE = re.compile(r"\bp[0-9a-f]{16}\b")


class PersonaError(StageError, ValueError):
    """The people table cannot yield personas (too few people, no usable feature...)."""


# ---------------------------------------------------------------------------------------
# Transforms
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Prepared:
    """Features ready for clustering. ``natural`` holds the transformed but unscaled values
    (log1p where applied) on which the descriptive z-scores are computed."""

    X: np.ndarray
    natural: pd.DataFrame
    features: list[str]
    dropped: dict[str, str]
    transforms: dict[str, str]


def prepare_features(people: pd.DataFrame, features: Sequence[str] | None = None) -> Prepared:
    """Apply the documented transforms (module docstring) and return the scaled matrix."""
    feats = list(features) if features is not None else list(schema.FEATURE_NAMES)
    missing = [f for f in feats if f not in people.columns]
    if missing:
        raise PersonaError(f"people table lacks feature column(s): {', '.join(missing)}")
    used: list[str] = []
    dropped: dict[str, str] = {}
    transforms: dict[str, str] = {}
    natural: dict[str, pd.Series] = {}
    scaled: list[np.ndarray] = []
    for f in feats:
        x = pd.to_numeric(people[f], errors="coerce").astype("float64")
        if x.isna().mean() > MAX_MISSING:
            dropped[f] = "missing for more than half the people"
            continue
        log = f in LOG_FEATURES
        if log:
            x = np.log1p(x.clip(lower=0))
        x = x.fillna(x.median())
        q1, med, q3 = np.percentile(x.to_numpy(), [25, 50, 75])
        scale = (q3 - q1) / 1.349
        if not scale > 1e-12:
            scale = float(x.std(ddof=0))
        if not scale > 1e-12:
            dropped[f] = "constant"
            continue
        used.append(f)
        natural[f] = x
        scaled.append(np.clip((x.to_numpy() - med) / scale, -CLIP, CLIP))
        transforms[f] = ("log1p, " if log else "") + "median imputation, robust scaling " \
            f"(median, IQR/1.349), clip +-{CLIP:g}"
    if len(used) < 2:
        raise PersonaError("fewer than two usable features: personas need behaviour data")
    X = np.column_stack(scaled) if scaled else np.empty((len(people), 0))
    return Prepared(X, pd.DataFrame(natural, index=people.index), used, dropped, transforms)


# ---------------------------------------------------------------------------------------
# Fitting: reference fits, bootstrap refits, choice of k
# ---------------------------------------------------------------------------------------
def _seed_for(seed: int, *keys: int) -> int:
    return int(np.random.SeedSequence([seed, *keys]).generate_state(1)[0])


def _resample(n: int, seed: int, b: int) -> np.ndarray:
    # Same resamples for every k, so that ks are compared on the same draws.
    return np.random.default_rng([seed, 7, b]).integers(0, n, n)


def _ref_fit(X: np.ndarray, k: int, seed: int) -> tuple[int, np.ndarray, float]:
    from sklearn.cluster import KMeans

    km = KMeans(n_clusters=k, n_init=N_INIT_REF, random_state=_seed_for(seed, k)).fit(X)
    labels = km.labels_.astype(np.int16)
    return k, labels, _silhouette(X, labels, seed)


def _silhouette(X: np.ndarray, labels: np.ndarray, seed: int) -> float:
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
    km = KMeans(n_clusters=k, n_init=N_INIT_BOOT, random_state=_seed_for(seed, k, b)).fit(X[idx])
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
              n_jobs: int = 2) -> _Fits:
    """Reference fit and ``n_boot`` bootstrap refits for each k; one row of diagnostics per k.

    Results do not depend on ``n_jobs``: every fit has its own seed derived from (seed, k, b).
    """
    refs = _run([(X, k, seed) for k in ks], _ref_fit, n_jobs)
    labels = {k: lab for k, lab, _ in refs}
    sils = {k: s for k, _, s in refs}
    tasks = [(X, k, b, seed, labels[k]) for k in ks for b in range(n_boot)]
    out = _run(tasks, _boot_fit, n_jobs)
    aris: dict[int, list[float]] = {k: [] for k in ks}
    boots: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {k: [] for k in ks}
    for k, _b, ari, uniq, lab in out:
        aris[k].append(ari)
        boots[k].append((uniq, lab))
    rows = []
    for k in ks:
        a = np.asarray(aris[k]) if aris[k] else np.asarray([np.nan])
        sizes = np.bincount(labels[k], minlength=k)
        rows.append({"k": k, "silhouette": round(sils[k], 4),
                     "stability_median": round(float(np.median(a)), 4),
                     "stability_p10": round(float(np.percentile(a, 10)), 4),
                     "smallest_ok": bool(sizes.min() >= threshold)})
    return _Fits(pd.DataFrame(rows), labels, boots)


def choose_k(diagnostics: pd.DataFrame) -> tuple[int, bool]:
    """The k to use and whether the data hold stable structure (rule in the module docstring)."""
    d = diagnostics
    d = d.assign(score=d.silhouette.clip(lower=0) * d.stability_p10.clip(lower=0))
    ok = d[(d.silhouette >= SILHOUETTE_MIN) & (d.stability_p10 >= STABILITY_P10_MIN)]
    pool = ok if len(ok) else d
    best = pool.sort_values(["score", "k"], ascending=[False, True]).iloc[0]
    return int(best.k), bool(len(ok))


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


# ---------------------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------------------
@dataclass
class PersonaModel:
    """What :func:`fit_personas` returns.

    ``assignments``: one row per person (person, persona, persona_name), the PERSONAS contract.
    ``descriptions``: one row per persona (persona, name, first_name, epithet, tagline, size,
    share, jaccard, traits, behaviours, goals, frustrations, key_figures, composition_level,
    composition_direction); list/dict cells hold the sheet texts.
    ``profiles``: z-scores, persona x feature, against the organisation.
    ``card``: the model card written to ``out/personas/model.json``.
    ``diagnostics``: one row per k tried (silhouette, stability median and p10, smallest_ok).
    """

    assignments: pd.DataFrame
    descriptions: pd.DataFrame
    profiles: pd.DataFrame
    card: dict[str, Any]
    diagnostics: pd.DataFrame
    lang: str = "fr"

    @property
    def k(self) -> int:
        return int(self.card["k"])

    @property
    def structure_ok(self) -> bool:
        return bool(self.card["structure_ok"])

    @property
    def warnings(self) -> list[str]:
        return list(self.card["warnings"])


def min_persona_size(n_people: int, min_group_size: int) -> int:
    return max(int(min_group_size), math.ceil(MIN_SHARE * n_people))


def fit_personas(people: pd.DataFrame, k: int | str = "auto", k_range: tuple[int, int] = (3, 8),
                 n_boot: int = 50, seed: int = DEFAULT_SEED, *, min_group_size: int = 10,
                 lang: str = "fr", features: Sequence[str] | None = None,
                 n_jobs: int = 2) -> PersonaModel:
    """Cluster ``people`` (the PEOPLE contract) into named personas.

    ``k``: "auto" (chosen in ``k_range`` inclusive) or a fixed number; ``n_boot`` bootstrap
    refits per k; ``min_group_size`` from study.toml; ``lang`` of the texts (fr, en);
    ``features`` defaults to ``schema.FEATURE_NAMES``. Same inputs and seed give the same
    personas, whatever ``n_jobs``. Raises :class:`PersonaError` when there are too few people.

    End-to-end check against the synthetic council's ground truth::

        gt = pd.read_csv(council.ground_truth_csv)             # address, behaviour
        gt["person"] = [study.pseudonymiser().person(a) for a in gt.address]
        m = fit_personas(load_people(study), k="auto", min_group_size=study.min_group_size)
        j = gt.merge(m.assignments, on="person")
        assert m.k == len(synth.BEHAVIOURS)
        assert adjusted_rand_score(j.behaviour, j.persona) >= 0.8
    """
    if lang not in ("fr", "en"):
        raise PersonaError(f"unknown language {lang!r} (fr or en)")
    if n_boot < 1:
        raise PersonaError("n_boot must be at least 1")
    people = people.reset_index(drop=True)
    if "person" not in people.columns:
        raise PersonaError("people table lacks the 'person' column")
    n = len(people)
    threshold = min_persona_size(n, min_group_size)
    if n < 2 * threshold:
        raise PersonaError(f"{n} people: too few for two personas of at least {threshold}")
    prep = prepare_features(people, features)
    if k == "auto":
        lo, hi = int(k_range[0]), int(k_range[1])
        if not 2 <= lo <= hi:
            raise PersonaError(f"bad k range {lo}..{hi}")
        ks = [kk for kk in range(lo, hi + 1) if kk * threshold <= n] or [lo]
    else:
        kk = int(k)
        if kk < 2:
            raise PersonaError("k must be at least 2")
        ks = [kk]
    fits = fit_range(prep.X, ks, n_boot=n_boot, seed=seed, threshold=threshold, n_jobs=n_jobs)
    k_chosen, ok = choose_k(fits.diagnostics)
    if k != "auto":
        row = fits.diagnostics.iloc[0]
        ok = bool(row.silhouette >= SILHOUETTE_MIN and row.stability_p10 >= STABILITY_P10_MIN)
    raw, n_merged = merge_small(prep.X, fits.labels[k_chosen], threshold)
    labels = relabel_by_size(raw)
    jac = jaccard_stability(labels, fits.boots[k_chosen])
    sil_final = _silhouette(prep.X, labels, seed)
    row = fits.diagnostics.set_index("k").loc[k_chosen]
    warnings = _warnings(ok, float(row.silhouette), float(row.stability_p10), jac, n_merged,
                         len(np.unique(labels)), lang)
    z = _zscores(prep.natural, labels)
    desc = describe_personas(people, labels, z, prep, jac, min_group_size, lang)
    names = dict(zip(desc.persona, desc.name, strict=True))
    assignments = pd.DataFrame({"person": people.person.astype(str).to_numpy(),
                                "persona": labels,
                                "persona_name": [names[int(v)] for v in labels]})
    card = {
        "k": int(len(desc)), "k_chosen": k_chosen, "k_mode": "auto" if k == "auto" else "fixed",
        "k_range": [int(ks[0]), int(ks[-1])], "seed": int(seed), "n_boot": int(n_boot),
        "n_people": int(n), "method": f"KMeans (n_init {N_INIT_REF}, bootstrap refits "
        f"n_init {N_INIT_BOOT}) on robust-scaled features",
        "silhouette": round(sil_final, 4), "silhouette_chosen_k": float(row.silhouette),
        "stability_median": float(row.stability_median),
        "stability_p10": float(row.stability_p10),
        "structure_ok": bool(ok), "warnings": warnings,
        "thresholds": {"silhouette": SILHOUETTE_MIN, "stability_p10": STABILITY_P10_MIN,
                       "stability_median_target": STABILITY_MEDIAN_TARGET,
                       "jaccard_target": JACCARD_TARGET, "trait_z": TRAIT_Z,
                       "min_persona_size": threshold, "min_group_size": int(min_group_size)},
        "merged_small_clusters": int(n_merged),
        "suppressed_cells": {c: int(sum(v.get("n_hidden", 0) for v in desc[f"composition_{c}"]))
                             for c in ("level", "direction")},
        "personas": [{"persona": int(r.persona), "name": r.name, "size": int(r.size),
                      "share": float(r.share), "jaccard": float(r.jaccard),
                      "traits": [t["feature"] + ("+" if t["z"] > 0 else "-") for t in r.traits]}
                     for r in desc.itertuples()],
        "sizes": {str(int(r.persona)): int(r.size) for r in desc.itertuples()},
        "jaccard": {str(i): v for i, v in jac.items()},
        "features_used": prep.features, "features_dropped": prep.dropped,
        "transforms": prep.transforms,
        "diagnostics": fits.diagnostics.to_dict(orient="records"),
    }
    return PersonaModel(assignments, desc, z, card, fits.diagnostics, lang)


def _warnings(ok: bool, sil: float, p10: float, jac: dict[int, float], merged: int, k: int,
              lang: str) -> list[str]:
    fr = lang == "fr"
    out = []
    if not ok:
        out.append(
            f"Pas de structure stable dans les données (silhouette {_num(sil, 2, lang)}, seuil "
            f"{_num(SILHOUETTE_MIN, 2, lang)} ; stabilité au 10e centile {_num(p10, 2, lang)}, "
            f"seuil {_num(STABILITY_P10_MIN, 1, lang)}) : ces profils sont des repères "
            "indicatifs, pas des groupes réels." if fr else
            f"No stable structure in the data (silhouette {sil:.2f}, threshold "
            f"{SILHOUETTE_MIN:.2f}; stability 10th percentile {p10:.2f}, threshold "
            f"{STABILITY_P10_MIN:.1f}): these profiles are rough landmarks, not real groups.")
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


def _zscores(natural: pd.DataFrame, labels: np.ndarray) -> pd.DataFrame:
    mu = natural.mean()
    sd = natural.std(ddof=0).replace(0, np.nan)
    means = natural.groupby(labels).mean()
    z = (means - mu) / sd
    z.index.name = "persona"
    return z.fillna(0.0)


# ---------------------------------------------------------------------------------------
# Words
# ---------------------------------------------------------------------------------------
def _num(v: float, digits: int, lang: str) -> str:
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
        return f"{_num(100 * v, 0, lang)}{nb}%"
    if kind == "hours":
        if v < 1:
            return f"{_num(60 * v, 0, lang)} min"
        return f"{_num(v, 1, lang)} h"
    if kind == "kb":
        return f"{_num(v, 1, lang)} {'Ko' if lang == 'fr' else 'KB'}"
    if kind == "count":
        return _num(v, 0, lang)
    return _num(v, 1 if v < 100 else 0, lang)


def feature_label(feature: str, lang: str) -> str:
    lab = LABELS.get(feature)
    if lab is None:
        return feature.replace("_", " ")
    return lab[0] if lang == "fr" else lab[1]


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
    rows = []
    for i in sorted(int(v) for v in np.unique(labels)):
        zi = z.loc[i]
        order = zi.abs().sort_values(ascending=False, kind="stable").index.tolist()
        traits = [{"feature": f, "z": round(float(zi[f]), 2)} for f in order
                  if abs(zi[f]) >= TRAIT_Z]
        first, gender = FIRST_NAMES[(i - 1) % len(FIRST_NAMES)]
        med = raw[labels == i].median()
        epithet_trait = PLAIN
        for t in traits:
            tr = TRAITS.get((t["feature"], 1 if t["z"] > 0 else -1))
            if tr is not None and tr.en not in used_epithets:
                epithet_trait = tr
                break
        used_epithets.add(epithet_trait.en)
        epithet = (epithet_trait.fr_f if gender == "f" else epithet_trait.fr_m) if fr \
            else epithet_trait.en
        behaviours = []
        for f in order[:5]:
            v = fmt_value(f, med[f], lang)
            m = fmt_value(f, org_med[f], lang)
            tr = TRAITS.get((f, 1 if zi[f] > 0 else -1))
            if abs(zi[f]) >= TRAIT_Z and tr is not None:
                behaviours.append((tr.do_fr if fr else tr.do_en).format(v=v, m=m))
            elif abs(zi[f]) >= TRAIT_Z or len(behaviours) < 3:
                tmpl = (NEAR_FR if fr else NEAR_EN) if abs(zi[f]) < TRAIT_Z else \
                    (GENERIC_FR if fr else GENERIC_EN)
                org = (ORG_FR if fr else ORG_EN).format(m=m)
                text = tmpl.format(label=feature_label(f, lang), v=v, org=org)
                behaviours.append(text[0].upper() + text[1:])
        goals, frustrations = _goals_frustrations(zi, order, lang)
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


def _goals_frustrations(zi: pd.Series, order: list[str], lang: str
                        ) -> tuple[list[str], list[str]]:
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


# ---------------------------------------------------------------------------------------
# Typical week
# ---------------------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------------------
# What the sheets show
# ---------------------------------------------------------------------------------------
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
    personas = []
    for r in model.descriptions.itertuples():
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
        personas.append({
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
        })
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


def find_person_ids(text: str, persons: Sequence[str]) -> list[str]:
    """Person identifiers (or anything shaped like a pseudonym) found in ``text``."""
    tokens = set(re.findall(r"[A-Za-z0-9_\-]+", text))
    hits = tokens & {str(p) for p in persons}
    hits |= set(PSEUDONYM_RE.findall(text))
    return sorted(hits)


# ---------------------------------------------------------------------------------------
# The stage: files in, files out
# ---------------------------------------------------------------------------------------
def write_outputs(model: PersonaModel, data_dir: Path, out_dir: Path,
                  week_grid: pd.DataFrame | None = None, min_group_size: int = 10,
                  pdf: bool = True) -> dict[str, Path]:
    """Write ``personas.parquet`` under ``data_dir`` and model.json + sheets under ``out_dir``.
    Refuses to write a sheet that would contain a person identifier."""
    import pyarrow as pa

    from mailstudy.store import atomic_write_table
    from reports.personas import build_sheets

    out_dir.mkdir(parents=True, exist_ok=True)
    a = schema.check(model.assignments, "personas", extra_ok=False)
    table = pa.Table.from_pandas(a, schema=schema.arrow_schema("personas"),
                                 preserve_index=False)
    paths = {"assignments": data_dir / "personas.parquet"}
    atomic_write_table(table, paths["assignments"])
    paths["card"] = out_dir / "model.json"
    paths["card"].write_text(json.dumps(model.card, ensure_ascii=False, indent=2),
                             encoding="utf-8")
    ctx = sheet_context(model, week_grid, min_group_size)
    html = build_sheets(ctx, out_dir)
    leaked = find_person_ids(html, model.assignments.person.tolist())
    if leaked:
        raise PersonaError(f"refusing to write sheets: {len(leaked)} person identifier(s) "
                           "would appear in them")
    from reports.render import write_html, write_pdf

    paths["html"] = write_html(html, out_dir / "personas.html")
    if pdf:
        paths["pdf"] = write_pdf(html, out_dir / "personas.pdf", base_url=out_dir)
    return paths


def release_sizes(study: Any, model: PersonaModel) -> PersonaModel:
    """Persona sizes and shares through the release gate: after one person left, her
    persona's size would drop by one; the sizes of the earlier release then stand."""
    from mailstudy.release import publish_table

    d = model.descriptions
    table = pd.DataFrame({"persona": d["persona"].astype(int).astype(str),
                          "n_people": d["size"].astype(int), "suppressed": False})
    n = int(model.card["n_people"])
    shown, held = publish_table(study, "personas/sizes", table, table["n_people"],
                                population=n, dims=["persona"])
    if not held:
        return model
    sizes = {str(p): int(v) for p, v in zip(shown["persona"], shown["n_people"], strict=True)}
    total = sum(sizes.values()) or 1
    desc = d.copy()
    desc["size"] = [sizes.get(str(int(p)), int(v)) for p, v in zip(d["persona"], d["size"],
                                                                    strict=True)]
    desc["share"] = [round(v / total, 4) for v in desc["size"]]
    card = dict(model.card)
    card["personas"] = [{**c, "size": sizes.get(str(c["persona"]), c["size"]),
                         "share": round(sizes.get(str(c["persona"]), c["size"]) / total, 4)}
                        for c in card["personas"]]
    card["sizes"] = {k: sizes.get(k, v) for k, v in card["sizes"].items()}
    card["n_people"] = total
    card["held_back_by_release_gate"] = True
    return PersonaModel(model.assignments, desc, model.profiles, card, model.diagnostics,
                        model.lang)


def _sent_week_grid(messages_dir: Path, assignments: pd.DataFrame) -> pd.DataFrame | None:
    from mailstudy.store import read_messages

    if not messages_dir.exists():
        return None
    try:
        m = read_messages(messages_dir, columns=["mailbox", "direction", "date_local"])
    except Exception:  # noqa: BLE001 - the week chart is optional; the sheet says it is missing
        return None
    return week_grid_from_messages(m, assignments) if len(m) else None


def run_personas(study: Any, k: int | str | None = None, lang: str | None = None,
                 seed: int | None = None, n_boot: int | None = None,
                 week_grid: pd.DataFrame | None = None, n_jobs: int = 2,
                 pdf: bool = True) -> tuple[PersonaModel, dict[str, Path]]:
    """The ``personas`` stage on a study: reads ``data/people.parquet``, writes
    ``data/personas.parquet``, ``out/personas/model.json`` and the sheets. Options default to
    study.toml's ``[personas]`` and ``[report]`` sections. The typical week is computed from
    ``data/messages`` unless ``week_grid`` is given."""
    cfg = study.section("personas")
    path = study.data / "people.parquet"
    if not path.exists():
        raise FileNotFoundError("data/people.parquet not found: run 'mailstudy profile' first")
    people = schema.check(pd.read_parquet(path), "people")
    k_val: int | str = k if k is not None else cfg.get("k", "auto")
    if isinstance(k_val, str) and k_val != "auto":
        if not k_val.isdigit():
            raise PersonaError(f"--k must be 'auto' or a number, not {k_val!r}")
        k_val = int(k_val)
    model = fit_personas(
        people, k=k_val, k_range=(int(cfg.get("k_min", 3)), int(cfg.get("k_max", 8))),
        n_boot=int(n_boot if n_boot is not None else cfg.get("bootstrap", 50)),
        seed=int(seed if seed is not None else cfg.get("seed", DEFAULT_SEED)),
        min_group_size=study.min_group_size,
        lang=lang or study.section("report").get("lang", "fr"), n_jobs=n_jobs)
    from mailstudy.release import held_whole

    out_dir = study.catalog.path("persona_outputs")
    card = study.catalog.path("persona_model")
    if card.exists() and held_whole(study, "personas/sizes", int(model.card["n_people"])):
        # Between 1 and k-1 people came or went since the last release: a new set of sheets
        # would show where they were. The published sheets stand; the assignments (operator
        # and analysis zones) follow the data.
        study.catalog.write_table("personas", model.assignments)
        release_sizes(study, model)  # records the held-back sizes in the open release
        return model, {"assignments": study.catalog.path("personas"), "card": card,
                       **{k: out_dir / f"personas.{k}" for k in ("html", "pdf")
                          if (out_dir / f"personas.{k}").exists()}}
    model = release_sizes(study, model)
    if week_grid is None:
        week_grid = _sent_week_grid(study.messages_dir, model.assignments)
    paths = write_outputs(model, study.data, out_dir, week_grid, study.min_group_size, pdf=pdf)
    return model, paths


# ---------------------------------------------------------------------------------------
# Synthetic people with planted groups (tests, benchmarks, demos)
# ---------------------------------------------------------------------------------------
# Latent signature of each planted group: features shifted up (+) or down (-).
_PLANTED: list[dict[str, int]] = [
    {"after_hours_share": 1, "weekend_share": 1, "workday_span_h": 1, "mobile_share": 1},
    {"filing_rate": 1, "folder_count": 1, "unread_share": -1, "reply_rate": 1},
    {"received_per_day": 1, "cc_share": 1, "unread_share": 1, "bulk_share": 1},
    {"sent_per_day": -1, "received_per_day": -1, "reply_delay_h": 1, "attachment_rate": -1},
    {"external_share": 1, "attachment_rate": 1, "sent_text_kb": 1, "recipients_per_sent": 1},
    {"sent_per_day": 1, "recipients_per_sent": 1, "reply_all_rate": 1, "forward_rate": 1},
]
# Feature -> (typical value, kind): log-normal rates, logistic shares, bounded hours.
_BASE: dict[str, tuple[float, str]] = {
    "sent_per_day": (8.0, "log"), "received_per_day": (30.0, "log"),
    "after_hours_share": (0.08, "share"), "weekend_share": (0.02, "share"),
    "workday_span_h": (7.0, "hours"), "reply_delay_h": (3.0, "log"),
    "reply_rate": (0.4, "share"), "cc_share": (0.3, "share"),
    "recipients_per_sent": (2.0, "log"), "reply_all_rate": (0.2, "share"),
    "external_share": (0.15, "share"), "attachment_rate": (0.25, "share"),
    "sent_text_kb": (1.5, "log"), "unread_share": (0.1, "share"),
    "filing_rate": (0.3, "share"), "folder_count": (12.0, "log"),
    "bulk_share": (0.2, "share"), "mobile_share": (0.1, "share"),
    "forward_rate": (0.08, "share"),
}


def synthetic_people(n: int = 400, groups: int = 4, seed: int = 0, *,
                     sizes: Sequence[float] | None = None, shift: float = 1.6,
                     noise: float = 0.5, extra_features: int = 0
                     ) -> tuple[pd.DataFrame, np.ndarray]:
    """A PEOPLE-shaped table with ``groups`` planted behaviour groups (``shift`` latent units
    apart on four features each, within-group noise ``noise``) and the true group of each row.
    ``groups=1`` gives pure noise. ``extra_features`` adds unstructured columns extra_1...
    """
    rng = np.random.default_rng(seed)
    if sizes is None:
        w = np.arange(groups, 0, -1, dtype=float) + groups
        sizes = w / w.sum()
    p = np.asarray(sizes, dtype=float)
    counts = np.floor(p / p.sum() * n).astype(int)
    counts[0] += n - counts.sum()
    truth = np.repeat(np.arange(groups), counts)
    feats = list(_BASE)
    latent = rng.normal(0.0, noise, size=(n, len(feats)))
    if groups > 1:
        for g in range(groups):
            sig = _PLANTED[g % len(_PLANTED)]
            for f, s in sig.items():
                latent[truth == g, feats.index(f)] += s * shift
    cols: dict[str, Any] = {}
    for j, f in enumerate(feats):
        base, kind = _BASE[f]
        x = latent[:, j]
        if kind == "log":
            v = np.exp(np.log(base) + 0.6 * x)
        elif kind == "share":
            lo = math.log(base / (1 - base))
            v = 1 / (1 + np.exp(-(lo + 0.8 * x)))
        else:
            v = np.clip(base + 1.5 * x, 0.5, 16)
        cols[f] = v
    cols["folder_count"] = np.round(cols["folder_count"])
    for e in range(extra_features):
        cols[f"extra_{e + 1}"] = rng.normal(size=n)
    levels = ["Direction générale", "Directeur", "Chef de service", "Chargé de mission", "Agent"]
    dirs = ["Finances", "Ressources humaines", "Culture", "Transports", "Éducation", "Numérique"]
    person = [f"p{v:016x}" for v in rng.integers(0, 2**63, size=n, dtype=np.int64)]
    lvl = rng.choice(len(levels), size=n, p=[0.02, 0.08, 0.2, 0.3, 0.4])
    df = pd.DataFrame({
        "person": person,
        "level": [levels[i] for i in lvl], "level_rank": lvl.astype(np.int16),
        "direction": rng.choice(dirs, size=n, p=[0.3, 0.2, 0.2, 0.15, 0.1, 0.05]),
        "service": "non renseigné", "roles": [[] for _ in range(n)],
        "n_messages": rng.integers(200, 5000, size=n), "active_days": rng.integers(40, 200, n),
        **cols,
        "habits": [[] for _ in range(n)], "work_pattern": "standard",
    })
    order = rng.permutation(n)
    return df.iloc[order].reset_index(drop=True), truth[order]


# ---------------------------------------------------------------------------------------
# Vocabulary (FR/EN): trait phrases, epithets, taglines, goal and frustration rules. Every
# persona text is built from these tables by fixed rules, never written by hand for one study.
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Trait:
    """How a persona far above (``high``) or below (``low``) the organisation on one feature is
    told: an epithet (masculine and feminine French forms, English), a behaviour sentence with
    ``{v}`` (persona median) and ``{m}`` (organisation median), and a quote-like tagline."""

    fr_m: str
    fr_f: str
    en: str
    do_fr: str
    do_en: str
    quote_fr: str
    quote_en: str


# Feature -> (French label, English label, unit kind). Unit kinds drive number formatting.
LABELS: dict[str, tuple[str, str, str]] = {
    "sent_per_day": ("messages envoyés par jour ouvré", "messages sent per working day", "rate"),
    "received_per_day": ("messages reçus par jour ouvré", "messages received per working day",
                         "rate"),
    "after_hours_share": ("envois hors horaires", "sent after hours", "share"),
    "weekend_share": ("envois les jours non travaillés", "sent on non-working days", "share"),
    "workday_span_h": ("amplitude de la journée de courriel", "daily mail span", "hours"),
    "reply_delay_h": ("délai de réponse médian", "median reply delay", "hours"),
    "reply_rate": ("taux de réponse", "reply rate", "share"),
    "cc_share": ("reçus en simple copie", "received as cc only", "share"),
    "recipients_per_sent": ("destinataires par envoi", "recipients per message sent", "rate"),
    "reply_all_rate": ("réponses à tous", "reply-all rate", "share"),
    "external_share": ("destinataires extérieurs", "external recipients", "share"),
    "attachment_rate": ("envois avec pièce jointe", "sent with an attachment", "share"),
    "sent_text_kb": ("taille du texte envoyé", "size of text sent", "kb"),
    "unread_share": ("reçus non lus", "received and unread", "share"),
    "filing_rate": ("messages classés", "messages filed", "share"),
    "folder_count": ("dossiers utilisés", "folders used", "count"),
    "bulk_share": ("messages automatiques reçus", "bulk mail received", "share"),
    "mobile_share": ("envois depuis un mobile", "sent from a mobile", "share"),
    "forward_rate": ("transferts parmi les envois", "forwards among messages sent", "share"),
}

ORG_FR = "organisation : {m}"
ORG_EN = "organisation: {m}"


def _t(fr_m: str, fr_f: str, en: str, do_fr: str, do_en: str, q_fr: str, q_en: str) -> Trait:
    return Trait(fr_m, fr_f, en, do_fr + f" ({ORG_FR}).", do_en + f" ({ORG_EN}).",
                 f"« {q_fr} »", f"“{q_en}”")


# (feature, +1 high / -1 low) -> Trait.
TRAITS: dict[tuple[str, int], Trait] = {
    ("sent_per_day", 1): _t(
        "le grand rédacteur", "la grande rédactrice", "the prolific writer",
        "Écrit beaucoup : {v} messages envoyés par jour ouvré",
        "Writes a lot: {v} messages sent per working day",
        "Si ce n'est pas écrit, ça n'existe pas.", "If it isn't in writing, it didn't happen."),
    ("sent_per_day", -1): _t(
        "l'économe du clavier", "l'économe du clavier", "the sparing writer",
        "Écrit peu : {v} messages envoyés par jour ouvré",
        "Writes little: {v} messages sent per working day",
        "Un appel vaut mieux que trois courriels.", "A call beats three e-mails."),
    ("received_per_day", 1): _t(
        "le destinataire submergé", "la destinataire submergée", "the swamped recipient",
        "Reçoit beaucoup : {v} messages par jour ouvré, hors envois automatiques",
        "Receives a lot: {v} messages per working day, bulk excluded",
        "Ma boîte se remplit plus vite que je ne la vide.",
        "My inbox fills faster than I can empty it."),
    ("received_per_day", -1): _t(
        "le discret", "la discrète", "the quiet one",
        "Reçoit peu : {v} messages par jour ouvré", "Receives little: {v} messages per working day",
        "Le courriel, c'est pour l'essentiel.", "E-mail is for what matters."),
    ("after_hours_share", 1): _t(
        "la vigie hors horaires", "la vigie hors horaires", "the after-hours lookout",
        "Écrit souvent en dehors des heures de travail : {v} de ses envois",
        "Often writes outside working hours: {v} of messages sent",
        "Le soir, c'est enfin calme pour répondre.",
        "Evenings are when I can finally answer in peace."),
    ("after_hours_share", -1): _t(
        "le ponctuel", "la ponctuelle", "the nine-to-fiver",
        "Envoie presque tout pendant les heures de travail : {v} hors horaires",
        "Sends almost everything within working hours: {v} after hours",
        "Après l'heure, ce n'est plus l'heure.", "After hours is after hours."),
    ("weekend_share", 1): _t(
        "le veilleur du week-end", "la veilleuse du week-end", "the weekend watcher",
        "Écrit aussi les jours non travaillés : {v} de ses envois",
        "Also writes on non-working days: {v} of messages sent",
        "Le lundi se prépare le dimanche.", "Monday is prepared on Sunday."),
    ("weekend_share", -1): _t(
        "le gardien des week-ends", "la gardienne des week-ends", "the weekend keeper",
        "N'écrit presque jamais les jours non travaillés : {v} de ses envois",
        "Almost never writes on non-working days: {v} of messages sent",
        "Le week-end, la boîte reste fermée.", "At weekends the inbox stays shut."),
    ("workday_span_h", 1): _t(
        "le marathonien", "la marathonienne", "the marathon runner",
        "Étale ses envois sur de longues journées : {v} entre le premier et le dernier",
        "Spreads sending over long days: {v} between first and last message",
        "Du premier café au dernier train, je reste en ligne.",
        "From first coffee to last train, I stay online."),
    ("workday_span_h", -1): _t(
        "le concentré", "la concentrée", "the focused one",
        "Regroupe ses envois sur une plage courte : {v} entre le premier et le dernier",
        "Sends within a short window: {v} between first and last message",
        "Je traite mes courriels en un seul créneau.", "I handle my mail in one slot."),
    ("reply_delay_h", 1): _t(
        "le temporisateur", "la temporisatrice", "the slow burner",
        "Prend son temps pour répondre : délai médian de {v}",
        "Takes time to reply: median delay of {v}",
        "Une bonne réponse vaut mieux qu'une réponse rapide.",
        "A good answer beats a fast one."),
    ("reply_delay_h", -1): _t(
        "le réactif", "la réactive", "the quick responder",
        "Répond vite : délai médian de {v}", "Replies fast: median delay of {v}",
        "Je réponds dans l'heure, c'est une question de respect.",
        "I answer within the hour; it's a matter of respect."),
    ("reply_rate", 1): _t(
        "le correspondant fidèle", "la correspondante fidèle", "the faithful correspondent",
        "Répond à la plupart des messages qui lui sont adressés : {v}",
        "Replies to most messages addressed to them: {v}",
        "Chaque message mérite une réponse.", "Every message deserves an answer."),
    ("reply_rate", -1): _t(
        "le sélectif", "la sélective", "the selective replier",
        "Répond à peu des messages qui lui sont adressés : {v}",
        "Replies to few messages addressed to them: {v}",
        "Tout ne demande pas de réponse.", "Not everything needs an answer."),
    ("cc_share", 1): _t(
        "l'informé en copie", "l'informée en copie", "the cc'd observer",
        "Est souvent en simple copie : {v} des messages reçus",
        "Is often only in cc: {v} of messages received",
        "On me met en copie, au cas où.", "I'm copied in, just in case."),
    ("cc_share", -1): _t(
        "le destinataire direct", "la destinataire directe", "the direct addressee",
        "Est rarement en simple copie : {v} des messages reçus",
        "Is rarely only in cc: {v} of messages received",
        "Si l'on m'écrit, c'est qu'on attend quelque chose de moi.",
        "If I'm written to, something is expected of me."),
    ("recipients_per_sent", 1): _t(
        "le diffuseur", "la diffuseuse", "the broadcaster",
        "Écrit à beaucoup de monde à la fois : {v} destinataires par envoi",
        "Writes to many people at once: {v} recipients per message",
        "Mieux vaut informer tout le monde.", "Better to keep everyone informed."),
    ("recipients_per_sent", -1): _t(
        "l'interlocuteur direct", "l'interlocutrice directe", "the one-to-one writer",
        "Écrit surtout en tête-à-tête : {v} destinataires par envoi",
        "Writes mostly one-to-one: {v} recipients per message",
        "Un message, une personne.", "One message, one person."),
    ("reply_all_rate", 1): _t(
        "l'adepte du « répondre à tous »", "l'adepte du « répondre à tous »",
        "the reply-all enthusiast",
        "Répond souvent à tous : {v} de ses réponses",
        "Often replies to all: {v} of replies",
        "Que tout le monde ait la même information.", "Everyone should have the same news."),
    ("reply_all_rate", -1): _t(
        "le tireur d'élite", "la tireuse d'élite", "the sharpshooter",
        "Répond rarement à tous : {v} de ses réponses",
        "Rarely replies to all: {v} of replies",
        "Je ne réponds qu'à qui a besoin de savoir.", "I answer only those who need to know."),
    ("external_share", 1): _t(
        "le passeur de frontières", "la passeuse de frontières", "the boundary spanner",
        "Échange beaucoup avec l'extérieur : {v} de destinataires extérieurs",
        "Deals a lot with the outside: {v} of recipients are external",
        "Mon travail se fait avec les partenaires.", "My work is done with partners."),
    ("external_share", -1): _t(
        "le pilier de la maison", "le pilier de la maison", "the inward-facing colleague",
        "Écrit presque seulement en interne : {v} de destinataires extérieurs",
        "Writes almost only internally: {v} of recipients are external",
        "Mes interlocuteurs sont dans la maison.", "The people I work with are in-house."),
    ("attachment_rate", 1): _t(
        "le porteur de pièces jointes", "la porteuse de pièces jointes",
        "the attachment carrier",
        "Joint souvent des documents : {v} de ses envois",
        "Often attaches documents: {v} of messages sent",
        "Je vous mets le document en pièce jointe.", "Please find the document attached."),
    ("attachment_rate", -1): _t(
        "le messager léger", "la messagère légère", "the light traveller",
        "Joint rarement des documents : {v} de ses envois",
        "Rarely attaches documents: {v} of messages sent",
        "Un lien suffit, pas besoin de pièce jointe.", "A link will do; no attachment needed."),
    ("sent_text_kb", 1): _t(
        "la plume détaillée", "la plume détaillée", "the detailed writer",
        "Écrit des messages longs : {v} de texte en médiane",
        "Writes long messages: {v} of text (median)",
        "Autant tout expliquer dans le message.", "Might as well explain it all in the message."),
    ("sent_text_kb", -1): _t(
        "l'adepte du mot bref", "l'adepte du mot bref", "the brief writer",
        "Écrit des messages courts : {v} de texte en médiane",
        "Writes short messages: {v} of text (median)",
        "Court, clair, envoyé.", "Short, clear, sent."),
    ("unread_share", 1): _t(
        "le débordé", "la débordée", "the overwhelmed",
        "Laisse beaucoup de messages non lus : {v} des messages reçus",
        "Leaves many messages unread: {v} of messages received",
        "Je lirai ça plus tard…", "I'll read that later…"),
    ("unread_share", -1): _t(
        "le lecteur assidu", "la lectrice assidue", "the thorough reader",
        "Lit presque tout : {v} de non-lus", "Reads almost everything: {v} unread",
        "Je ne laisse rien de non lu.", "I leave nothing unread."),
    ("filing_rate", 1): _t(
        "le classeur méthodique", "la classeuse méthodique", "the methodical filer",
        "Classe ses messages dans des dossiers : {v} hors boîte de réception",
        "Files messages in folders: {v} outside the inbox",
        "Chaque message à sa place.", "A place for every message."),
    ("filing_rate", -1): _t(
        "l'adepte de la boîte unique", "l'adepte de la boîte unique", "the single-inbox keeper",
        "Laisse ses messages dans la boîte de réception : {v} classés ailleurs",
        "Keeps messages in the inbox: {v} filed elsewhere",
        "Tout est dans ma boîte, la recherche fait le reste.",
        "It's all in my inbox; search does the rest."),
    ("folder_count", 1): _t(
        "l'architecte des dossiers", "l'architecte des dossiers", "the folder architect",
        "Entretient une arborescence riche : {v} dossiers",
        "Keeps a rich folder tree: {v} folders",
        "Mon arborescence, c'est ma mémoire.", "My folder tree is my memory."),
    ("folder_count", -1): _t(
        "le minimaliste", "la minimaliste", "the minimalist",
        "Utilise peu de dossiers : {v}", "Uses few folders: {v}",
        "Trois dossiers, pas plus.", "Three folders, no more."),
    ("bulk_share", 1): _t(
        "le lecteur de lettres d'info", "la lectrice de lettres d'info", "the newsletter reader",
        "Reçoit beaucoup de listes et de notifications : {v} des messages reçus",
        "Receives many lists and notifications: {v} of messages received",
        "Les lettres d'information, je les garde pour plus tard.",
        "Newsletters? I keep them for later."),
    ("bulk_share", -1): _t(
        "le désabonné", "la désabonnée", "the unsubscriber",
        "Reçoit peu de messages automatiques : {v} des messages reçus",
        "Receives little bulk mail: {v} of messages received",
        "Je me désabonne de tout ce qui ne sert pas.", "I unsubscribe from anything useless."),
    ("mobile_share", 1): _t(
        "le nomade", "la nomade", "the nomad",
        "Écrit souvent depuis un téléphone : {v} de ses envois",
        "Often writes from a phone: {v} of messages sent",
        "Je réponds entre deux réunions, depuis mon téléphone.",
        "I answer between meetings, from my phone."),
    ("mobile_share", -1): _t(
        "le sédentaire", "la sédentaire", "the desk-bound",
        "Écrit presque toujours depuis un poste de travail : {v} depuis un mobile",
        "Almost always writes from a desk: {v} from a mobile",
        "Le courriel, c'est au bureau.", "E-mail is for the office."),
    ("forward_rate", 1): _t(
        "le relais", "le relais", "the relay",
        "Transfère souvent des messages : {v} de ses envois",
        "Often forwards messages: {v} of messages sent",
        "Je fais suivre à la bonne personne.", "I pass it on to the right person."),
    ("forward_rate", -1): _t(
        "l'auteur d'origine", "l'autrice d'origine", "the original author",
        "Transfère rarement : {v} de ses envois", "Rarely forwards: {v} of messages sent",
        "Je reformule plutôt que de transférer.", "I rephrase rather than forward."),
}

# A persona with no distinctive trait.
PLAIN = Trait("le juste milieu", "le juste milieu", "the middle of the road", "", "",
              "« Le courriel, ni trop ni trop peu. »",
              "“E-mail: not too much, not too little.”")

# Behaviour sentence for a trait that is not distinctive (|z| < threshold), used to reach three.
NEAR_FR = "Proche de l'organisation pour les {label} : {v} ({org})."
NEAR_EN = "Close to the organisation on {label}: {v} ({org})."
GENERIC_FR = "{label} : {v} ({org})."
GENERIC_EN = "{label}: {v} ({org})."

# Goal and frustration rules: (feature, +1/-1, kind, French, English). A rule fires when the
# persona's z-score on the feature has that sign and |z| >= the trait threshold. They are
# hypotheses drawn from the traits, to be checked in the workshop: the caveats say so.
RULES: list[tuple[str, int, str, str, str]] = [
    ("received_per_day", 1, "frustration",
     "Une boîte qui déborde : plus de messages reçus que de temps pour les traiter.",
     "An overflowing inbox: more mail than time to handle it."),
    ("received_per_day", 1, "goal", "Repérer vite les messages qui demandent une action.",
     "Spot quickly the messages that need action."),
    ("sent_per_day", 1, "goal", "Faire avancer les dossiers par écrit, avec une trace.",
     "Move files forward in writing, with a record."),
    ("sent_per_day", -1, "goal", "Réserver le courriel à ce qui ne peut pas se dire autrement.",
     "Keep e-mail for what cannot be said another way."),
    ("received_per_day", -1, "frustration",
     "Passer à côté d'informations qui circulent ailleurs par courriel.",
     "Missing news that travels by e-mail elsewhere."),
    ("after_hours_share", 1, "frustration", "Le courriel empiète sur les soirées.",
     "E-mail eats into the evenings."),
    ("after_hours_share", 1, "goal", "Retrouver une coupure nette entre travail et vie privée.",
     "Regain a clean break between work and private life."),
    ("weekend_share", 1, "frustration", "Pas de vraie pause le week-end.",
     "No real break at weekends."),
    ("after_hours_share", -1, "frustration",
     "Les messages envoyés le soir qui attendent une réponse le lendemain matin.",
     "Evening messages that expect an answer first thing next morning."),
    ("workday_span_h", 1, "frustration", "Des journées de courriel à rallonge.",
     "Mail days that never end."),
    ("reply_delay_h", -1, "goal", "Répondre dans la journée.", "Answer within the day."),
    ("reply_delay_h", -1, "frustration", "Les réponses qui tardent chez les autres.",
     "Other people's slow answers."),
    ("reply_delay_h", 1, "frustration", "Les relances et les demandes « urgentes ».",
     "Reminders and “urgent” requests."),
    ("reply_delay_h", 1, "goal", "Des demandes claires, avec une échéance réaliste.",
     "Clear requests with a realistic deadline."),
    ("reply_rate", 1, "goal", "Ne laisser aucune demande sans suite.",
     "Leave no request unanswered."),
    ("cc_share", 1, "frustration",
     "Les copies à tout va : difficile de savoir ce qui demande une action.",
     "Cc'd on everything: hard to tell what needs action."),
    ("cc_share", 1, "goal", "Savoir en un coup d'œil si un message le concerne.",
     "Tell at a glance whether a message is for them."),
    ("recipients_per_sent", 1, "goal", "Tenir toute l'équipe informée.",
     "Keep the whole team informed."),
    ("reply_all_rate", 1, "goal", "Que chacun ait la même information au même moment.",
     "Everyone having the same news at the same time."),
    ("reply_all_rate", 1, "frustration", "Les fils de discussion à rallonge.",
     "Endless reply threads."),
    ("external_share", 1, "goal", "Travailler facilement avec les partenaires extérieurs.",
     "Work smoothly with outside partners."),
    ("external_share", 1, "frustration",
     "Les échanges de documents avec l'extérieur : taille, sécurité, versions.",
     "Sharing documents outside: size limits, security, versions."),
    ("attachment_rate", 1, "frustration", "Les versions multiples d'un même document.",
     "Many versions of the same document."),
    ("attachment_rate", 1, "goal", "Partager des documents sans les dupliquer.",
     "Share documents without copying them."),
    ("sent_text_kb", 1, "goal", "Être précis et complet.", "Be precise and complete."),
    ("sent_text_kb", 1, "frustration", "Les réponses en une ligne qui laissent des questions.",
     "One-line answers that leave questions open."),
    ("sent_text_kb", -1, "frustration", "Les longs messages où l'essentiel se perd.",
     "Long messages where the point gets lost."),
    ("unread_share", 1, "frustration", "Les non-lus qui s'accumulent.",
     "Unread messages piling up."),
    ("unread_share", 1, "goal", "Ne rien laisser passer d'important.",
     "Let nothing important slip through."),
    ("filing_rate", 1, "goal", "Retrouver n'importe quel message en quelques secondes.",
     "Find any message in seconds."),
    ("filing_rate", 1, "frustration",
     "Les messages à plusieurs sujets qui n'entrent dans aucun dossier.",
     "Multi-topic messages that fit no folder."),
    ("folder_count", 1, "goal", "Une mémoire des dossiers bien rangée.",
     "A tidy memory of every file."),
    ("filing_rate", -1, "frustration", "Une boîte de réception où tout se mélange.",
     "An inbox where everything is mixed up."),
    ("bulk_share", 1, "frustration",
     "Les notifications et lettres d'information qui noient les vrais messages.",
     "Notifications and newsletters drowning real messages."),
    ("mobile_share", 1, "goal", "Rester joignable en déplacement.", "Stay reachable on the move."),
    ("mobile_share", 1, "frustration", "Les longs messages illisibles sur téléphone.",
     "Long messages unreadable on a phone."),
    ("forward_rate", 1, "goal", "Faire circuler l'information vers la bonne personne.",
     "Route information to the right person."),
]

FALLBACK_GOAL = ("Un courriel qui reste un outil simple.", "E-mail that stays a simple tool.")
FALLBACK_FRUSTRATION = ("Aucune frustration nette ne ressort des données.",
                        "No clear frustration shows in the data.")

# Fictional first names, alternately feminine and masculine; never a staff member by design
# (they are not drawn from the directory, which the analyst does not have).
FIRST_NAMES: list[tuple[str, str]] = [
    ("Claire", "f"), ("Marc", "m"), ("Nadia", "f"), ("Julien", "m"), ("Sophie", "f"),
    ("Karim", "m"), ("Hélène", "f"), ("Thomas", "m"), ("Aïcha", "f"), ("Louis", "m"),
    ("Élise", "f"), ("Bruno", "m"),
]

WEEKDAYS = {"fr": ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"],
            "en": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]}
