"""The fitted persona model and its JSON card (``out/personas/model.json``).

The card holds everything needed to place new people on the same personas without refitting:
the fitted :class:`~mailstudy.personas.transform.FeatureTransform` (``transform``) and the
persona centres in the scaled space (``centres``, persona id -> one value per feature).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mailstudy.personas.transform import FeatureTransform


@dataclass
class PersonaModel:
    """What :func:`~mailstudy.personas.fit.fit_personas` returns.

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

    @property
    def transform(self) -> FeatureTransform:
        return card_transform(self.card)


def card_transform(card: dict[str, Any]) -> FeatureTransform:
    """The fitted feature transform stored in a model card."""
    return FeatureTransform.from_dict(card["transform"])


def card_centres(card: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Persona ids and their centres (ids x features, scaled space) stored in a model card."""
    ids = sorted(card["centres"], key=int)
    return (np.array([int(i) for i in ids], dtype=np.int16),
            np.array([card["centres"][i] for i in ids], dtype="float64"))


def card_json(card: dict[str, Any]) -> str:
    """The model card as written to ``model.json``."""
    return json.dumps(card, ensure_ascii=False, indent=2)


def read_card(path: Path) -> dict[str, Any]:
    """A model card read back from ``model.json`` (e.g. to assign a later campaign)."""
    return json.loads(path.read_text(encoding="utf-8"))
