"""Running a collection over many mailboxes: processes, progress, and the saved summary."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import multiprocessing as mp
import shutil
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mailstudy.collect.formats.detect import owner_from_name
from mailstudy.collect.mailbox import MailboxJob, MailboxResult, Session, collect_mailbox
from mailstudy.collect.split import absorb, choose_split, plan_split
from mailstudy.collect.units import UnitJob, UnitResult, clean_staged, run_lock, run_unit
from mailstudy.errors import CollectError, InputError
from mailstudy.store import MessageStore
from mailstudy.study import Study, StudyError


@dataclass
class RunSummary:
    """What a collection did, in counts and pseudonyms only; saved under ``data/runs/``."""

    kind: str
    started: str
    seconds: float = 0.0
    mailboxes: list[MailboxResult] = field(default_factory=list)
    tmp_cleaned: int = 0
    path: Path | None = None

    @property
    def messages_written(self) -> int:
        return sum(m.messages_written for m in self.mailboxes)

    @property
    def failures(self) -> list[MailboxResult]:
        return [m for m in self.mailboxes if m.error]

    def totals(self) -> dict[str, Any]:
        skipped: Counter[str] = Counter()
        defects: Counter[str] = Counter()
        for m in self.mailboxes:
            skipped.update(m.skipped)
            defects.update(m.defects)
        seen = sum(m.messages_seen for m in self.mailboxes)
        return {
            "mailboxes": len(self.mailboxes),
            "mailboxes_failed": len(self.failures),
            "folders": sum(m.folders for m in self.mailboxes),
            "messages_seen": seen,
            "messages_written": self.messages_written,
            "already_present": sum(m.already_present for m in self.mailboxes),
            "skipped": {k: v for k, v in sorted(skipped.items()) if v},
            "defects": {k: v for k, v in sorted(defects.items()) if v},
            "seconds": round(self.seconds, 3),
            "messages_per_second": round(seen / self.seconds, 1) if self.seconds else None,
        }

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "started": self.started, "totals": self.totals(),
                "tmp_cleaned": self.tmp_cleaned,
                "mailboxes": [m.to_json() for m in self.mailboxes]}

    def save(self, runs_dir: Path) -> Path:
        runs_dir.mkdir(parents=True, exist_ok=True)
        stamp = self.started.replace(":", "").replace("-", "")
        path = runs_dir / f"{stamp}-{self.kind}.json"
        n = 1
        while path.exists():
            n += 1
            path = runs_dir / f"{stamp}-{self.kind}-{n}.json"
        path.write_text(json.dumps(self.to_json(), indent=2, ensure_ascii=False))
        self.path = path
        return path


_WORKER: dict[str, Any] = {}


def _init_worker(queue: Any, study_root: Path) -> None:
    _WORKER["queue"] = queue
    _WORKER["session"] = Session(study_root)


def _run_jobs(jobs: list[MailboxJob]) -> list[MailboxResult]:
    return [collect_mailbox(j, _WORKER["queue"].put, _WORKER["session"]) for j in jobs]


def _run_unit(unit: UnitJob) -> UnitResult:
    return run_unit(unit, _WORKER["session"], _WORKER["queue"].put)


def owner_groups(jobs: list[MailboxJob]) -> list[list[MailboxJob]]:
    """Jobs of one owner (known from --owner or the source's name) run one after the other,
    in command-line order: when two exports of a mailbox overlap, the first one given writes
    the shared messages, whatever the timing, so a re-run after a kill ends the same."""
    groups: dict[str, list[MailboxJob]] = {}
    for j in jobs:
        key = (j.owner or owner_from_name(j.source) or f"#{j.index}").strip().lower()
        groups.setdefault(key, []).append(j)
    return list(groups.values())


def start_summary(study: Study, kind: str) -> RunSummary:
    """Checks made before any mailbox is read, and the leftovers of killed runs removed."""
    study.key()  # fail early on a missing or loose key
    if study.keyholder_recipient() is None:  # and on a missing key holder
        raise StudyError("no key holder public key in the study (secrets/keyholder.pub): "
                         "collection seals identities for the key holder; run "
                         "'mailstudy keyholder-keygen' and put its public key there")
    summary = RunSummary(kind=kind,
                         started=dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    summary.tmp_cleaned = MessageStore(study.messages_dir).clean_tmp()
    summary.tmp_cleaned += clean_staged(study.messages_dir)
    shutil.rmtree(study.data / "tmp", ignore_errors=True)  # a killed PST conversion
    return summary


def file_jobs(study: Study, sources: Sequence[Path | str], owner: str | None,
              fmt: str | None, batch_rows: int | None) -> list[MailboxJob]:
    """One job per source, in the order given; the sources' types checked first."""
    if isinstance(sources, str | Path) or not isinstance(sources, Sequence):
        # a str is a Sequence too: read one character at a time, 'a/b' would be 3 sources
        raise InputError("sources must be a list of paths (one mailbox each), not "
                         "{kind}: write [source]", kind=type(sources).__name__)
    bad = [type(s).__name__ for s in sources if not isinstance(s, str | Path)]
    if bad:
        raise InputError("sources must hold paths, not {bad}", bad=", ".join(sorted(set(bad))))
    if owner is not None and len(sources) != 1:
        raise InputError("owner applies to a single source")
    return [MailboxJob(index=i, source=Path(s), owner=owner, fmt=fmt, study_root=study.root,
                       **({"batch_rows": batch_rows} if batch_rows else {}))
            for i, s in enumerate(sources)]


def collect_files(study: Study, sources: Sequence[Path | str], *, owner: str | None = None,
                  fmt: str | None = None, workers: int | None = None,
                  on_progress: Callable[[int, int], None] | None = None,
                  batch_rows: int | None = None, raise_on_error: bool = False) -> RunSummary:
    """Collect each SOURCE (one mailbox each) into the study's message store.

    A mailbox that holds a large share of the run is cut into units that every worker parses
    (:mod:`mailstudy.collect.split`). ``on_progress(messages_done, mailboxes_done)`` is called
    as work advances. The summary is saved to ``data/runs/`` and returned; it never contains
    an address or a path. A failing source is reported in the summary (the others go on);
    with ``raise_on_error`` a :class:`CollectError` naming the failed mailboxes is raised
    once the summary is saved.
    """
    jobs = file_jobs(study, sources, owner, fmt, batch_rows)
    summary = start_summary(study, "collect-files")
    t0 = time.monotonic()
    n_workers = max(1, workers or mp.cpu_count() or 1)
    groups = owner_groups(jobs)
    cut = choose_split(groups, n_workers)
    if cut:
        _run_pool(study, summary, groups, cut, n_workers, on_progress)
    elif min(n_workers, len(jobs)) == 1:
        _run_inline(study, summary, jobs, on_progress)
    else:
        _run_pool(study, summary, groups, set(), n_workers, on_progress)
    summary.mailboxes.sort(key=lambda m: m.index)
    summary.seconds = time.monotonic() - t0
    summary.save(study.runs_dir)
    if raise_on_error and summary.failures:
        details = "; ".join(f"source {m.index + 1}: {m.error}" for m in summary.failures)
        raise CollectError("{failed} of {total} source(s) failed: {details}",
                           failed=len(summary.failures), total=len(summary.mailboxes),
                           details=details)
    return summary


def _run_inline(study: Study, summary: RunSummary, jobs: list[MailboxJob],
                on_progress: Callable[[int, int], None] | None) -> None:
    done_msgs = 0

    def tick(n: int) -> None:
        nonlocal done_msgs
        done_msgs += n
        if on_progress:
            on_progress(done_msgs, len(summary.mailboxes))

    session = Session(study.root)
    for job in jobs:
        summary.mailboxes.append(collect_mailbox(job, tick, session))
        if on_progress:
            on_progress(done_msgs, len(summary.mailboxes))


def _run_pool(study: Study, summary: RunSummary, groups: list[list[MailboxJob]], cut: set[int],
              n_workers: int, on_progress: Callable[[int, int], None] | None) -> None:
    """Whole mailboxes (by owner group) and the units of the cut ones, on a process pool.
    Cut mailboxes are planned here first, so the forked workers inherit their listings."""
    with contextlib.ExitStack() as stack:
        session = Session(study.root) if cut else None
        run = uuid.uuid4().hex[:12]
        stack.enter_context(run_lock(study.messages_dir, run))
        planned = plan_split(session, [g[0] for g in groups if g[0].index in cut], n_workers,
                             run, stack) if session else {}
        whole = [g for g in groups if g[0].index not in cut]
        units = [u for p in planned.values() for u in p.units]
        summary.mailboxes.extend(p.res for p in planned.values() if not p.units)
        n_workers = max(1, min(n_workers, len(whole) + len(units)))
        # fork: workers start at once, without re-importing pandas and pyarrow
        ctx = mp.get_context("fork")
        queue = ctx.SimpleQueue()
        done_msgs = 0
        with ProcessPoolExecutor(n_workers, mp_context=ctx, initializer=_init_worker,
                                 initargs=(queue, study.root)) as pool:
            pending: dict[Any, UnitJob | None] = {pool.submit(_run_jobs, g): None for g in whole}
            pending.update({pool.submit(_run_unit, u): u for u in units})
            while pending:
                finished, _ = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                for f in finished:
                    unit = pending.pop(f)
                    if unit is None:
                        summary.mailboxes.extend(f.result())
                    elif (res := absorb(planned[unit.job.index], f.result(), session)):
                        summary.mailboxes.append(res)
                while not queue.empty():
                    done_msgs += queue.get()
                if on_progress:
                    on_progress(done_msgs, len(summary.mailboxes))
