"""IMAP collection under faults, against a real Dovecot: the server killed and restarted
mid-collection, a frozen server (read timeouts), a malformed BODYSTRUCTURE, and the collector
itself killed with SIGKILL at random moments. Each time the dataset must equal that of an
uninterrupted run: no gap, no duplicate."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from studykit import REPO, keyed_studies
from test_imap_collect import tls

from mailstudy.collect.imap import Account, Auth, Server, collect_imap
from mailstudy.demo.council import generate_council
from mailstudy.demo.dovecot import DovecotServer
from mailstudy.demo.proxy import RewritingProxy
from mailstudy.store import read_messages
from mailstudy.study import Study

DOMAIN = "region.test"


@pytest.fixture(scope="module")
def council_boxes(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Mailboxes of a small synthetic council, largest first (shared, read-only)."""
    council = generate_council(tmp_path_factory.mktemp("council"), n_agents=16, weeks=3,
                               seed=11, domain=DOMAIN)
    return sorted(council.mailboxes.iterdir(),
                  key=lambda b: (-sum(1 for _ in b.rglob("*,*")), b.name))


def loaded_server(make_dovecot, boxes: list[Path]) -> tuple[DovecotServer, list[Account]]:
    srv = make_dovecot()
    accounts = []
    for i, b in enumerate(boxes):
        srv.add_user(f"u{i}", f"pw{i}")
        srv.load_maildir(f"u{i}", b)
        accounts.append(Account(b.name, srv.login_as(f"u{i}")))
    srv.start()
    return srv, accounts


def rows(study: Study) -> pd.DataFrame:
    df = read_messages(study.messages_dir)
    assert df["item_id"].is_unique
    df = df.sort_values("item_id").reset_index(drop=True)
    return df.astype(object).where(df.notna(), None).map(
        lambda v: tuple(v) if hasattr(v, "__len__") and not isinstance(v, str) else v)


def test_server_killed_mid_collection_then_restarted(
        tmp_path: Path, make_dovecot, council_boxes: list[Path]) -> None:
    srv, accounts = loaded_server(make_dovecot, council_boxes[:1])
    ref, faulty = keyed_studies(tmp_path, 2)
    auth = Auth(password=srv.master[1])
    collect_imap(ref, tls(srv), accounts, auth, workers=1, batch_size=10)
    expected = rows(ref)
    assert len(expected) > 60

    crashed = threading.Event()

    def on_progress(done: int, planned: int, boxes: int, total: int) -> None:
        if done >= 20 and not crashed.is_set():
            crashed.set()
            srv.kill()  # SIGKILL to Dovecot's process group: connections drop mid-session
            threading.Timer(0.4, srv.start).start()

    # one unit at a time, so that units are still waiting when the server dies
    s = collect_imap(faulty, tls(srv), accounts, auth, workers=1, batch_size=10, inflight=1,
                     backoff=0.1, on_progress=on_progress)
    m = s.mailboxes[0]
    assert crashed.is_set() and m.error is None
    assert m.skipped["reconnections"] >= 1
    pd.testing.assert_frame_equal(rows(faulty), expected)


def test_frozen_server_times_out_and_resumes(
        tmp_path: Path, make_dovecot, council_boxes: list[Path]) -> None:
    srv, accounts = loaded_server(make_dovecot, council_boxes[1:2])
    ref, faulty = keyed_studies(tmp_path, 2)
    auth = Auth(password=srv.master[1])
    collect_imap(ref, tls(srv), accounts, auth, workers=1, batch_size=15)
    frozen = threading.Event()

    def on_progress(done: int, planned: int, boxes: int, total: int) -> None:
        if done >= 15 and not frozen.is_set():
            frozen.set()
            srv.pause()  # SIGSTOP: the connection stays open and silent
            threading.Timer(1.5, srv.resume).start()

    s = collect_imap(faulty, tls(srv, connect_timeout=0.5, read_timeout=0.5), accounts, auth,
                     workers=1, batch_size=15, inflight=1, backoff=0.1,
                     on_progress=on_progress)
    assert frozen.is_set() and s.mailboxes[0].error is None
    # the server was silent, not gone: only the read timeout can have caused a reconnection
    assert s.mailboxes[0].skipped["reconnections"] >= 1
    pd.testing.assert_frame_equal(rows(faulty), rows(ref))


def test_server_down_too_long_fails_the_mailbox_then_rerun_completes(
        tmp_path: Path, make_dovecot, council_boxes: list[Path]) -> None:
    srv, accounts = loaded_server(make_dovecot, council_boxes[2:3])
    ref, faulty = keyed_studies(tmp_path, 2)
    auth = Auth(password=srv.master[1])
    collect_imap(ref, tls(srv), accounts, auth, workers=1, batch_size=10)
    stopped = threading.Event()

    def on_progress(done: int, planned: int, boxes: int, total: int) -> None:
        if done >= 30 and not stopped.is_set():
            stopped.set()
            srv.stop()

    # one unit at a time, so that units are still waiting when the server goes
    s = collect_imap(faulty, tls(srv), accounts, auth, workers=1, batch_size=10, inflight=1,
                     backoff=0.05, max_retries=2, on_progress=on_progress)
    m = s.mailboxes[0]
    assert m.error is not None and "re-run to resume" in m.error
    committed = len(read_messages(faulty.messages_dir))
    assert 30 <= m.messages_written == committed < m.messages_seen
    srv.start()
    s = collect_imap(faulty, tls(srv), accounts, auth, workers=1, batch_size=10)
    assert s.mailboxes[0].error is None and s.mailboxes[0].already_present == committed
    pd.testing.assert_frame_equal(rows(faulty), rows(ref))


def test_malformed_bodystructure_still_collects_from_headers(
        tmp_path: Path, make_dovecot, council_boxes: list[Path]) -> None:
    srv, accounts = loaded_server(make_dovecot, council_boxes[3:4])
    ref, faulty = keyed_studies(tmp_path, 2)
    auth = Auth(password=srv.master[1])
    collect_imap(ref, tls(srv), accounts, auth, workers=1)

    injected: set[int] = set()

    def rewrite(line: bytes) -> bytes:
        if line.startswith(b"* 2 FETCH ") and 2 not in injected:  # unbalanced parenthesis
            injected.add(2)
            return line.replace(b"BODYSTRUCTURE (", b"BODYSTRUCTURE ((", 1)
        if line.startswith(b"* 3 FETCH ") and 3 not in injected:  # a size that is no number
            injected.add(3)
            return re.sub(rb'(BODYSTRUCTURE \(.*?"[0-9A-Za-z-]+" )(\d+)', rb'\1"big"', line,
                          count=1)
        return line

    proxy = RewritingProxy((srv.host, srv.imap_port), rewrite)
    try:
        s = collect_imap(faulty, Server("127.0.0.1", proxy.port, plaintext=True), accounts,
                         auth, workers=1)
    finally:
        proxy.close()
    m = s.mailboxes[0]
    assert m.error is None and m.defects["bad_bodystructure"] == 2
    got, want = rows(faulty), rows(ref)
    assert len(got) == len(want)
    bad = got["defects"].map(lambda d: "bad_bodystructure" in d)
    assert bad.sum() == 2
    header_cols = ["message_id", "sender", "to", "cc", "date_utc", "subject_len", "seen",
                   "size_bytes", "imap_uid"]
    pd.testing.assert_frame_equal(got[header_cols], want[header_cols])
    good = ~bad
    pd.testing.assert_frame_equal(got[good].reset_index(drop=True),
                                  want[good].reset_index(drop=True))


def test_a_server_stopping_at_greeting_or_login_is_retried(
        tmp_path: Path, make_dovecot, council_boxes: list[Path]) -> None:
    """A server shutting down greets with BYE, or refuses a login as UNAVAILABLE: both are
    passing states, retried with backoff, and the mailbox is collected."""
    srv, accounts = loaded_server(make_dovecot, council_boxes[4:5])
    ref, faulty = keyed_studies(tmp_path, 2)
    auth = Auth(password=srv.master[1])
    collect_imap(ref, tls(srv), accounts, auth, workers=1)
    done: list[str] = []

    def rewrite(line: bytes) -> bytes:
        if line.startswith(b"* OK") and "bye" not in done:  # the first greeting
            done.append("bye")
            return b"* BYE Server shutting down.\r\n"
        if re.match(rb"^\w+ OK .*Logged in", line) and "login" not in done:
            done.append("login")
            tag = line.split(b" ", 1)[0]
            return tag + b" NO [UNAVAILABLE] Temporary authentication failure.\r\n"
        return line

    proxy = RewritingProxy((srv.host, srv.imap_port), rewrite)
    try:
        s = collect_imap(faulty, Server("127.0.0.1", proxy.port, plaintext=True), accounts,
                         auth, workers=1, backoff=0.05)
    finally:
        proxy.close()
    assert done == ["bye", "login"]
    m = s.mailboxes[0]
    assert m.error is None and m.skipped["reconnections"] >= 1
    pd.testing.assert_frame_equal(rows(faulty), rows(ref))


def _cli(study: Study, srv: DovecotServer, accounts_csv: Path) -> list[str]:
    return [sys.executable, "-m", "mailstudy", "collect", "imap", "--host", srv.host,
            "--port", str(srv.imaps_port), "--ca-file", str(srv.ca_file), "--accounts",
            str(accounts_csv), "--password-env", "TEST_IMAP_PW", "--workers", "2",
            "--batch-size", "5", "--study", str(study.root)]


def test_sigkilled_collector_rerun_equals_uninterrupted_run(
        tmp_path: Path, make_dovecot, council_boxes: list[Path]) -> None:
    srv, accounts = loaded_server(make_dovecot, council_boxes[:3])
    ref, killed = keyed_studies(tmp_path, 2)
    csv = tmp_path / "accounts.csv"
    csv.write_text("mailbox,login\n" + "".join(f"{a.address},{a.login}\n" for a in accounts))
    env = {**os.environ, "TEST_IMAP_PW": srv.master[1]}
    collect_imap(ref, tls(srv), accounts, Auth(password=srv.master[1]), workers=1)
    expected = rows(ref)
    assert len(expected) > 150

    rng = random.Random(3)
    partial = [0]
    for _ in range(2):
        n_files = len(list(killed.messages_dir.rglob("part-*.parquet")))
        p = subprocess.Popen(_cli(killed, srv, csv), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, env=env, cwd=REPO)
        # wait for this run's first commit, then kill it at a random moment after it
        deadline = time.monotonic() + 60
        while (len(list(killed.messages_dir.rglob("part-*.parquet"))) <= n_files
               and time.monotonic() < deadline and p.poll() is None):
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.05))
        p.send_signal(signal.SIGKILL)  # the collector only: its workers must die with it
        p.wait()
        time.sleep(0.3)
        # no orphan worker goes on publishing (a temporary file it could not publish is
        # removed by the next run)
        before = sorted(f.name for f in killed.messages_dir.rglob("part-*.parquet"))
        time.sleep(0.7)
        assert sorted(f.name for f in killed.messages_dir.rglob("part-*.parquet")) == before
        partial.append(len(read_messages(killed.messages_dir)))
    # the re-run (in-process here, to keep the test short) completes the dataset
    s = collect_imap(killed, tls(srv), accounts, Auth(password=srv.master[1]), workers=1)
    assert not s.failures and s.totals()["already_present"] == partial[-1]
    assert 0 < partial[1] < len(expected)  # the first kill hit a run mid-way
    assert partial[1] <= partial[2]
    pd.testing.assert_frame_equal(rows(killed), expected)
