"""The entry of IMAP collection: :func:`collect_imap` checks the settings and the mailboxes,
seals the owners' identities (:func:`prepare_imap`, shared with the cluster run of
:mod:`mailstudy.pipeline.cluster_imap`), checks the server once, and runs the scheduler."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Container, Sequence

from mailstudy.collect.addresses import Identities
from mailstudy.collect.imap.auth import Account, Auth
from mailstudy.collect.imap.connection import Server, close_quietly
from mailstudy.collect.imap.errors import TransientError
from mailstudy.collect.imap.process import INFLIGHT
from mailstudy.collect.imap.scheduler import Scheduler
from mailstudy.collect.imap.units import (
    BATCH_SIZE,
    CHUNK_SIZE,
    MAX_RETRIES,
    SOURCE,
    PlanJob,
    WorkerConfig,
)
from mailstudy.collect.mailbox import MailboxResult
from mailstudy.collect.run import RunSummary
from mailstudy.schema import MARK_OPTOUT
from mailstudy.store import MessageStore
from mailstudy.study import Study


def preflight(server: Server) -> None:
    """Connect once (no login) so a wrong host, port or certificate fails the run at once."""
    attempts = 3
    for i in range(attempts):
        try:
            close_quietly(server.connect())
            return
        except TransientError:
            if i == attempts - 1:
                raise
            time.sleep(0.5 * 2 ** i)


def collect_imap(study: Study, server: Server, accounts: Sequence[Account], auth: Auth, *,
                 include: Sequence[str] = (), exclude: Sequence[str] = (), workers: int = 4,
                 batch_size: int = BATCH_SIZE, chunk_size: int = CHUNK_SIZE,
                 max_retries: int = MAX_RETRIES, backoff: float = 0.5,
                 inflight: int = INFLIGHT,
                 on_progress: Callable[[int, int, int, int], None] | None = None,
                 warn: Callable[[str], None] | None = None) -> RunSummary:
    """Collect the mailboxes of ``accounts`` from ``server`` into the study's message store.

    ``on_progress(messages_done, messages_planned, mailboxes_done, mailboxes)`` reports
    advance. Each of the ``workers`` processes keeps up to ``inflight`` mailboxes in flight
    (one connection each), so a slow link does not leave the CPUs idle. Per-mailbox failures
    (refused login, lost connection after retries) are recorded in the summary by mailbox
    pseudonym and do not stop the other mailboxes. The summary is saved to ``data/runs/`` and
    returned; it holds counts and pseudonyms only.
    """
    summary, results, jobs = prepare_imap(study, server, accounts, warn)
    t0 = time.monotonic()
    if jobs:
        preflight(server)
    cfg = WorkerConfig(study.root, server, auth, batch_size, chunk_size, max_retries,
                       tuple(include), tuple(exclude), backoff, max(1, workers))
    Scheduler(cfg, jobs, results, max(1, workers), on_progress, max(1, inflight)).run()
    summary.mailboxes = results
    summary.seconds = time.monotonic() - t0
    summary.save(study.runs_dir)
    return summary


def prepare_imap(study: Study, server: Server, accounts: Sequence[Account],
                 warn: Callable[[str], None] | None = None
                 ) -> tuple[RunSummary, list[MailboxResult], list[PlanJob]]:
    """What a run does before any mailbox is read, here or on a cluster: the server's
    settings and the study's key and key holder checked, leftovers of killed writers removed,
    the mailboxes admitted (organisation's domains, objections: an objector's mailbox is
    never handed to a worker) and their owners' identities sealed, even for mailboxes that
    turn out empty. Returns the summary, a result per account and the plan units."""
    from mailstudy.optout import load_optouts

    for w in server.check():
        if warn is not None:
            warn(w)
    study.key()
    study.escrow()  # fails early without a key holder
    ids = Identities.of_study(study)
    optouts = load_optouts(study)
    summary = RunSummary(kind="collect-imap",
                         started=dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    summary.tmp_cleaned = MessageStore(study.messages_dir).clean_tmp()
    results, jobs = _admit(accounts, ids, optouts)
    escrow = study.escrow()
    sealer = Identities.of_study(study, optouts, escrow)
    for j in jobs:
        sealer.token(j.account.address)
    escrow.flush()
    return summary, results, jobs


def _admit(accounts: Sequence[Account], ids: Identities, optouts: Container[str]
           ) -> tuple[list[MailboxResult], list[PlanJob]]:
    """A result per account, and a plan unit for each mailbox of the organisation whose
    owner has not opted out."""
    results: list[MailboxResult] = []
    jobs: list[PlanJob] = []
    for i, acc in enumerate(accounts):
        r = MailboxResult(index=i, format=SOURCE, owner_from="account")
        results.append(r)
        if ids.classify(acc.address) != "internal":
            r.error = "the mailbox address is not in the organisation's domains"
            continue
        r.mailbox = ids.person(acc.address)
        if r.mailbox in optouts:
            r.mailbox = MARK_OPTOUT  # summaries never name an objector
            r.owner_from += "+optout"
            r.skipped["owner_opted_out"] += 1
            continue
        jobs.append(PlanJob(i, acc))
    return results, jobs
