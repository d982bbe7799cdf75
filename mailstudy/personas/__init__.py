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

Modules:

* :mod:`~mailstudy.personas.settings`: thresholds of the method and :class:`PersonaError`;
* :mod:`~mailstudy.personas.transform`: :class:`FeatureTransform`, the fitted feature
  preparation (``fit`` / ``transform``, stored in ``model.json``);
* :mod:`~mailstudy.personas.fit`: k range fitting, bootstrap, silhouette, choice of k, small
  cluster merging, Jaccard stability, :func:`fit_personas` and :func:`assign_personas`;
* :mod:`~mailstudy.personas.describe`: z-scores, sheet texts, composition, cell suppression;
* :mod:`~mailstudy.personas.sheets`: typical week, :func:`sheet_context`, identifier check;
* :mod:`~mailstudy.personas.run`: :func:`write_outputs` and the stage :func:`run_personas`;
* :mod:`~mailstudy.personas.model`: :class:`PersonaModel` and its JSON card;
* :mod:`~mailstudy.personas.formatting`: numbers and feature labels in words;
* :mod:`~mailstudy.personas.wording`: the bilingual vocabulary tables (pure data).
"""

from mailstudy.personas.describe import describe_personas, suppress_cells
from mailstudy.personas.fit import assign_personas, fit_personas, merge_small, min_persona_size
from mailstudy.personas.model import PersonaModel, read_card
from mailstudy.personas.run import run_personas, write_outputs
from mailstudy.personas.settings import (
    CLIP,
    JACCARD_TARGET,
    PS_MIN,
    STABILITY_P10_MIN,
    TRAIT_Z,
    PersonaError,
)
from mailstudy.personas.sheets import sheet_context, week_grid_from_messages, week_shares
from mailstudy.personas.transform import FeatureTransform, prepare_features

__all__ = [
    "CLIP", "JACCARD_TARGET", "STABILITY_P10_MIN", "TRAIT_Z", "FeatureTransform", "PersonaError",
    "PS_MIN", "PersonaModel", "assign_personas", "describe_personas", "fit_personas", "merge_small",
    "min_persona_size", "prepare_features", "read_card", "run_personas", "sheet_context",
    "suppress_cells", "week_grid_from_messages", "week_shares", "write_outputs",
]
