"""The comparison's statistics on generated people: planted effects found, the guard holding
false alarms down, linked and unlinked campaigns, suppression across both campaigns, drift.

The people tables are built directly (``tests/peoplekit.py``, ``tests/comparekit.py``);
``test_compare_e2e.py`` runs the real pipeline once.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from comparekit import PLANTED, PLANTED_DIRECTIONS, follow_up
from peoplekit import synthetic_people
from scipy.stats import false_discovery_control

from mailstudy.compare import Settings, compare_tables
from mailstudy.compare.bootstrap import (
    benjamini_hochberg,
    column_medians,
    paired_differences,
    resample_counts,
    unpaired_differences,
    weighted_medians,
)
from mailstudy.compare.guard import FDR

K = 10
N_BOOT = 300


@pytest.fixture(scope="module")
def first() -> pd.DataFrame:
    people, truth = synthetic_people(1200, groups=3, seed=3)
    return people.assign(persona=truth.astype(int))


def _planted(d: pd.DataFrame) -> pd.Series:
    return (d["group_by"] == "direction") & d["group"].isin(PLANTED_DIRECTIONS) \
        & d["feature"].isin(list(PLANTED))


def _null(d: pd.DataFrame) -> pd.Series:
    """Rows where nothing was planted: other features anywhere, and every feature of the
    directions left alone (planted features of mixed groups, such as levels, are neither)."""
    other_feature = ~d["feature"].isin(list(PLANTED))
    untouched = (d["group_by"] == "direction") & ~d["group"].isin(PLANTED_DIRECTIONS)
    return other_feature | untouched


def test_weighted_medians_are_the_medians_of_the_resamples() -> None:
    rng = np.random.default_rng(4)
    for n in (7, 40, 2500):
        v = rng.normal(size=n).round(1)  # ties
        v[::5] = np.nan
        counts = resample_counts(rng, n, 120)
        assert (counts.sum(axis=0) == n).all()
        ok = ~np.isnan(v)
        expected = [np.median(np.repeat(v[ok], counts[ok, r].astype(int))) for r in range(120)]
        np.testing.assert_array_equal(weighted_medians(v, counts), expected)
    # several columns at once, each with its own missing values, as one product
    table = rng.normal(size=(300, 4)).round(1)
    table[rng.uniform(size=table.shape) < 0.2] = np.nan
    counts = resample_counts(rng, 300, 50)
    many = column_medians(table, counts)
    for j in range(4):
        np.testing.assert_array_equal(many[j], weighted_medians(table[:, j], counts))


def test_paired_bootstrap_is_tighter_than_two_crowds() -> None:
    rng = np.random.default_rng(5)
    base = rng.lognormal(1.0, 0.8, 800)
    after = base * np.exp(rng.normal(0, 0.05, 800))
    paired = paired_differences(base[:, None], after[:, None],
                                resample_counts(rng, 800, 400))[0]
    unpaired = unpaired_differences(base[:, None], after[:, None], rng, 400)[0]
    assert paired.difference == unpaired.difference
    assert paired.ci_high - paired.ci_low < 0.5 * (unpaired.ci_high - unpaired.ci_low)


def test_benjamini_hochberg_matches_scipy() -> None:
    p = np.random.default_rng(6).uniform(size=50) ** 3
    np.testing.assert_allclose(benjamini_hochberg(p), false_discovery_control(p))
    with_nan = np.append(p, np.nan)
    assert np.isnan(benjamini_hochberg(with_nan)[-1])


@pytest.mark.parametrize("linked", [True, False])
def test_planted_effects_found_and_false_alarms_held(first: pd.DataFrame, linked: bool) -> None:
    after = follow_up(first, linked=linked, seed=11)
    result = compare_tables(first, after, Settings(linked=linked, n_boot=N_BOOT), K)
    d = result.differences
    planted = d[_planted(d)]
    assert len(planted) == len(PLANTED_DIRECTIONS) * len(PLANTED)
    assert planted["significant"].all()
    assert (planted["ci_high"] < 0).all() and (planted["difference"] < 0).all()
    flagged = int(d["significant"].sum())
    false_alarms = int((d["significant"] & _null(d)).sum())
    # BH bounds the expected share of false discoveries among those flagged by FDR.
    assert false_alarms <= math.ceil(FDR * flagged)
    # Without the guard, intervals alone raise more alarms on the untouched rows.
    unguarded = int((((d["ci_low"] > 0) | (d["ci_high"] < 0)) & _null(d)).sum())
    assert unguarded >= false_alarms
    assert set(d.columns[:9]) == {"group_by", "group", "feature", "n_people", "before",
                                  "after", "difference", "ci_low", "ci_high"}
    if linked:
        t = result.summary["turnover"]
        assert t["arrivals"] == t["departures"] == round(0.05 * len(first))
        fell = planted["share_fell"]
        assert (fell >= 0.5).all() and (fell <= 1).all()
        assert (fell * 20 - (fell * 20).round()).abs().max() < 1e-9  # 5-point steps
    else:
        assert result.summary["turnover"] is None and d["share_rose"].isna().all()


def test_linked_intervals_are_narrower(first: pd.DataFrame) -> None:
    after = follow_up(first, seed=12)
    widths = {}
    for linked in (True, False):
        d = compare_tables(first, after, Settings(linked=linked, n_boot=N_BOOT), K).differences
        org = d[d["group_by"] == "organisation"]
        widths[linked] = float((org["ci_high"] - org["ci_low"]).median())
    assert widths[True] < 0.7 * widths[False]


def test_same_seed_same_intervals_whatever_the_groupings(first: pd.DataFrame) -> None:
    after = follow_up(first, seed=13)
    a = compare_tables(first, after, Settings(linked=True, n_boot=200), K).differences
    b = compare_tables(first, after, Settings(linked=True, n_boot=200), K).differences
    pd.testing.assert_frame_equal(a, b)
    from mailstudy.compare.differences import group_differences

    only = group_differences(first, after, Settings(linked=True, n_boot=200), ["direction"])
    merged = a[a["group_by"] == "direction"].reset_index(drop=True)
    np.testing.assert_array_equal(only["ci_low"].to_numpy(), merged["ci_low"].to_numpy())


def _move(people: pd.DataFrame, frm: str, to: str, keep: int) -> pd.DataFrame:
    """People of direction ``frm`` beyond the first ``keep`` moved to ``to``."""
    out = people.copy()
    idx = out.index[out["direction"] == frm][keep:]
    out.loc[idx, "direction"] = to
    return out


@pytest.mark.parametrize("small_in", ["first", "second"])
def test_a_group_small_in_either_campaign_is_hidden_with_a_complement(
        first: pd.DataFrame, small_in: str) -> None:
    after = follow_up(first, seed=14)
    if small_in == "first":
        before = _move(first, "Numérique", "Finances", keep=6)
    else:
        before, after = first, _move(after, "Numérique", "Finances", keep=6)
    result = compare_tables(before, after, Settings(linked=True, n_boot=100), K)
    d = result.differences
    rows = d[(d["group_by"] == "direction") & (d["group"] == "Numérique")]
    assert rows["suppressed"].all()
    assert rows[["n_people", "before", "after", "difference", "ci_low", "ci_high",
                 "share_rose"]].isna().all().all()
    directions = d[d["group_by"] == "direction"].groupby("group")["suppressed"].all()
    # alone, the hidden direction would be the total minus the others
    assert directions.sum() >= 2
    assert not d[d["group_by"] == "organisation"]["suppressed"].any()
    shown = d[~d["suppressed"]]
    assert (shown["n_before"] >= K).all() and (shown["n_after"] >= K).all()


def test_a_group_hidden_by_a_published_profile_is_hidden_here(first: pd.DataFrame) -> None:
    after = follow_up(first, seed=15)
    d = compare_tables(first, after, Settings(linked=True, n_boot=100), K,
                       hidden_elsewhere={"direction": {"Culture"}}).differences
    hidden = d[d["group_by"] == "direction"].groupby("group")["suppressed"].all()
    assert hidden["Culture"] and hidden.sum() >= 2


def test_persona_drift_is_zero_against_itself(first: pd.DataFrame) -> None:
    names = {0: "Alice", 1: "Bruno", 2: "Chloé"}
    result = compare_tables(first, first, Settings(linked=True, n_boot=100), K,
                            persona_names=names, months=6.0)
    drift = result.summary["drift"]
    assert drift["drift_share"] == 0 and drift["drift_per_month"] == 0
    assert drift["people_in_both"] == len(first)
    flows = result.persona_flows
    off = flows[flows["from_persona"] != flows["to_persona"]]
    assert off["n_people"].fillna(0).eq(0).all()
    shares = result.persona_shares
    assert (shares["share_before"] == shares["share_after"]).all()
    d = result.differences
    assert (d["difference"].dropna() == 0).all() and not d["significant"].any()


def test_persona_flows_hide_small_flows(first: pd.DataFrame) -> None:
    names = {0: "Alice", 1: "Bruno", 2: "Chloé"}
    after = first.copy()
    p0 = after.index[after["persona"] == 0]
    after.loc[p0[:4], "persona"] = 1   # a flow of 4: under the threshold
    after.loc[p0[4:44], "persona"] = 2  # a flow of 40
    result = compare_tables(first, after, Settings(linked=True, n_boot=100), K,
                            persona_names=names, months=4.0)
    f = result.persona_flows.set_index(["from_persona", "to_persona"])
    assert bool(f.loc[(0, 1), "suppressed"]) and math.isnan(f.loc[(0, 1), "n_people"])
    # alone in its line, the flow of 4 would be persona 0's total minus the rest: the 40 go
    assert bool(f.loc[(0, 2), "suppressed"])
    assert f.loc[(0, 0), "n_people"] == len(p0) - 44 and not f.loc[(0, 0), "suppressed"]
    shown = f[~f["suppressed"]]
    assert (shown["n_people"].eq(0) | shown["n_people"].ge(K)).all()
    drift = result.summary["drift"]
    assert drift["drift_share"] == pytest.approx(44 / len(first))
    assert drift["drift_per_month"] == pytest.approx(1 - (1 - 44 / len(first)) ** 0.25)


def test_persona_counts_leave_arrivals_and_departures_out(first: pd.DataFrame) -> None:
    # Linked campaigns: the first campaign published its persona sizes; a size moved by the
    # one person who left would tell that person's persona. Only people in both count.
    after = follow_up(first, seed=16)
    after["persona"] = after["persona"].fillna(0).astype(int)  # newcomers: some persona
    names = {0: "Alice", 1: "Bruno", 2: "Chloé"}
    result = compare_tables(first, after, Settings(linked=True, n_boot=100), K,
                            persona_names=names)
    shares = result.persona_shares
    assert (shares["n_before"] == shares["n_after"]).all()
    assert shares["n_before"].sum() == result.summary["turnover"]["linked"]
    d = result.differences
    persona_rows = d[(d["group_by"] == "persona") & ~d["suppressed"]]
    assert (persona_rows["n_before"] == persona_rows["n_after"]).all()
