"""Thresholds of the persona method (see the package docstring for why) and its error."""

from __future__ import annotations

import re

from mailstudy.errors import StageError

SILHOUETTE_MIN = 0.25
STABILITY_P10_MIN = 0.7
PS_MIN = 0.8  # prediction strength threshold (Tibshirani and Walther 2005)
N_SPLIT = 10  # repeated half splits for prediction strength (each tested both ways)
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

