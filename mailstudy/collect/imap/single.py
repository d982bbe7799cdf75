"""One whole mailbox in one call, for a process the collector did not start (a Dask worker):
the mailbox planned and fetched by the ordinary scheduler run inline (threads of this
process, no pool), under the mailbox's lock.

Why this is exactly-once when the call is run again (a worker lost mid-mailbox, its task
re-run elsewhere): the message store is the checkpoint, and the re-run plans from what is
committed, fetching only the UIDs the store lacks. The lock (``.lock-<pseudonym>`` in the
store, a ``flock`` the kernel drops when its holder dies) keeps a second run of the same
mailbox from planning while the first still commits, so a worker cut off from the scheduler
but still alive cannot interleave its batches with the re-run's.

No orphan check here: a local pool worker exits when its collector is gone
(:func:`mailstudy.collect.imap.liveness.die_with_parent`); a Dask worker has no such parent,
and the inline worker built here is not a pool worker, so ``exit_if_orphaned`` never ends it.
"""

from __future__ import annotations

import dataclasses
from collections import Counter

from mailstudy.collect.imap.errors import kind_of
from mailstudy.collect.imap.scheduler import Scheduler
from mailstudy.collect.imap.units import PlanJob, WorkerConfig
from mailstudy.collect.mailbox import MailboxResult, mailbox_lock

INFLIGHT_ONE = 2  # units of one mailbox at once (its small folders beside a chunk)


def collect_one(cfg: WorkerConfig, job: PlanJob, admitted: MailboxResult,
                inflight: int = INFLIGHT_ONE) -> MailboxResult:
    """Collect the admitted mailbox of ``job`` (its result from admission, which names its
    pseudonym) and return its result: counts and pseudonyms only. Never raises: a failure
    is the mailbox's error, named by kind (a task's exception would reach the logs)."""
    from mailstudy.study import open_study

    # the scheduler indexes results by unit index: this call's only mailbox is 0
    res = dataclasses.replace(admitted, index=0, skipped=Counter(admitted.skipped),
                              defects=Counter(admitted.defects))
    try:
        assert res.mailbox is not None
        store_root = open_study(cfg.study_root).messages_dir
        with mailbox_lock(store_root, res.mailbox):
            Scheduler(cfg, [PlanJob(0, job.account)], [res], 1, None, max(1, inflight)).run()
    except Exception as exc:  # noqa: BLE001 - reported by kind only (no data in it)
        res.error = res.error or f"unexpected {kind_of(exc)}"
    res.index = job.index
    return res
