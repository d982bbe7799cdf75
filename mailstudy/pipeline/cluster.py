"""Collection and profiling on a Dask distributed cluster (``--cluster ADDRESS`` or the
``[cluster]`` table of study.toml); without either, everything runs embedded, on this machine.

The contract with the workers: the study folder is on a filesystem every worker mounts at the
same path (the message store, the escrow and ``secrets/`` included); each worker has mailstudy
installed. Work is one task per mailbox, or per unit of a mailbox big enough to be cut
(:mod:`mailstudy.collect.split`, planned here, on the client, as the local pool does), and one
task per batch of partitions for the profile. Tasks are idempotent, so the scheduler's re-run
of a lost worker's tasks ends in the same rows (the store skips what is committed, a unit stages
the same file under the same name, the finish publishes each staged file once, under the
mailbox's lock). Task keys carry a run id and numbers only: no path, no identity reaches the
scheduler's or the workers' logs. IMAP collection on a cluster is in
:mod:`mailstudy.pipeline.cluster_imap` (one task per mailbox).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mailstudy.collect.mailbox import MailboxResult, Session
from mailstudy.collect.run import RunSummary, file_jobs, owner_groups, start_summary
from mailstudy.collect.split import absorb, choose_split, plan_split
from mailstudy.collect.units import UnitJob, UnitResult, run_lock
from mailstudy.errors import ConfigError
from mailstudy.pipeline import cluster_tasks
from mailstudy.study import Study


@dataclass(frozen=True)
class ClusterSpec:
    address: str
    timeout: float = 30.0


#: address schemes a Dask scheduler listens on
SCHEMES = ("tcp", "tls", "ws", "wss", "inproc", "ucx")


def cluster_spec(study: Study, address: str | None = None) -> ClusterSpec | None:
    """The cluster to use: ``address`` (the command line) wins over ``[cluster] address``;
    None means the embedded local run. A malformed address or timeout is refused here, before
    any connection: a typo must not cost the connection timeout."""
    cfg = study.section("cluster")
    if not isinstance(cfg, dict):
        raise ConfigError("[cluster] must be a table (address = \"tcp://host:8786\")")
    raw = address if address else cfg.get("address") or ""
    if not isinstance(raw, str):
        raise ConfigError("[cluster] address must be a string such as \"tcp://host:8786\"")
    addr = raw.strip()
    if not addr:
        return None
    if "://" not in addr:
        addr = f"tcp://{addr}"
    _check_address(addr)
    timeout = cfg.get("timeout", 30)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not (
            0 < timeout < float("inf")):
        raise ConfigError("[cluster] timeout must be a number of seconds above 0")
    return ClusterSpec(addr, float(timeout))


def _check_address(addr: str) -> None:
    from urllib.parse import urlsplit

    bad = ConfigError("cluster address must look like tcp://host:8786 (a Dask scheduler)")
    try:
        parts = urlsplit(addr)
        port = parts.port
    except ValueError:
        raise bad from None
    if parts.scheme not in SCHEMES:
        raise bad
    if parts.scheme != "inproc" and (not parts.hostname or port is None or " " in addr
                                     or parts.path not in ("", "/")):
        raise bad


def _abandon_client(exc: BaseException) -> None:
    """A Client whose start failed still closes itself when collected, waiting twice its
    timeout and printing a traceback; mark it closed so that the command ends at once."""
    import traceback

    from distributed import Client

    for frame, _ in traceback.walk_tb(exc.__traceback__):
        obj = frame.f_locals.get("self")
        if isinstance(obj, Client):
            obj.status = "closed"
            with contextlib.suppress(Exception):
                obj._loop_runner.stop()


@contextlib.contextmanager
def connect(spec: ClusterSpec, study: Study, need_key: bool = True) -> Iterator[Any]:
    """A client of the scheduler, once every worker has shown it sees the study (and its
    key, for collection: profiling needs none)."""
    from distributed import Client

    try:
        client = Client(spec.address, timeout=spec.timeout, set_as_default=False)
    except Exception as exc:  # noqa: BLE001 - a non-Dask peer fails in many ways
        _abandon_client(exc)
        raise ConfigError("cannot reach a Dask scheduler at {address} within {timeout:g} s "
                          "({kind}); start it with 'dask scheduler', or check the address",
                          address=spec.address, timeout=spec.timeout,
                          kind=type(exc).__name__) from None
    try:
        seen = client.run(cluster_tasks.check_task, str(study.root), need_key)
        if not seen:
            raise ConfigError("the Dask scheduler at {address} has no worker",
                              address=spec.address)
        bad = sorted({v["error"] for v in seen.values() if not v["ok"]})
        if bad:
            raise ConfigError("a Dask worker cannot open the study at its path (the study must "
                              "be on a filesystem every worker mounts at the same path): "
                              "{reasons}", reasons="; ".join(bad))
        yield client
    finally:
        client.close()


def worker_threads(client: Any) -> int:
    return max(1, sum(w.get("nthreads", 1)
                      for w in client.scheduler_info()["workers"].values()))


def collect_files_cluster(study: Study, sources: Sequence[Path | str], client: Any, *,
                          owner: str | None = None, fmt: str | None = None,
                          on_progress: Callable[[int, int], None] | None = None,
                          batch_rows: int | None = None) -> RunSummary:
    """:func:`mailstudy.collect.run.collect_files` with the cluster's workers for processes.
    A PST is never cut here (its conversion stays private to the machine that makes it)."""
    import time

    jobs = file_jobs(study, sources, owner, fmt, batch_rows)
    summary = start_summary(study, "collect-files")
    t0 = time.monotonic()
    run = uuid.uuid4().hex[:12]
    groups = owner_groups(jobs)
    cut = {i for i in choose_split(groups, worker_threads(client))
           if not str(jobs[i].source).lower().endswith(".pst")}
    with contextlib.ExitStack() as stack:
        stack.enter_context(run_lock(study.messages_dir, run))
        session = Session(study.root) if cut else None
        planned = (plan_split(session, [jobs[i] for i in sorted(cut)],
                              worker_threads(client), run, stack) if session else {})
        summary.mailboxes.extend(p.res for p in planned.values() if not p.units)
        futures: dict[Any, UnitJob | None] = {}
        for g in groups:
            if g[0].index in cut:
                continue
            # one owner's jobs one after the other, in command-line order (see owner_groups)
            prev = None
            for j in g:
                f = client.submit(_after, prev, j, run, key=f"collect-{run}-{j.index}",
                                  pure=False)
                futures[f] = None
                prev = f
        for p in planned.values():
            for u in p.units:
                futures[client.submit(cluster_tasks.unit_task, u, pure=False,
                                      key=f"unit-{run}-{u.job.index}-{u.no}")] = u
        _gather(client, futures, planned, session, summary, on_progress)
    summary.mailboxes.sort(key=lambda m: m.index)
    summary.seconds = time.monotonic() - t0
    summary.save(study.runs_dir)
    return summary


def _after(previous: MailboxResult | None, job: Any, run: str) -> MailboxResult:
    """A mailbox's task, run once the owner's previous export is in (``previous`` is only
    a dependency)."""
    return cluster_tasks.collect_task(job, run)


def _result(future: Any, unit: UnitJob | None) -> Any:
    """The task's result; a task the cluster gave up on (its workers kept dying) becomes
    that mailbox's failure, never a traceback."""
    try:
        return future.result()
    except Exception as exc:  # noqa: BLE001 - KilledWorker, CancelledError, lost scheduler
        why = f"the cluster could not run this mailbox's task ({type(exc).__name__})"
        index = int(str(future.key).split("-")[2])
        if unit is None:
            return MailboxResult(index=index, error=why)
        return UnitResult(unit.no, MailboxResult(index=index, mailbox=unit.mailbox), error=why)


def _gather(client: Any, futures: dict[Any, UnitJob | None], planned: dict[int, Any],
            session: Session | None, summary: RunSummary,
            on_progress: Callable[[int, int], None] | None) -> None:
    from distributed import as_completed

    done_msgs = 0
    for f in as_completed(list(futures), loop=client.loop):
        unit = futures[f]
        out = _result(f, unit)
        if unit is None:
            summary.mailboxes.append(out)
            done_msgs += out.messages_seen
        else:
            done_msgs += out.counts.messages_seen
            if (res := absorb(planned[unit.job.index], out, session)) is not None:
                summary.mailboxes.append(res)
        if on_progress:
            on_progress(done_msgs, len(summary.mailboxes))


def collect_files_on(study: Study, sources: Sequence[Path | str], *,
                     cluster: str | None = None, workers: int | None = None,
                     **kwargs: Any) -> RunSummary:
    """``collect files`` on the cluster named by ``cluster`` or ``[cluster]``, else here."""
    spec = cluster_spec(study, cluster)
    if spec is None:
        from mailstudy.collect.run import collect_files

        return collect_files(study, sources, workers=workers, **kwargs)
    with connect(spec, study) as client:
        return collect_files_cluster(study, sources, client, **kwargs)


def profile_on(study: Study, *, cluster: str | None = None, **kwargs: Any) -> Any:
    """``profile`` with its per-batch work on the cluster, else here (a ProfileResult)."""
    from mailstudy.profile.run import run_profile

    spec = cluster_spec(study, cluster)
    if spec is None:
        return run_profile(study, **kwargs)
    from mailstudy.pipeline.cluster_profile import cluster_batch_runner

    with connect(spec, study, need_key=False) as client:
        return run_profile(study, batch_runner=cluster_batch_runner(client), **kwargs)
