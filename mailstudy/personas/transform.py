"""Feature preparation as a fitted transform (scikit-learn style): :meth:`FeatureTransform.fit`
learns which features to keep, their imputation values, centres and scales on one people table;
:meth:`FeatureTransform.transform` applies exactly that to any people table (the same one, or a
later campaign), so that new people land in the space the personas were fitted in.

Why these transforms: volumes, rates per day, delays, sizes and counts (:data:`LOG_FEATURES`)
get ``log1p`` because their tails are long and a few heavy users would otherwise make their own
cluster; shares stay as they are. Missing values take the feature's median (a person who never
replies has no reply delay); a feature missing for more than half the people, or constant, is
dropped. Each feature is then robustly scaled: minus the median, divided by IQR/1.349 (the
standard deviation for normal data; the plain standard deviation when the IQR is 0), and
clipped at +-5 so outliers cannot dominate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mailstudy import schema
from mailstudy.personas.settings import CLIP, LOG_FEATURES, MAX_MISSING, PersonaError


@dataclass
class FeatureTransform:
    """Log, median imputation, robust scaling and clipping, fitted once and stored.

    Fitted attributes (trailing underscore, as in scikit-learn): ``features_`` (kept, in order),
    ``log_features_`` (those that get ``log1p``), ``impute_`` (median per feature, on the log
    scale where applied), ``center_`` and ``scale_`` (per feature), ``dropped_`` (feature ->
    reason) and ``transforms_`` (feature -> plain description, written to ``model.json``).
    """

    clip: float = CLIP
    features_: list[str] = field(default_factory=list)
    log_features_: list[str] = field(default_factory=list)
    impute_: dict[str, float] = field(default_factory=dict)
    center_: dict[str, float] = field(default_factory=dict)
    scale_: dict[str, float] = field(default_factory=dict)
    dropped_: dict[str, str] = field(default_factory=dict)
    transforms_: dict[str, str] = field(default_factory=dict)

    def fit(self, people: pd.DataFrame, features: Sequence[str] | None = None
            ) -> FeatureTransform:
        """Learn the transform on ``people``; ``features`` defaults to
        ``schema.FEATURE_NAMES``. Raises :class:`PersonaError` when fewer than two remain."""
        candidates = list(features) if features is not None else list(schema.FEATURE_NAMES)
        _require_columns(people, candidates)
        for name in candidates:
            values = _numeric(people, name)
            if values.isna().mean() > MAX_MISSING:
                self.dropped_[name] = "missing for more than half the people"
                continue
            use_log = name in LOG_FEATURES
            if use_log:
                values = np.log1p(values.clip(lower=0))
            median = float(values.median())
            values = values.fillna(median)
            q1, center, q3 = np.percentile(values.to_numpy(), [25, 50, 75])
            scale = (q3 - q1) / 1.349
            if not scale > 1e-12:
                scale = float(values.std(ddof=0))
            if not scale > 1e-12:
                self.dropped_[name] = "constant"
                continue
            self.features_.append(name)
            if use_log:
                self.log_features_.append(name)
            self.impute_[name] = median
            self.center_[name] = float(center)
            self.scale_[name] = float(scale)
            self.transforms_[name] = ("log1p, " if use_log else "") + "median imputation, " \
                f"robust scaling (median, IQR/1.349), clip +-{self.clip:g}"
        if len(self.features_) < 2:
            raise PersonaError("fewer than two usable features: personas need behaviour data")
        return self

    def natural(self, people: pd.DataFrame) -> pd.DataFrame:
        """Transformed but unscaled values (log1p where applied, imputed), one column per kept
        feature: the descriptive z-scores are computed on these."""
        _require_columns(people, self.features_)
        columns = {}
        for name in self.features_:
            values = _numeric(people, name)
            if name in self.log_features_:
                values = np.log1p(values.clip(lower=0))
            columns[name] = values.fillna(self.impute_[name])
        return pd.DataFrame(columns, index=people.index)

    def transform(self, people: pd.DataFrame) -> np.ndarray:
        """The scaled, clipped matrix (people x kept features) clustering works on."""
        return self.scale(self.natural(people))

    def scale(self, natural: pd.DataFrame) -> np.ndarray:
        """Robust scaling and clipping of :meth:`natural` values."""
        columns = [np.clip((natural[name].to_numpy() - self.center_[name]) / self.scale_[name],
                           -self.clip, self.clip) for name in self.features_]
        return np.column_stack(columns)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, stored in ``model.json`` under ``transform``."""
        return {"clip": self.clip, "features": list(self.features_),
                "log_features": list(self.log_features_), "impute": dict(self.impute_),
                "center": dict(self.center_), "scale": dict(self.scale_),
                "dropped": dict(self.dropped_), "transforms": dict(self.transforms_)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureTransform:
        """The transform :meth:`to_dict` stored (read back from ``model.json``)."""
        return cls(clip=float(data["clip"]), features_=list(data["features"]),
                   log_features_=list(data["log_features"]),
                   impute_={k: float(v) for k, v in data["impute"].items()},
                   center_={k: float(v) for k, v in data["center"].items()},
                   scale_={k: float(v) for k, v in data["scale"].items()},
                   dropped_=dict(data["dropped"]), transforms_=dict(data["transforms"]))


@dataclass(frozen=True)
class Prepared:
    """Features ready for clustering. ``natural`` holds the transformed but unscaled values
    (log1p where applied) on which the descriptive z-scores are computed."""

    X: np.ndarray
    natural: pd.DataFrame
    transform: FeatureTransform

    @property
    def features(self) -> list[str]:
        return self.transform.features_

    @property
    def dropped(self) -> dict[str, str]:
        return self.transform.dropped_

    @property
    def transforms(self) -> dict[str, str]:
        return self.transform.transforms_


def prepare_features(people: pd.DataFrame, features: Sequence[str] | None = None) -> Prepared:
    """Fit a :class:`FeatureTransform` on ``people`` and return its matrix and natural values."""
    fitted = FeatureTransform().fit(people, features)
    natural = fitted.natural(people)
    return Prepared(fitted.scale(natural), natural, fitted)


def _require_columns(people: pd.DataFrame, features: Sequence[str]) -> None:
    missing = [name for name in features if name not in people.columns]
    if missing:
        raise PersonaError("people table lacks feature column(s): {missing}",
                           missing=", ".join(missing))


def _numeric(people: pd.DataFrame, name: str) -> pd.Series:
    return pd.to_numeric(people[name], errors="coerce").astype("float64")
