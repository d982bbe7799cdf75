"""Two releases of the comparison around one change: nothing of it may show.

The adversary: an analyst holding the comparison published before and after one person of the
first campaign objected (her rows leave the first campaign's people table, the comparison is
run again). The release gate checked only ``n_people`` (the second campaign's count) and the
second campaign's population, so ``n_before`` of each of her groups fell by one in the second
release and gave her groups away; ``summary.json`` was not gated at all (people_before,
departures and the drift moved by her).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from comparekit import follow_up
from peoplekit import synthetic_people
from studykit import make_study

from mailstudy.compare import Settings, compare_tables
from mailstudy.compare.run import write_comparison
from mailstudy.release import close_release
from mailstudy.tabular import read_csv

K = 10
NAMES = {0: "Alice", 1: "Bruno", 2: "Chloé"}


@pytest.fixture(scope="module")
def first() -> pd.DataFrame:
    people, truth = synthetic_people(600, groups=3, seed=5)
    return people.assign(persona=truth.astype(int))


def _release(study, before: pd.DataFrame, after: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    result = compare_tables(before, after, Settings(linked=True, n_boot=50), K,
                            persona_names=NAMES, months=6.0)
    paths = write_comparison(study, result, lang="en")
    close_release(study)
    table = read_csv(paths["differences"])
    summary = json.loads(paths["summary"].read_text(encoding="utf-8"))
    return table, summary


def _counts(d: pd.DataFrame) -> pd.DataFrame:
    d = d[~d["suppressed"].astype(str).str.lower().isin(["true", "vrai", "1"])]
    return d.drop_duplicates(["group_by", "group"]).set_index(["group_by", "group"])[
        ["n_before", "n_after", "n_people"]].astype(float)


def _assert_no_small_move(a: float, b: float, what: str) -> None:
    assert a == b or abs(a - b) >= K, f"{what}: {a} -> {b}"


def test_an_objector_of_the_first_campaign_never_shows_in_the_next_comparison(
        tmp_path: Path, first: pd.DataFrame) -> None:
    study, _ = make_study(tmp_path / "s")
    after = follow_up(first, seed=21, turnover=0.05)
    t1, s1 = _release(study, first, after)
    # She left before the follow-up (in the first campaign only), then objected: the first
    # campaign's table loses her; the second campaign is untouched.
    departed = sorted(set(first["person"].astype(str)) - set(after["person"].astype(str)))
    her = departed[0]
    t2, s2 = _release(study, first[first["person"].astype(str) != her], after)
    c1, c2 = _counts(t1), _counts(t2)
    both = c1.index.intersection(c2.index)
    assert len(both) > 5
    for key in both:
        for col in ("n_before", "n_after", "n_people"):
            _assert_no_small_move(c1.loc[key, col], c2.loc[key, col], f"{key} {col}")
    for field in ("people_before", "people_after"):
        _assert_no_small_move(s1[field], s2[field], field)
    for field in ("linked", "arrivals", "departures"):
        _assert_no_small_move(s1["turnover"][field], s2["turnover"][field], field)
    assert s1["drift"] == s2["drift"]


def test_a_newcomer_of_the_follow_up_never_shows_either(
        tmp_path: Path, first: pd.DataFrame) -> None:
    study, _ = make_study(tmp_path / "s")
    after = follow_up(first, seed=22, turnover=0.05)
    t1, s1 = _release(study, first, after)
    newcomer = sorted(set(after["person"].astype(str)) - set(first["person"].astype(str)))[0]
    t2, s2 = _release(study, first, after[after["person"].astype(str) != newcomer])
    c1, c2 = _counts(t1), _counts(t2)
    for key in c1.index.intersection(c2.index):
        for col in ("n_before", "n_after", "n_people"):
            _assert_no_small_move(c1.loc[key, col], c2.loc[key, col], f"{key} {col}")
    for field in ("arrivals", "linked", "departures"):
        _assert_no_small_move(s1["turnover"][field], s2["turnover"][field], field)
    _assert_no_small_move(s1["people_after"], s2["people_after"], "people_after")
