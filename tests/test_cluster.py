"""Collection and profiling on a real Dask LocalCluster (worker processes on 127.0.0.1): the
same rows as the embedded run, after a worker is killed too; objections honoured by every
worker; no identity, path or key in the scheduler's or the workers' logs, nor anywhere outside
``secrets/``."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pandas as pd
import pytest
from bigbox import OWNER, big_maildir
from studykit import DOMAIN, keyed_studies, message, write_maildir

from mailstudy import schema
from mailstudy.collect import split, units
from mailstudy.collect.run import collect_files
from mailstudy.optout import add_optouts
from mailstudy.pipeline.cluster import collect_files_on, profile_on
from mailstudy.profile.run import run_profile
from mailstudy.store import read_messages
from mailstudy.study import open_study

distributed = pytest.importorskip("distributed")


@pytest.fixture
def small_units(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(split, "SPLIT_MIN", 200)
    monkeypatch.setattr(units, "UNIT_MIN", 50)


def _sources(root: Path) -> tuple[list[Path], list[str]]:
    """A big mailbox, three small ones (one of an objector); and the words none may show."""
    names = ["Bérénice Objectrice", "Jean Petitbois", "Zoé Lointaine"]
    boxes = [big_maildir(root, n=1200)]
    secret = [OWNER, "agnes.grand"]
    for i, (who, name) in enumerate(zip(("objecteur", "jean.petitbois", "zoe.lointaine"),
                                        names, strict=True)):
        addr = f"{who}@{DOMAIN}"
        raws = [(message(sender=f"{name} <{addr}>", to=f"Marie Curie <marie.curie@{DOMAIN}>",
                         subject=f"Sujet confidentiel {i}-{k}",
                         message_id=f"<s{i}-{k}@{DOMAIN}>"), "S") for k in range(30)]
        boxes.append(write_maildir(root / addr, {"": raws[:20], ".Sent": raws[20:]}))
        secret += [addr, name, f"Sujet confidentiel {i}"]
    return boxes, secret + ["marie.curie", "Marie Curie"]


def _rows(study_dir: Path) -> pd.DataFrame:
    df = read_messages(study_dir)[schema.names("messages")]
    return df.sort_values(["mailbox", "item_id"]).reset_index(drop=True)


def _set_cluster(study_root: Path, address: str) -> None:
    toml = study_root / "study.toml"
    text = toml.read_text()
    assert "[cluster]" in text and 'address = ""' in text
    toml.write_text(text.replace('address = ""', f'address = "{address}"'))


def _logs(client: distributed.Client) -> str:
    lines = [m for _, m in client.get_scheduler_logs(n=10_000)]
    for logs in client.get_worker_logs(n=10_000).values():
        lines += [m for _, m in logs]
    for logs in client.get_worker_logs(n=10_000, nanny=True).values():
        lines += [m for _, m in logs]
    return "\n".join(lines)


def test_cluster_collects_and_profiles_as_the_embedded_run(
        tmp_path: Path, cluster: distributed.LocalCluster, small_units: None) -> None:
    sources, secret = _sources(tmp_path / "src")
    local, remote = keyed_studies(tmp_path, 2)
    for s in (local, remote):
        add_optouts(s, [f"objecteur@{DOMAIN}"])
    collect_files(local, sources, workers=2)
    summary = collect_files_on(remote, sources, cluster=cluster.scheduler_address)
    assert not summary.failures
    a, b = _rows(local.messages_dir), _rows(remote.messages_dir)
    assert len(a) > 1200 and not b.duplicated("item_id").any()
    pd.testing.assert_frame_equal(a, b)
    # the objector's mailbox was never read, on any worker; their pseudonym is nowhere
    objector = remote.pseudonymiser().person(f"objecteur@{DOMAIN}")
    assert objector not in set(b["mailbox"]) and objector not in set(b["sender"])
    # profiling's per-batch work on the cluster, through [cluster] in study.toml
    _set_cluster(remote.root, cluster.scheduler_address)
    got = profile_on(open_study(remote.root)).people  # the edited study.toml, read again
    want = run_profile(local).people
    pd.testing.assert_frame_equal(want.reset_index(drop=True), got.reset_index(drop=True))
    assert len(got) >= 1

    with distributed.Client(cluster.scheduler_address) as client:
        logs = _logs(client)
        keys = client.run_on_scheduler(
            lambda dask_scheduler: {str(t[0]) for t in dask_scheduler.transition_log})
    assert any(k.startswith("profile-") for k in keys)  # the batches ran on the cluster
    assert "Receive client connection" in logs  # the logs were read
    key = remote.key_path.read_bytes()
    for word in [*secret, str(tmp_path / "src"), key.hex()]:
        assert word.lower() not in logs.lower(), word
    # the key is nowhere but secrets/: not in the study's other files, not in the workers'
    # spill and scratch folders
    for root in (remote.root, cluster.local_dir):  # type: ignore[attr-defined]
        for f in Path(root).rglob("*"):
            if f.is_file() and "secrets" not in f.relative_to(root).parts:
                data = f.read_bytes()
                assert key not in data and key.hex().encode() not in data, f.name


def test_a_killed_worker_changes_nothing(tmp_path: Path, cluster: distributed.LocalCluster,
                                         small_units: None) -> None:
    box = big_maildir(tmp_path / "src", n=3000)
    ref, killed = keyed_studies(tmp_path, 2)
    collect_files(ref, [box], workers=1)
    with distributed.Client(cluster.scheduler_address) as client:
        pids = client.run(os.getpid)
        victim = sorted(pids.values())[0]
        import threading

        def kill_when_started() -> None:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not list(killed.messages_dir.rglob(".unit-*")):
                time.sleep(0.005)
            os.kill(victim, signal.SIGKILL)

        t = threading.Thread(target=kill_when_started)
        t.start()
        summary = collect_files_on(killed, [box], cluster=cluster.scheduler_address,
                                   batch_rows=150)
        t.join()
        # the nanny started a new worker in place of the killed one
        client.wait_for_workers(2, timeout=60)
        assert victim not in set(client.run(os.getpid).values())
    assert not summary.failures
    got = _rows(killed.messages_dir)
    assert not got.duplicated("item_id").any()
    pd.testing.assert_frame_equal(_rows(ref.messages_dir), got)
    assert not list(killed.messages_dir.rglob(".unit-*"))


def test_mailstudy_run_collects_on_the_cluster_of_study_toml(
        tmp_path: Path, cluster: distributed.LocalCluster) -> None:
    """``mailstudy run`` (run_pipeline) takes ``[cluster] address`` from study.toml: the
    collect stage's tasks reach the scheduler and its rows equal an embedded run's."""
    from mailstudy.pipeline.run import run_pipeline

    sources, _ = _sources(tmp_path / "src")
    local, remote = keyed_studies(tmp_path, 2)
    collect_files(local, sources, workers=2)
    toml = remote.root / "study.toml"
    listed = ", ".join(f'"{p}"' for p in sources)
    toml.write_text(toml.read_text().replace("sources = []", f"sources = [{listed}]"))
    _set_cluster(remote.root, cluster.scheduler_address)
    with distributed.Client(cluster.scheduler_address) as client:
        before = client.run_on_scheduler(
            lambda dask_scheduler: {str(t[0]) for t in dask_scheduler.transition_log})
    report = run_pipeline(open_study(remote.root), only="collect")
    assert report.ok, [(s.name, s.status) for s in report.stages]
    with distributed.Client(cluster.scheduler_address) as client:
        after = client.run_on_scheduler(
            lambda dask_scheduler: {str(t[0]) for t in dask_scheduler.transition_log})
    assert any(k.startswith(("collect-", "unit-")) for k in after - before)
    pd.testing.assert_frame_equal(_rows(local.messages_dir), _rows(remote.messages_dir))
