"""One row per (grouping, group, feature): the medians before and after, their difference and
its bootstrap interval, and the shares of people who rose or fell.

Groups are those of each campaign's own people table (the level, direction and habits the
second campaign's directory and mail give; the persona the *first* campaign's model gives to
both), so that ``before`` and ``after`` are the medians over the very people the profile tables
of each campaign describe. When the campaigns are linked (same pseudonyms, see
``mailstudy init --follow-up``) the bootstrap resamples people of the union of the group in both
campaigns, so that a person's two values move together; otherwise each campaign apart.

Rose / fell: among the people in the group in both campaigns, the share whose value moved up
(down) by more than :data:`CHANGE_SD` robust standard deviations of the feature in the first
campaign (IQR / 1.349 over everyone): a "small" effect in Cohen's sense, so that rounding noise
and day-to-day jitter do not count as change. Shares are rounded to :data:`SHARE_STEP` so that
they do not tell how many people of the group are in both campaigns.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mailstudy import schema
from mailstudy.compare.bootstrap import (
    paired_differences,
    resample_counts,
    unpaired_differences,
)

ORGANISATION = "organisation"
ALL = "Total"
#: Groupings of the comparison, in the order of the tables (persona only with a model).
GROUPINGS = (ORGANISATION, "level", "direction", "habit", "persona")
CHANGE_SD = 0.2
SHARE_STEP = 0.05
N_BOOT = 1000
SEED = 20270101


@dataclass(frozen=True)
class Settings:
    """How the comparison is computed (all recorded in ``summary.json``)."""

    linked: bool
    n_boot: int = N_BOOT
    seed: int = SEED
    features: tuple[str, ...] = tuple(schema.FEATURE_NAMES)
    none_label: str = "aucune"  # the habit label of people with no habit (profile's)


def memberships(people: pd.DataFrame, grouping: str, none_label: str = "aucune"
                ) -> pd.DataFrame:
    """(person, group) pairs of one grouping: one per person, several for habits."""
    if grouping == ORGANISATION:
        return pd.DataFrame({"person": people["person"].astype(str), "group": ALL})
    if grouping == "habit":
        labels = [list(h) if h is not None and len(h) else [none_label]
                  for h in people["habits"]]
        out = pd.DataFrame({"person": people["person"].astype(str), "group": labels})
        return out.explode("group").reset_index(drop=True)
    return pd.DataFrame({"person": people["person"].astype(str),
                         "group": people[grouping].astype(str).fillna("non renseigné")})


def change_thresholds(before: pd.DataFrame, features: Sequence[str]) -> dict[str, float]:
    """Per feature, the change that counts as rising or falling (see the module doc)."""
    out = {}
    for f in features:
        v = pd.to_numeric(before[f], errors="coerce").dropna().to_numpy(dtype=float)
        if len(v) == 0:
            out[f] = math.nan
            continue
        q1, q3 = np.percentile(v, [25, 75])
        sd = (q3 - q1) / 1.349 if q3 > q1 else float(v.std())
        out[f] = CHANGE_SD * sd
    return out


def _rng(seed: int, grouping: str, group: str) -> np.random.Generator:
    # Seeded by the row's own names, so a row's interval does not depend on the other rows.
    return np.random.default_rng([seed, zlib.crc32(grouping.encode()),
                                  zlib.crc32(group.encode())])


def _round_share(x: float) -> float:
    return math.nan if not math.isfinite(x) else round(round(x / SHARE_STEP) * SHARE_STEP, 2)


def _group_rows(grouping: str, group: str, fb: pd.DataFrame, fa: pd.DataFrame,
                settings: Settings, thresholds: dict[str, float]) -> list[dict]:
    """Rows of one group: ``fb``/``fa`` are the feature tables (index person) of its members
    in the first and the second campaign. Tables become arrays once, features are columns."""
    rng = _rng(settings.seed, grouping, group)
    both = fb.index.intersection(fa.index)
    vb, va = fb.to_numpy(float), fa.to_numpy(float)
    change = (fa.loc[both].to_numpy(float) - fb.loc[both].to_numpy(float)
              if settings.linked else np.zeros((0, vb.shape[1])))
    if settings.linked:
        union = fb.index.union(fa.index)
        ub, ua = fb.reindex(union).to_numpy(float), fa.reindex(union).to_numpy(float)
        intervals = paired_differences(ub, ua, resample_counts(rng, len(union),
                                                               settings.n_boot))
    else:
        intervals = unpaired_differences(vb, va, rng, settings.n_boot)
    n_values = np.minimum(np.isfinite(vb).sum(axis=0), np.isfinite(va).sum(axis=0))
    rows = []
    for j, f in enumerate(settings.features):
        iv = intervals[j]
        rose, fell = _rose_fell(change[:, j], thresholds[f])
        rows.append({
            "group_by": grouping, "group": group, "feature": f,
            "n_people": len(fa), "n_before": len(fb), "n_after": len(fa),
            "before": iv.before, "after": iv.after, "difference": iv.difference,
            "ci_low": iv.ci_low, "ci_high": iv.ci_high, "p_value": iv.p_value,
            "share_rose": _round_share(rose), "share_fell": _round_share(fell),
            # for the guard only, never published:
            "_n_linked": len(both) if settings.linked else 0, "_n_values": int(n_values[j])})
    return rows


def _rose_fell(change: np.ndarray, threshold: float) -> tuple[float, float]:
    d = change[np.isfinite(change)]
    if len(d) == 0 or not math.isfinite(threshold):
        return math.nan, math.nan
    return float((d > threshold).mean()), float((d < -threshold).mean())


def group_differences(before: pd.DataFrame, after: pd.DataFrame, settings: Settings,
                      groupings: Sequence[str] = GROUPINGS,
                      thresholds: dict[str, float] | None = None) -> pd.DataFrame:
    """Every (grouping, group, feature) row, unsuppressed (the guard comes next).

    ``before`` and ``after`` are people tables (PEOPLE columns; ``persona`` too for the
    persona grouping, placed by the first campaign's model in both).
    """
    feats = list(settings.features)
    if thresholds is None:
        thresholds = change_thresholds(before, feats)
    tb = before.assign(person=before["person"].astype(str)).set_index("person")[feats]
    ta = after.assign(person=after["person"].astype(str)).set_index("person")[feats]
    tb, ta = tb.astype("float64"), ta.astype("float64")
    rows: list[dict] = []
    for grouping in groupings:
        if grouping == "persona" and not ("persona" in before and "persona" in after):
            continue
        mb = memberships(before, grouping, settings.none_label)
        ma = memberships(after, grouping, settings.none_label)
        by_b = mb.groupby("group")["person"].apply(list).to_dict()
        by_a = ma.groupby("group")["person"].apply(list).to_dict()
        for group in sorted(set(by_b) | set(by_a), key=str):
            fb = tb.loc[by_b.get(group, [])]
            fa = ta.loc[by_a.get(group, [])]
            rows += _group_rows(grouping, str(group), fb, fa, settings, thresholds)
    return pd.DataFrame(rows)


def turnover(before: pd.DataFrame, after: pd.DataFrame) -> dict[str, int]:
    """People in both campaigns, arrivals and departures: counted, never listed."""
    b, a = set(before["person"].astype(str)), set(after["person"].astype(str))
    return {"linked": len(b & a), "arrivals": len(a - b), "departures": len(b - a)}
