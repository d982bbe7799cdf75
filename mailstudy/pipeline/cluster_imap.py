"""IMAP collection on a Dask distributed cluster (``collect imap --cluster ADDRESS`` or the
``[cluster]`` table of study.toml); without either, :func:`collect_imap` runs here.

The client does what a local run does before any mailbox is read
(:func:`mailstudy.collect.imap.run.prepare_imap`): settings checked, mailboxes admitted
(an objector's mailbox is never handed to a worker; it is only the opt-out mark in the
summary), owners' identities sealed, the server reached once from here and once from every
worker. Then one task per admitted mailbox, keyed ``imap-<run id>-<account index>`` (no
address, login, folder or path in a key), runs the whole mailbox in the worker with the
ordinary scheduler (:mod:`mailstudy.collect.imap.single`) and returns its
:class:`MailboxResult` (counts and pseudonyms); the client gathers them into the run summary,
saved under ``data/runs/`` as a local run's.

Secrets: the pseudonymisation key never travels; every worker opens the study on the shared
filesystem and reads ``secrets/pseudonym.key`` there (``connect`` checks first that each
worker can). The IMAP secrets (passwords, a bearer token, or the OAuth2 token command, which
each worker then runs itself) ride in the task's :class:`WorkerConfig`, pickled to the worker
exactly as to a local pool process; its repr, an Account's and the Auth's are hidden, tasks
never raise (a failure is the mailbox's error, by kind), so no secret or identity reaches a
task key or a log line, and nothing of them is written outside ``secrets/``.

Exactly once after a lost worker: the scheduler re-runs its task elsewhere, and the re-run
plans from what the store already holds, under the mailbox's lock.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from mailstudy.collect.imap.auth import Account, Auth
from mailstudy.collect.imap.connection import Server
from mailstudy.collect.imap.run import collect_imap, preflight, prepare_imap
from mailstudy.collect.imap.units import BATCH_SIZE, CHUNK_SIZE, MAX_RETRIES, WorkerConfig
from mailstudy.collect.mailbox import MailboxResult
from mailstudy.collect.run import RunSummary
from mailstudy.errors import ConfigError
from mailstudy.pipeline import cluster_tasks
from mailstudy.pipeline.cluster import cluster_spec, connect
from mailstudy.study import Study

Progress = Callable[[int, int, int, int], None]


def collect_imap_on(study: Study, server: Server, accounts: Sequence[Account], auth: Auth, *,
                    cluster: str | None = None, workers: int = 4, **kwargs: Any) -> RunSummary:
    """``collect imap`` on the cluster named by ``cluster`` or ``[cluster]``, else here with
    ``workers`` processes (:func:`collect_imap`; ``kwargs`` are its options)."""
    spec = cluster_spec(study, cluster)
    if spec is None:
        return collect_imap(study, server, accounts, auth, workers=workers, **kwargs)
    kwargs.pop("inflight", None)  # a local pool's setting; a cluster runs a mailbox per task
    with connect(spec, study) as client:
        return collect_imap_cluster(study, server, accounts, auth, client, **kwargs)


def collect_imap_cluster(study: Study, server: Server, accounts: Sequence[Account],
                         auth: Auth, client: Any, *, include: Sequence[str] = (),
                         exclude: Sequence[str] = (), batch_size: int = BATCH_SIZE,
                         chunk_size: int = CHUNK_SIZE, max_retries: int = MAX_RETRIES,
                         backoff: float = 0.5, on_progress: Progress | None = None,
                         warn: Callable[[str], None] | None = None) -> RunSummary:
    """:func:`collect_imap` with the cluster's workers for processes, one task per mailbox."""
    summary, results, jobs = prepare_imap(study, server, accounts, warn)
    t0 = time.monotonic()
    if jobs:
        preflight(server)
        _check_reach(client, server)
    # workers=1: a task holds one mailbox, its chunks are not cut for a pool's shares
    cfg = WorkerConfig(study.root, server, auth, batch_size, chunk_size, max_retries,
                       tuple(include), tuple(exclude), backoff, 1)
    run = uuid.uuid4().hex[:12]
    futures = {client.submit(cluster_tasks.imap_task, cfg, j, results[j.index], pure=False,
                             key=f"imap-{run}-{j.index}"): j.index for j in jobs}
    _gather(client, futures, results, on_progress)
    summary.mailboxes = results
    summary.seconds = time.monotonic() - t0
    summary.save(study.runs_dir)
    return summary


def _check_reach(client: Any, server: Server) -> None:
    """Every worker reaches the IMAP server, or the run stops here in words."""
    seen = client.run(cluster_tasks.imap_reach_task, server)
    bad = sorted({v["error"] for v in seen.values() if not v["ok"]})
    if bad:
        raise ConfigError("a Dask worker cannot reach the IMAP server (each worker needs a "
                          "network route to it, and the CA file at the same path): {reasons}",
                          reasons="; ".join(bad))


def _gather(client: Any, futures: dict[Any, int], results: list[MailboxResult],
            on_progress: Progress | None) -> None:
    """Each mailbox's result in place of its admission result, as its task ends; a task the
    cluster gave up on (its workers kept dying) is that mailbox's failure, never a
    traceback (a re-run resumes it)."""
    from distributed import as_completed

    finished = len(results) - len(futures)
    written = seen = 0
    for f in as_completed(list(futures), loop=client.loop):
        i = futures[f]
        try:
            out = f.result()
        except Exception as exc:  # noqa: BLE001 - KilledWorker, CancelledError, lost scheduler
            out = results[i]
            out.error = (f"the cluster could not run this mailbox's task "
                         f"({type(exc).__name__}); re-run to resume")
        results[i] = out
        finished += 1
        written += out.messages_written
        seen += out.messages_seen
        if on_progress is not None:
            on_progress(written, seen, finished, len(results))
