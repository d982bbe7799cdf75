"""The release gate: a change of 1 to k-1 people between two releases never shows."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mailstudy.release.gate import Earlier, hold_back
from mailstudy.release.ledger import Ledger

K = 10


def habits(counts: dict[str, int]) -> pd.DataFrame:
    rows = [{"habit": h, "n_people": n if n >= K else None, "suppressed": n < K,
             "median": n / 100 if n >= K else None} for h, n in counts.items()]
    return pd.DataFrame(rows)


BEFORE = {"hors_horaires": 28, "mobile": 32, "reactif": 35, "classeur": 40, "rare": 4,
          "Total": 119}


def _publish(ledger: Ledger, counts: dict[str, int], population: int):
    table = habits(counts)
    true = pd.Series(list(counts.values()))
    return ledger.publish("by_habit", table, true, population=population, dims=["habit"],
                          count="n_people", k=K)


def test_an_objector_between_two_releases_changes_nothing_visible(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    first, held = _publish(ledger, BEFORE, 119)
    assert held == 0
    ledger.close([], tmp_path)
    # She had three labels; she objects and the stages re-run.
    after = {**BEFORE, "hors_horaires": 27, "mobile": 31, "reactif": 34, "Total": 118}
    second, held = _publish(ledger, after, 118)
    assert held > 0
    pd.testing.assert_frame_equal(second.reset_index(drop=True), first.reset_index(drop=True),
                                  check_dtype=False)


def test_rows_that_moved_by_less_than_k_are_held_back_others_published() -> None:
    first = habits(BEFORE)
    earlier = [Earlier(1, 119, first)]
    grown = {**BEFORE, "hors_horaires": 29, "mobile": 50, "Total": 150}  # 31 newcomers
    table = habits(grown)
    out, held = hold_back(table, pd.Series(list(grown.values())), 150, dims=["habit"],
                          count="n_people", earlier=earlier, k=K)
    got = dict(zip(out["habit"], out["n_people"], strict=True))
    assert got["hors_horaires"] == 28  # +1: the earlier figure stands
    assert got["mobile"] == 50 and got["Total"] == 150  # +18, +31: published
    assert held == 1


def test_a_group_vanishing_or_newly_hidden_by_a_few_people_stays_as_it_was() -> None:
    first = habits(BEFORE)
    now = {k: v for k, v in BEFORE.items() if k != "classeur"}  # 40 -> 0: published
    now.update({"hors_horaires": 8, "Total": 200})  # 28 -> 8: hidden now, 20 apart: shown
    out, held = hold_back(habits(now), pd.Series(list(now.values())), 200, dims=["habit"],
                          count="n_people", earlier=[Earlier(1, 119, first)], k=K)
    assert "classeur" not in set(out["habit"]) and held == 0
    now["hors_horaires"] = 21  # 28 -> 21: 7 apart, the row of release 1 stands
    out, held = hold_back(habits(now), pd.Series(list(now.values())), 200, dims=["habit"],
                          count="n_people", earlier=[Earlier(1, 119, first)], k=K)
    assert out.set_index("habit").loc["hors_horaires", "n_people"] == 28 and held == 1


def test_every_earlier_release_counts_not_only_the_last(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    _publish(ledger, BEFORE, 119)
    ledger.close([], tmp_path)
    big = {k: v + 20 for k, v in BEFORE.items()}
    _publish(ledger, big, 139)
    ledger.close([], tmp_path)
    # 120 is 20 away from release 2 but only 1 from release 1: held back.
    out, held = _publish(ledger, {**big, "Total": 120}, 120)
    assert held > 0 and len(ledger.closed()) == 2


def test_every_published_count_and_every_population_is_checked() -> None:
    # A comparison's row shows n_before and n_after; an objector of the first campaign moves
    # only n_before (and the first campaign's population), which a gate on n_after missed.
    first = pd.DataFrame({"group": ["A", "B"], "n_before": [30, 40], "n_after": [31, 40],
                          "suppressed": [False, False]})
    earlier = [Earlier(1, (71, 70), first)]
    now = first.assign(n_before=[29, 40])
    true = now[["n_before", "n_after"]]
    out, held = hold_back(now, true, (71, 70), dims=["group"], count=["n_before", "n_after"],
                          earlier=earlier, k=K)
    assert held == 1 and out.set_index("group").loc["A", "n_before"] == 30
    out, held = hold_back(now, true["n_after"], (71, 70), dims=["group"], count="n_after",
                          earlier=earlier, k=K)
    assert held == 0  # what the single count let through
    out, held = hold_back(first, first[["n_before", "n_after"]], (71, 69), dims=["group"],
                          count=["n_before", "n_after"], earlier=earlier, k=K)
    assert held == len(first)  # the second population moved by one: the table as it was
