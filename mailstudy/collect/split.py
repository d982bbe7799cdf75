"""Which mailboxes of a run are cut into units, and the bookkeeping of their units.

A mailbox is worth cutting when it alone holds more than a worker's fair share of the run (more
than 1/(2 x workers) of the estimated messages, and at least :data:`units.SPLIT_MIN`): with one
big mailbox every core works on it; with thousands of similar mailboxes, one task per mailbox
already keeps every core busy and cutting would only add staging. The estimate costs a directory
walk (Maildir, eml trees) or one stat (mbox, PST), never a read.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mailstudy.collect.mailbox import MailboxJob, MailboxResult, Session, describe_failure
from mailstudy.collect.units import SPLIT_MIN, UnitJob, UnitResult, finish_units, plan_units

#: Bytes per message assumed when only a file's size is known (mbox, PST).
BYTES_PER_MESSAGE = 20_000


def estimate_items(source: Path, cap: int | None = None) -> int:
    """About how many messages a source holds, from its file count or size (the count stops
    at ``cap``, when given)."""
    try:
        if source.is_file():
            return source.stat().st_size // BYTES_PER_MESSAGE
        n = 0
        for _, _, files in os.walk(source):
            n += len(files)
            if cap is not None and n >= cap:
                break
        return n
    except OSError:
        return 0


def choose_split(groups: Sequence[Sequence[MailboxJob]], workers: int) -> set[int]:
    """Indices of the jobs to cut into units. Only a job alone of its owner is cut: two
    exports of one mailbox stay in command-line order (the first one writes what they share)."""
    if workers <= 1:
        return set()
    # a mailbox alone in its run only has to reach SPLIT_MIN: its count stops there
    cap = SPLIT_MIN if len(groups) == 1 else None
    est = {j.index: estimate_items(Path(j.source), cap) for g in groups if len(g) == 1
           for j in g}
    total = sum(est.values()) + sum(1 for g in groups if len(g) > 1)
    return {i for i, n in est.items() if n >= SPLIT_MIN and n * 2 * workers > total}


@dataclass
class Planned:
    """One cut mailbox: its summary, its units and the results in so far."""

    res: MailboxResult
    units: list[UnitJob]
    results: list[UnitResult] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    @property
    def done(self) -> bool:
        return len(self.results) == len(self.units)


def plan_split(session: Session, jobs: Sequence[MailboxJob], workers: int, run: str,
               stack: contextlib.ExitStack) -> dict[int, Planned]:
    """Plan the cut jobs (a PST stays converted while ``stack`` lives). A job that fails to
    open, is opted out or is empty has no unit and is finished at once."""
    out: dict[int, Planned] = {}
    for job in jobs:
        res = MailboxResult(index=job.index)
        units: list[UnitJob] = []
        try:
            units = plan_units(session, job, res, stack, workers, run)
        except Exception as exc:  # noqa: BLE001 - one mailbox must not stop the run
            res.error = describe_failure(exc)
        out[job.index] = Planned(res, units)
    return out


def absorb(planned: Planned, result: UnitResult, session: Session) -> MailboxResult | None:
    """Add a unit's result; the mailbox's summary once its last unit is in and published."""
    planned.results.append(result)
    if not planned.done:
        return None
    finish_units(session, planned.units, planned.results, planned.res)
    planned.res.seconds = time.monotonic() - planned.started
    return planned.res
