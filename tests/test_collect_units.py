"""One large mailbox cut into units: the same rows as a whole-mailbox run, also after a kill."""

from __future__ import annotations

import multiprocessing as mp
import os
import random
import signal
import time
from pathlib import Path

import pandas as pd
import pytest
from bigbox import big_maildir
from studykit import keyed_studies, write_mbox

from mailstudy import schema
from mailstudy.collect import split, units
from mailstudy.collect.run import collect_files
from mailstudy.store import read_messages


@pytest.fixture
def small_units(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cut mailboxes of a few hundred messages (forked workers inherit the setting)."""
    monkeypatch.setattr(split, "SPLIT_MIN", 200)
    monkeypatch.setattr(units, "UNIT_MIN", 50)


def _table(study_dir: Path) -> pd.DataFrame:
    cols = schema.names("messages")
    df = read_messages(study_dir)[cols]
    return df.sort_values(["mailbox", "item_id"]).reset_index(drop=True)


def test_a_cut_mailbox_equals_a_whole_one(tmp_path: Path, small_units: None) -> None:
    box = big_maildir(tmp_path / "src", n=900)
    whole, cut, again = keyed_studies(tmp_path, 3)
    s1 = collect_files(whole, [box], workers=1)
    s2 = collect_files(cut, [box], workers=2)
    assert s2.mailboxes[0].error is None
    # the copies' keys were renumbered across units: same rows, same ids, none doubled
    a, b = _table(whole.messages_dir), _table(cut.messages_dir)
    assert len(a) > 900 and not b.duplicated("item_id").any()
    pd.testing.assert_frame_equal(a, b)
    assert s1.totals()["skipped"] == s2.totals()["skipped"]
    assert s1.totals()["messages_seen"] == s2.totals()["messages_seen"]
    # more than one unit was published, and no staged file is left
    assert len(list(cut.messages_dir.rglob("part-*.parquet"))) > 2
    assert not list(cut.messages_dir.rglob(".unit-*"))
    # a re-run (cut) of a mailbox collected whole adds nothing
    s3 = collect_files(whole, [box], workers=2)
    assert s3.messages_written == 0 and s3.mailboxes[0].already_present == len(a)
    assert collect_files(again, [box], workers=2).messages_written == len(a)


def test_an_mbox_is_cut_too(tmp_path: Path, small_units: None) -> None:
    from studykit import message

    raws = [message(message_id=f"<x{i}@region.test>", subject=f"S {i}",
                    sender="Marie Curie <marie.curie@region.test>") for i in range(300)]
    raws += raws[:5]  # copies at the end: other units than their first
    mbox = write_mbox(tmp_path / "jean.dupont@region.test.mbox", raws)
    whole, cut = keyed_studies(tmp_path, 2)
    collect_files(whole, [mbox], workers=1)
    s = collect_files(cut, [mbox], workers=2)
    assert s.messages_written == 305
    pd.testing.assert_frame_equal(_table(whole.messages_dir), _table(cut.messages_dir))


def _child(study_root: Path, box: Path) -> None:
    os.setsid()
    from mailstudy.study import open_study

    collect_files(open_study(study_root), [box], workers=2, batch_rows=120)


def test_killed_cut_collection_resumes_to_the_same_rows(tmp_path: Path,
                                                        small_units: None) -> None:
    box = big_maildir(tmp_path / "src", n=1500)
    ref, killed = keyed_studies(tmp_path, 2)
    collect_files(ref, [box], workers=1)
    expected = _table(ref.messages_dir)
    ctx = mp.get_context("fork")
    rng = random.Random(3)
    states = []
    for _ in range(3):
        p = ctx.Process(target=_child, args=(killed.root, box))
        p.start()
        deadline = time.monotonic() + 60
        while (p.is_alive() and time.monotonic() < deadline
               and not list(killed.messages_dir.rglob(".unit-*"))):
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.2))
        if p.is_alive():
            os.killpg(p.pid, signal.SIGKILL)
        p.join()
        states.append(len(read_messages(killed.messages_dir, columns=["item_id"])))
    assert any(n < len(expected) for n in states), states
    s = collect_files(killed, [box], workers=2, batch_rows=120)
    assert s.mailboxes[0].error is None
    got = _table(killed.messages_dir)
    assert not got.duplicated("item_id").any()
    pd.testing.assert_frame_equal(expected, got)
    assert not list(killed.messages_dir.rglob(".unit-*"))
    assert not list(killed.messages_dir.rglob(".tmp-*"))


def test_a_starting_run_leaves_a_live_runs_staged_files_alone(tmp_path: Path) -> None:
    store = tmp_path / "messages"
    part = store / "mailbox=p0123456789abcdef"
    part.mkdir(parents=True)
    live = part / f"{units.STAGE_PREFIX}aaaa11112222-00000.parquet"
    dead = part / f"{units.STAGE_PREFIX}bbbb33334444-00000.parquet"
    live.write_bytes(b"x")
    dead.write_bytes(b"x")
    ctx = mp.get_context("fork")
    held, done = ctx.Event(), ctx.Event()

    def hold() -> None:  # another process runs "aaaa11112222"
        with units.run_lock(store, "aaaa11112222"):
            held.set()
            done.wait(30)

    p = ctx.Process(target=hold)
    p.start()
    assert held.wait(30)
    assert units.clean_staged(store) == 1  # only the dead run's file
    assert live.exists() and not dead.exists()
    done.set()
    p.join()
    assert units.clean_staged(store) == 1 and not live.exists()
    assert not list(store.glob(".run-*"))
