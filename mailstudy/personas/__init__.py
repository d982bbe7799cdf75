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
* **k** (:mod:`~mailstudy.personas.choose`): for each k of ``k_range`` (default 2..10),
  ``n_boot`` (default 50) bootstrap refits, each scored by the adjusted Rand index against the
  reference partition on the resampled points, and ``n_split`` (default 10) half splits for the
  prediction strength of Tibshirani and Walther (2005): the weakest cluster's share of pairs
  that the other half's centroids keep together. ``k="auto"`` takes the **largest** k whose
  prediction strength >= 0.8 and median stability >= 0.8. Why: the former rule (silhouette x
  stability p10) rewarded the coarsest stable split, since silhouette falls with k and merging
  two real behaviours keeps a partition stable; on a generated council of six behaviours it
  chose four. Over-splitting cuts one real group at random, so its pairs scatter and the
  prediction strength drops; merging does not lower it. With no admissible k the data hold no
  stable structure: the k of highest prediction strength is still returned, flagged, and every
  output says so. ``model.json`` records every candidate's figures and verdict (``k_choice``)
  and the reason in one sentence (``k_reason``); ``k=N`` forces a number.
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
* :mod:`~mailstudy.personas.fit`: k range fitting, bootstrap, silhouette, small cluster
  merging, Jaccard stability, :func:`fit_personas` and :func:`assign_personas`;
* :mod:`~mailstudy.personas.choose`: prediction strength, the choice of k and its reason;
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
