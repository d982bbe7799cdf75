"""The bootstrap of a difference of medians, vectorised: one resample is a row of counts.

Why counts and not resampled arrays: the median of a resample is the weighted median of the
original values with the resample's counts as weights. The values are sorted once per
feature; each resample then costs one cumulative sum over its counts and a binary search,
all resamples at once (an (n, B) count matrix), and the totals of every feature come from one
matrix product, instead of B sorts. The paired resample
draws *people*: one row of counts over the union of the group's members in both campaigns
serves every feature and both sides, so that a person drawn twice counts twice before and
after (Efron and Tibshirani, ch. 6); someone in only one campaign (an arrival, a departure, a
move) contributes only to that side. The unpaired resample draws each campaign apart.

Medians, not means: the features have long tails (a few people send a hundred mails a day),
the profile tables publish medians, and ``before``/``after`` are then the very medians those
tables show. ``difference = after - before``.

The p-value is the bootstrap z-test, ``2 * (1 - Phi(|d| / se*))`` with ``se*`` the standard
deviation of the bootstrap differences: unlike the share of resamples beyond zero it is not
floored at ``2 / (B + 1)``, which Benjamini-Hochberg over hundreds of rows needs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

LEVEL = 0.95


@dataclass(frozen=True)
class Interval:
    """One bootstrapped difference: the estimate, its percentile interval and p-value."""

    before: float
    after: float
    difference: float
    ci_low: float
    ci_high: float
    p_value: float


def resample_counts(rng: np.random.Generator, n: int, n_boot: int) -> np.ndarray:
    """(n, n_boot) counts, float32: how often each of ``n`` units is drawn in each resample
    of size ``n`` (one bincount over the flattened draws, no Python loop). Units are rows so
    that one feature's sorted units are contiguous rows and sums over units are one BLAS
    matrix-vector product."""
    if n == 0:
        return np.zeros((0, n_boot), dtype=np.float32)
    draws = rng.integers(0, n, size=(n_boot, n), dtype=np.int64)
    draws += (np.arange(n_boot, dtype=np.int64) * n)[:, None]  # row-local writes: cache-friendly
    counts = np.bincount(draws.ravel(), minlength=n_boot * n).reshape(n_boot, n)
    return np.ascontiguousarray(counts.T, dtype=np.float32)


def _band(m: int) -> tuple[int, int]:
    """Sorted positions between which the resampled medians almost surely fall: the count
    drawn below a rank is binomial, with a standard deviation under sqrt(m)/2, so +-3 sqrt(m)
    is 6 of them (one resample in 500 million outside); those outside are redone in full."""
    half = int(3 * math.sqrt(m)) + 8
    if 2 * half >= m:
        return 0, m
    return m // 2 - half, m // 2 + half


def column_medians(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The median of every column of ``values`` (n, F; NaN: the unit lacks it) in each
    resample of ``counts`` (n, B, from :func:`resample_counts`): an (F, B) array.

    Same convention as ``numpy.median``: the mean of the two middle order statistics when a
    resample's total is even; NaN for a resample with no unit holding the value. Every
    column's total and below-band count come from one matrix product (one pass over the
    counts for all features), then each column needs only the cumulative sums of its band.
    """
    n, n_feat = values.shape
    plans = []
    weights = np.zeros((2 * n_feat, n), dtype=np.float32)
    for j in range(n_feat):
        col = values[:, j]
        units = np.flatnonzero(~np.isnan(col))
        units = units[np.argsort(col[units], kind="stable")]
        lo, hi = _band(len(units))
        weights[2 * j, units] = 1.0
        weights[2 * j + 1, units[:lo]] = 1.0
        plans.append((units, lo, hi))
    sums = weights @ counts
    out = np.full((n_feat, counts.shape[1]), np.nan)
    for j, (units, lo, hi) in enumerate(plans):
        if len(units):
            out[j] = _band_medians(values[units, j], units, lo, hi, counts, sums[2 * j],
                                   sums[2 * j + 1])
    return out


def _band_medians(sorted_values: np.ndarray, units: np.ndarray, lo: int, hi: int,
                  counts: np.ndarray, total: np.ndarray, prefix: np.ndarray) -> np.ndarray:
    m = len(units)
    cum = np.cumsum(counts[units[lo:hi]], axis=0) + prefix[None, :]

    def order_stat(pos: np.ndarray) -> np.ndarray:
        inside = (pos >= prefix) & (pos < cum[-1])
        idx = lo + (cum > pos[None, :]).argmax(axis=0)
        for r in np.flatnonzero(~inside & (total > 0)):
            full = np.cumsum(counts[units, r])
            idx[r] = int(np.searchsorted(full, pos[r], side="right"))
        return sorted_values[np.clip(idx, 0, m - 1)]

    med = (order_stat(np.floor((total - 1) / 2)) + order_stat(np.floor(total / 2))) / 2.0
    return np.where(total > 0, med, np.nan)


def weighted_medians(values: np.ndarray, counts: np.ndarray,
                     valid: np.ndarray | None = None) -> np.ndarray:
    """:func:`column_medians` of one column; units outside ``valid`` are left out."""
    v = np.asarray(values, dtype=float).copy()
    if valid is not None:
        v[~valid] = np.nan
    return column_medians(v[:, None], counts)[0]


def summarise(before: float, after: float, boot: np.ndarray, level: float = LEVEL
              ) -> Interval:
    """Percentile interval and bootstrap z-test p-value of ``after - before``."""
    diff = after - before
    boot = boot[np.isfinite(boot)]
    if len(boot) == 0 or not math.isfinite(diff):
        return Interval(before, after, diff, math.nan, math.nan, math.nan)
    alpha = (1 - level) / 2
    lo, hi = np.quantile(boot, [alpha, 1 - alpha])
    se = float(boot.std(ddof=1)) if len(boot) > 1 else 0.0
    if se > 0:
        p = math.erfc(abs(diff) / se / math.sqrt(2))
    else:
        p = 1.0 if diff == 0 else 0.0
    return Interval(before, after, diff, float(lo), float(hi), min(1.0, p))


def _point(values: np.ndarray) -> np.ndarray:
    ok = ~np.isnan(values)
    return np.array([float(np.median(values[ok[:, j], j])) if ok[:, j].any() else math.nan
                     for j in range(values.shape[1])])


def paired_differences(before: np.ndarray, after: np.ndarray, counts: np.ndarray,
                       level: float = LEVEL) -> list[Interval]:
    """One :class:`Interval` per feature. ``before``/``after``: (n, F), one row per unit of
    the union of the group in both campaigns (NaN where the unit is absent from that campaign
    or lacks the feature); ``counts``: (n, B) resample counts over the same units, shared by
    both sides (a person drawn twice counts twice before and after)."""
    boot = column_medians(after, counts) - column_medians(before, counts)
    pb, pa = _point(before), _point(after)
    return [summarise(pb[j], pa[j], boot[j], level) for j in range(before.shape[1])]


def unpaired_differences(before: np.ndarray, after: np.ndarray, rng: np.random.Generator,
                         n_boot: int, level: float = LEVEL) -> list[Interval]:
    """Each campaign's people resampled on their own (two independent crowds)."""
    mb = column_medians(before, resample_counts(rng, len(before), n_boot))
    ma = column_medians(after, resample_counts(rng, len(after), n_boot))
    pb, pa = _point(before), _point(after)
    return [summarise(pb[j], pa[j], ma[j] - mb[j], level) for j in range(before.shape[1])]


def benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values); NaN stays NaN and is not counted."""
    p = np.asarray(p, dtype=float)
    q = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    if len(ok) == 0:
        return q
    order = ok[np.argsort(p[ok], kind="stable")]
    m = len(order)
    ranked = p[order] * m / np.arange(1, m + 1)
    q[order] = np.minimum(1.0, np.minimum.accumulate(ranked[::-1])[::-1])
    return q
