"""What runs inside a worker process of the pool: its start (kill safety, Ctrl-C left to the
parent) and the batches of units it runs at once in threads."""

from __future__ import annotations

import os
import signal
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from mailstudy.collect.imap.liveness import die_with_parent, start_time, still_running
from mailstudy.collect.imap.units import ChunkResult, PlanResult, Unit, WorkerConfig
from mailstudy.collect.imap.worker import Worker

INFLIGHT = 8  # mailboxes each worker plans and fetches at once (latency hides behind others)

_WORKER: Worker | None = None


def init_worker(cfg: WorkerConfig, progress: Any, collector: int) -> None:
    """Why the collector's own pid: the fork server outlives a killed collector as long as
    workers hold its liveness pipe (multiprocessing hands them a copy), so a worker started
    or busy then would go on with calls already queued. Each commit checks the collector."""
    global _WORKER
    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
    _WORKER = Worker(cfg, progress.put if progress is not None else None, pool_worker=True)
    started = start_time(collector)
    if started is None:
        os._exit(1)  # the collector is already gone
    _WORKER.collector = (collector, started)


_THREADS: list[ThreadPoolExecutor] = []


def run_units(jobs: list[Unit]) -> list[PlanResult | ChunkResult]:
    """Run units at once in this worker's threads: a mailbox's round trips then overlap
    another's parsing, which matters on a slow link with many small mailboxes."""
    assert _WORKER is not None
    if not still_running(_WORKER.collector):
        os._exit(1)  # a call queued by a collector killed since: not run
    if len(jobs) == 1:
        return [_WORKER.run(jobs[0])]
    if not _THREADS:
        _THREADS.append(ThreadPoolExecutor(max(INFLIGHT, len(jobs))))
    elif _THREADS[0]._max_workers < len(jobs):  # noqa: SLF001
        _THREADS[0] = ThreadPoolExecutor(len(jobs))
    return list(_THREADS[0].map(_WORKER.run, jobs))
