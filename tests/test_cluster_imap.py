"""IMAP collection on a real Dask LocalCluster (2 worker processes on 127.0.0.1) from a real
Dovecot: the same rows as the local run, after a worker is killed mid-mailbox too; an
objector's mailbox never read; no address, login, folder name, password or key in the task
keys, the scheduler's and workers' logs, or any file outside ``secrets/``; a bad ``--cluster``
is one clear error line."""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from studykit import DOMAIN, keyed_studies, make_study, message

from mailstudy import schema
from mailstudy.collect.imap import Account, Auth, Server, collect_imap
from mailstudy.demo.dovecot import DovecotServer
from mailstudy.demo.dovecot_config import available
from mailstudy.optout import add_optouts
from mailstudy.pipeline.cluster_imap import collect_imap_on
from mailstudy.schema import MARK_OPTOUT
from mailstudy.store import read_messages
from mailstudy.study import open_study

distributed = pytest.importorskip("distributed")

#: (address, login, password, folders: name -> messages); index 0 is the big mailbox
BOXES = [
    (f"agnes.grandbois@{DOMAIN}", "login-agnesg", "pw-Agnes-7qX",
     {"INBOX": 900, "Sent": 300, "Dossier-Petitbois": 60}),
    (f"jean.petitbois@{DOMAIN}", "login-jeanp", "pw-Jean-3kZ", {"INBOX": 25, "Sent": 10}),
    (f"objecteur.zoe@{DOMAIN}", "login-objz", "pw-Objz-9wQ", {"INBOX": 15}),
    (f"marc.lointain@{DOMAIN}", "login-marcl", "pw-Marc-5tY", {"INBOX": 12, "Archive": 8}),
]
OBJECTOR = BOXES[2][0]


def _raws(owner: str, folder: str, n: int) -> list[bytes]:
    who = owner.split("@")[0]
    return [message(sender=f"Corres {k % 7} <corres.{k % 7}@{DOMAIN}>",
                    to=f"Propriétaire <{owner}>", subject=f"Affaire-{who}-{folder}-{k}",
                    message_id=f"<{who}.{folder}.{k}@{DOMAIN}>",
                    date=f"Mon, {1 + k % 28:02d} Sep 2025 10:{k % 60:02d}:00 +0200")
            for k in range(n)]


@pytest.fixture(scope="module")
def server() -> Iterator[DovecotServer]:
    reason = available()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"IMAP tests need Dovecot under CI: {reason}")
        pytest.skip(f"IMAP tests skipped: {reason}")
    srv = DovecotServer.create(users={login: pw for _, login, pw, _ in BOXES})
    for owner, login, _pw, folders in BOXES:
        for folder, n in folders.items():
            srv.add_messages(login, folder, _raws(owner, folder, n))
    try:
        srv.start()
        yield srv
    finally:
        srv.cleanup()


def _imap(srv: DovecotServer) -> tuple[Server, list[Account], Auth]:
    accounts = [Account(owner, login) for owner, login, _, _ in BOXES]
    auth = Auth(passwords={login: pw for _, login, pw, _ in BOXES})
    return Server(srv.host, srv.imaps_port, ca_file=str(srv.ca_file)), accounts, auth


def _rows(study_dir: Path) -> pd.DataFrame:
    df = read_messages(study_dir)[schema.names("messages")]
    df["mailbox"] = df["mailbox"].astype(str)
    return df.sort_values(["mailbox", "item_id"]).reset_index(drop=True)


def _counts(summary: Any) -> list[tuple[Any, ...]]:
    return [(m.index, m.mailbox, m.owner_from, m.folders, m.messages_seen, m.messages_written,
             m.already_present, m.error) for m in summary.mailboxes]


@pytest.fixture(scope="module")
def runs(server: DovecotServer, cluster: Any, tmp_path_factory: pytest.TempPathFactory
         ) -> dict[str, Any]:
    """One local run and one cluster run of the same accounts (an objector among them), into
    two studies sharing a key; the cluster's task keys and logs read afterwards."""
    local, remote = keyed_studies(tmp_path_factory.mktemp("runs"), 2)
    for s in (local, remote):
        add_optouts(s, [OBJECTOR])
    srv, accounts, auth = _imap(server)
    want = collect_imap(local, srv, accounts, auth, workers=2, batch_size=100, chunk_size=300)
    before = _logins(server)
    got = collect_imap_on(remote, srv, accounts, auth, cluster=cluster.scheduler_address,
                          batch_size=100, chunk_size=300)
    with distributed.Client(cluster.scheduler_address) as client:
        keys = client.run_on_scheduler(
            lambda dask_scheduler: sorted({str(t[0]) for t in dask_scheduler.transition_log}))
        lines = [m for _, m in client.get_scheduler_logs(n=10_000)]
        for nanny in (False, True):
            for logs in client.get_worker_logs(n=10_000, nanny=nanny).values():
                lines += [m for _, m in logs]
    return {"local": local, "remote": remote, "want": want, "got": got, "keys": keys,
            "logs": "\n".join(lines), "logins": (before, _logins(server))}


def _logins(server: DovecotServer) -> dict[str, int]:
    """Logins per user so far, from Dovecot's log."""
    text = server.log_file.read_text(errors="replace")
    return {login: text.count(f"Login: user=<{login}>") for _, login, _, _ in BOXES}


def test_cluster_run_equals_the_local_run(runs: dict[str, Any]) -> None:
    want, got = runs["want"], runs["got"]
    assert not got.failures and got.path is not None and got.path.exists()
    assert _counts(got) == _counts(want)
    a, b = _rows(runs["local"].messages_dir), _rows(runs["remote"].messages_dir)
    assert len(a) == sum(sum(f.values()) for i, (*_, f) in enumerate(BOXES) if i != 2)
    assert not b.duplicated("item_id").any()
    pd.testing.assert_frame_equal(a, b)


def test_an_objector_is_not_collected_on_the_cluster(runs: dict[str, Any]) -> None:
    remote = runs["remote"]
    m = runs["got"].mailboxes[2]
    assert (m.mailbox, m.owner_from, m.messages_written) == (MARK_OPTOUT, "account+optout", 0)
    assert m.skipped["owner_opted_out"] == 1
    objector = remote.pseudonymiser().person(OBJECTOR)
    rows = _rows(remote.messages_dir)
    assert objector not in set(rows["mailbox"]) and objector not in set(rows["sender"])
    assert objector not in runs["got"].path.read_text()
    # every other mailbox was opened by the cluster's workers, the objector's never
    before, after = runs["logins"]
    assert {k for k in after if after[k] > before[k]} == {b[1] for b in BOXES} - {"login-objz"}
    assert after["login-objz"] == 0


def test_no_identity_or_secret_in_task_keys_logs_or_files(runs: dict[str, Any],
                                                          cluster: Any) -> None:
    keys, logs = runs["keys"], runs["logs"]
    imap_keys = [k for k in keys if k.startswith("imap-")]
    assert len(imap_keys) == 3  # the admitted mailboxes only
    assert all(re.fullmatch(r"imap-[0-9a-f]{12}-[0-9]+", k) for k in imap_keys), imap_keys
    assert "Receive client connection" in logs  # the logs were read
    remote = runs["remote"]
    key = remote.key_path.read_bytes()
    words = [key.hex()]
    for owner, login, pw, _folders in BOXES:
        words += [owner, owner.split("@")[0], login, pw]
    words += ["Dossier-Petitbois", "Affaire-", "Propriétaire"]
    for word in words:
        assert word.lower() not in logs.lower(), word
        assert all(word.lower() not in k.lower() for k in keys), word
    for root in (remote.root, cluster.local_dir):
        for f in Path(root).rglob("*"):
            if f.is_file() and "secrets" not in f.relative_to(root).parts:
                data = f.read_bytes()
                assert key not in data and key.hex().encode() not in data, f.name
                for _, _, pw, _ in BOXES:
                    assert pw.encode() not in data, f.name


def _kill_the_big_mailbox_worker(client: Any, partition: Path, killed: list[int]) -> None:
    """SIGKILL the worker process running the big mailbox's task once some of its batches
    are committed (and, the test checks, before its last)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if partition.is_dir() and any(partition.glob("part-*.parquet")):
            running = client.run(lambda dask_worker: (
                os.getpid(), [str(ts.key) for ts in dask_worker.state.executing]))
            for pid, executing in running.values():
                if any(k.endswith("-0") for k in executing):
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                    return
        time.sleep(0.005)


def test_a_killed_worker_changes_nothing(server: DovecotServer, cluster: Any,
                                         tmp_path: Path) -> None:
    ref, study = keyed_studies(tmp_path, 2)
    srv, accounts, auth = _imap(server)
    want = collect_imap(ref, srv, accounts, auth, workers=1, batch_size=20)
    killed: list[int] = []
    big = study.pseudonymiser().person(study.normal_address(BOXES[0][0]))
    with distributed.Client(cluster.scheduler_address) as client:
        t = threading.Thread(target=_kill_the_big_mailbox_worker,
                             args=(client, study.messages_dir / f"mailbox={big}", killed))
        t.start()
        # through [cluster] address in study.toml this time
        toml = study.root / "study.toml"
        toml.write_text(toml.read_text().replace(
            'address = ""', f'address = "{cluster.scheduler_address}"'))
        got = collect_imap_on(open_study(study.root), srv, accounts, auth, batch_size=20)
        t.join()
        client.wait_for_workers(2, timeout=60)  # the nanny started a new worker
        assert killed and killed[0] not in {p for p, _ in client.run(
            lambda: (os.getpid(), None)).values()}
    assert not got.failures
    m = got.mailboxes[0]
    # the re-run found the killed task's batches committed and fetched only the rest
    assert m.already_present > 0 and m.messages_written > 0
    assert m.already_present + m.messages_written == want.mailboxes[0].messages_written
    rows = _rows(study.messages_dir)
    assert not rows.duplicated("item_id").any()
    pd.testing.assert_frame_equal(_rows(ref.messages_dir), rows)


def test_a_bad_cluster_address_is_one_clear_error(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from mailstudy.cli import app

    study, _ = make_study(tmp_path)
    base = ["collect", "imap", "--host", "127.0.0.1", "--port", "1", "--user",
            f"jean.petitbois@{DOMAIN}", "--password-env", "PW_T", "--study", str(study.root)]
    runner = CliRunner()
    r = runner.invoke(app, [*base, "--cluster", "foo://nowhere:x"], env={"PW_T": "pw-x"})
    assert r.exit_code == 2, r.output
    assert "cluster address must look like tcp://host:8786" in r.output
    outputs = [r.output]
    toml = study.root / "study.toml"
    toml.write_text(toml.read_text().replace('address = ""', 'address = ""\ntimeout = 2'))
    r = runner.invoke(app, [*base, "--cluster", "tcp://127.0.0.1:1"], env={"PW_T": "pw-x"})
    assert r.exit_code == 2, r.output
    assert "cannot reach a Dask scheduler at tcp://127.0.0.1:1 within 2 s" in r.output
    for out in [*outputs, r.output]:
        assert "Traceback" not in out and "internal error" not in out and "pw-x" not in out
