"""The scheduler of a run: hands plan and chunk units to the workers (in threads of this
process with one worker, else to a pool of processes), folds their results into the
per-mailbox summaries, and plans a mailbox again when a folder's UIDVALIDITY changed."""

from __future__ import annotations

import multiprocessing as mp
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import (
    FIRST_COMPLETED,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from mailstudy.collect.imap.process import init_worker, run_units
from mailstudy.collect.imap.units import (
    ChunkJob,
    ChunkResult,
    GapsJob,
    PlanJob,
    PlanResult,
    Unit,
    WorkerConfig,
)
from mailstudy.collect.imap.worker import Worker
from mailstudy.collect.mailbox import MailboxResult


class Scheduler:
    """Hands plan and chunk units to the workers, chunks first (they finish mailboxes), and
    folds their results into the per-mailbox summaries."""

    def __init__(self, cfg: WorkerConfig, jobs: list[PlanJob], results: list[MailboxResult],
                 workers: int, on_progress: Callable[[int, int, int, int], None] | None,
                 inflight: int = 1) -> None:
        self.cfg = cfg
        self.inflight = inflight
        self.plans = list(jobs)
        self.chunks: list[ChunkJob | GapsJob] = []
        self.results = results
        self.workers = workers
        self.on_progress = on_progress
        self.outstanding: Counter[int] = Counter()  # mailbox index -> units not finished
        self.replanned: set[int] = set()
        # A folder whose UIDVALIDITY changed makes its mailbox planned again, once every unit
        # of it already running is done (a plan made while they still commit would fetch
        # their messages a second time). Units carry the generation of the plan that made
        # them; what an older generation reports about UIDVALIDITY is already handled.
        self.generation: Counter[int] = Counter()
        self._gen_of: dict[int, int] = {}  # id(unit) of queued and running units
        self.replan_wanted: set[int] = set()
        self.started: dict[int, float] = {}
        self.done_msgs = 0
        self.planned_msgs = 0
        self.finished = {r.index for r in results if r.index not in {j.index for j in jobs}}

    def _report(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self.done_msgs, self.planned_msgs, len(self.finished),
                             len(self.results))

    def _batch(self) -> list[Unit]:
        """A chunk alone (CPU-bound), or up to ``inflight`` mailboxes to plan (latency-bound),
        for one worker process."""
        if self.chunks:
            return [self.chunks.pop(0)]
        n = min(self.inflight, len(self.plans))
        out: list[Unit] = list(self.plans[:n])
        del self.plans[:n]
        return out

    def _next(self) -> Unit | None:
        if self.chunks:
            return self.chunks.pop(0)
        if self.plans:
            return self.plans.pop(0)
        return None

    def _track(self, units: Sequence[Unit]) -> Sequence[Unit]:
        """Count ``units`` as outstanding for their mailboxes, in the current generation."""
        for u in units:
            self._gen_of[id(u)] = self.generation[u.index]
            self.outstanding[u.index] += 1
        return units

    def _absorb(self, unit: Unit, out: PlanResult | ChunkResult) -> None:
        r = self.results[unit.index]
        self.outstanding[unit.index] -= 1
        gen = self._gen_of.pop(id(unit), 0)
        stale = gen != self.generation[unit.index]
        if isinstance(out, PlanResult):
            if out.error:
                r.error = out.error
            else:
                if gen == 0:  # a replan's counts are not the run's
                    r.folders = out.folders
                    r.messages_seen = out.messages_on_server
                    r.already_present = out.already_present
                    r.skipped.update(out.skipped)
                if out.replaced:
                    r.skipped["rows_replaced_uidvalidity"] += out.replaced
                self.chunks.extend(self._track(out.chunks))  # type: ignore[arg-type]
                self.planned_msgs += sum(c.n for c in out.chunks)
                if out.inline is not None:
                    self.planned_msgs += out.inline.written
                    self._absorb_chunk(unit, out.inline, gen, stale)
        else:
            self._absorb_chunk(unit, out, gen, stale)
        if unit.index in self.replan_wanted and self.outstanding[unit.index] <= 0:
            self.replan_wanted.discard(unit.index)
            self.plans.insert(0, PlanJob(unit.index, unit.account))
            self._track(self.plans[:1])
        if self.outstanding[unit.index] <= 0 and unit.index not in self.finished:
            self.finished.add(unit.index)
            r.seconds = time.monotonic() - self.started.get(unit.index, time.monotonic())

    def _absorb_chunk(self, unit: Unit, out: ChunkResult, gen: int, stale: bool) -> None:
        r = self.results[unit.index]
        if gen == 0:  # a replan's counts are not the run's
            r.already_present += out.already_present  # small folders' messages
        r.messages_written += out.written
        r.defects.update(out.defects)
        r.skipped.update(out.skipped)
        if out.vanished:
            r.skipped["vanished_before_fetch"] += out.vanished
        if out.reconnects:
            r.skipped["reconnections"] += out.reconnects
        if out.uidvalidity_changed:
            self.planned_msgs -= out.not_collected  # planned again by the replan
        if out.uidvalidity_changed and not stale:
            if unit.index not in self.replanned:
                self.replanned.add(unit.index)
                self.generation[unit.index] += 1
                r.error = None  # what the first plan's units left undone, the replan redoes
                # queued units of this mailbox were planned at the old UIDVALIDITY: the replan
                # plans their messages again
                dropped = [c for c in self.chunks if c.index == unit.index]
                self.chunks = [c for c in self.chunks if c.index != unit.index]
                for c in dropped:
                    self._gen_of.pop(id(c), None)
                    self.outstanding[unit.index] -= 1
                    self.planned_msgs -= c.n
                self.replan_wanted.add(unit.index)
            elif not r.error:
                r.error = "a folder's UIDVALIDITY keeps changing; re-run later"
        if out.error and not stale and unit.index not in self.replan_wanted:
            if not r.error:
                r.error = (f"{out.error}; {out.not_collected} messages not collected "
                           "(re-run to resume)")

    def _progress_tick(self, n: int) -> None:
        self.done_msgs += n
        self._report()

    def run(self) -> None:
        self._track(self.plans)
        if not self.plans:
            return
        if self.workers == 1:
            self._run_inline()
        else:
            self._run_pool()
        self._report()

    def _run_inline(self) -> None:
        """One process: up to ``inflight`` units at once in threads sharing one worker."""
        w = Worker(self.cfg, self._progress_tick)
        running: dict[Future[Any], Unit] = {}
        lock = threading.Lock()

        def tick(n: int) -> None:
            with lock:
                self._progress_tick(n)

        w.progress = tick
        pool = ThreadPoolExecutor(self.inflight)
        try:
            while True:
                while len(running) < self.inflight and (unit := self._next()) is not None:
                    self.started.setdefault(unit.index, time.monotonic())
                    running[pool.submit(w.run, unit)] = unit
                if not running:
                    break
                done, _ = wait(list(running), return_when=FIRST_COMPLETED)
                with lock:
                    for fut in done:
                        unit = running.pop(fut)
                        self._absorb(unit, fut.result())
                    self._report()
        except BaseException:  # Ctrl-C: stop the units in flight without waiting for them
            w.stopping.set()
            w.close_all(abort=True)
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            w.close_all()

    def _run_pool(self) -> None:
        # forkserver: one clean, single-threaded process imports the collector once, and
        # workers fork from it (spawn re-imported pandas and pyarrow in every worker, ~1 s of
        # CPU each; plain fork would copy a parent that may run threads).
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["mailstudy.collect.imap.process"])
        queue = ctx.Queue()
        running: dict[Future[Any], list[Unit]] = {}
        try:
            with ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=init_worker,
                                     initargs=(self.cfg, queue, os.getpid())) as pool:
                while True:
                    while len(running) < self.workers and (units := self._batch()):
                        for unit in units:
                            self.started.setdefault(unit.index, time.monotonic())
                        running[pool.submit(run_units, units)] = units
                    if not running:
                        break
                    done, _ = wait(list(running), timeout=0.2, return_when=FIRST_COMPLETED)
                    self._drain(queue)
                    for fut in done:
                        units = running.pop(fut)
                        for unit, out in zip(units, fut.result(), strict=True):
                            self._absorb(unit, out)
                    self._report()
        except BrokenProcessPool:
            for r in self.results:
                if r.index not in self.finished and not r.error:
                    r.error = "a worker process died; re-run to resume"
        finally:
            self._drain(queue)
            queue.close()

    def _drain(self, progress: Any) -> None:
        while True:
            try:
                n = progress.get_nowait()
            except Exception:  # noqa: BLE001 - queue.Empty, or closed
                return
            self.done_msgs += n
