"""SIGKILL at any moment, then a re-run: exactly the rows of an uninterrupted run."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
from studykit import REPO, make_study

from mailstudy import schema
from mailstudy.demo.council import generate_council
from mailstudy.store import read_messages


def _collect_cmd(study: Path, sources: list[Path]) -> list[str]:
    return [sys.executable, "-m", "mailstudy", "collect", "files", *map(str, sources),
            "--workers", "2", "--batch-rows", "40", "--study", str(study)]


def test_killed_collection_resumes_to_the_same_dataset(tmp_path: Path) -> None:
    council = generate_council(tmp_path / "council", n_agents=40, weeks=3, seed=3,
                               domain="region.test")
    sources = sorted(council.mailboxes.iterdir())
    ref, _ = make_study(tmp_path / "ref")
    killed, _ = make_study(tmp_path / "killed")
    killed.key_path.write_bytes(ref.key_path.read_bytes())

    r = subprocess.run(_collect_cmd(ref.root, sources), capture_output=True, text=True,
                       cwd=REPO, timeout=600)
    assert r.returncode == 0, r.stderr
    expected = read_messages(ref.messages_dir)
    assert len(expected) > 500

    rng = random.Random(7)
    kills = 0
    partial_states = []
    for _ in range(4):
        p = subprocess.Popen(_collect_cmd(killed.root, sources), cwd=REPO,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
        # wait for this run's first commit, then kill at a random later moment
        before = set(killed.messages_dir.rglob("part-*.parquet"))
        deadline = time.monotonic() + 60
        while (p.poll() is None and time.monotonic() < deadline
               and not set(killed.messages_dir.rglob("part-*.parquet")) - before):
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.15))
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)  # the collector and its worker processes
            kills += 1
        p.wait()
        partial_states.append(len(read_messages(killed.messages_dir, columns=["item_id"])))
    assert kills >= 3
    # the kills landed mid-collection: some states held part of the data
    assert any(0 < n < len(expected) for n in partial_states), partial_states
    r = subprocess.run(_collect_cmd(killed.root, sources), capture_output=True, text=True,
                       cwd=REPO, timeout=600)
    assert r.returncode == 0, r.stderr
    got = read_messages(killed.messages_dir)
    cols = schema.names("messages")
    a = expected[cols].sort_values(["mailbox", "item_id"]).reset_index(drop=True)
    b = got[cols].sort_values(["mailbox", "item_id"]).reset_index(drop=True)
    assert not b.duplicated(["mailbox", "item_id"]).any()
    pd.testing.assert_frame_equal(a, b)
    assert not list(killed.messages_dir.rglob(".tmp-*"))
