"""What a Dask worker runs: thin wrappers over the stages' own per-mailbox, per-unit and
per-batch functions, with the worker's session kept from task to task of one run.

The pseudonymisation key never travels: a worker opens the study on the shared filesystem and
reads ``secrets/key`` there (as every local worker process does), so no task argument, result
or log line holds it. Task arguments hold pseudonyms, counts and the paths the operator gave;
their reprs are hidden (a source's path may carry its owner's name).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from mailstudy.collect.mailbox import (
    MailboxJob,
    MailboxResult,
    Session,
    collect_mailbox,
    describe_failure,
)
from mailstudy.collect.units import UnitJob, UnitResult, run_unit

_SESSIONS: dict[tuple[str, str, int], Session] = {}
_LOCK = threading.Lock()


def session_for(study_root: Path, run: str) -> Session:
    """One session per worker thread and run: a new run re-reads the study (a new objection,
    new escrow segments), a thread never shares identities with another."""
    key = (str(study_root), run, threading.get_ident())
    with _LOCK:
        session = _SESSIONS.get(key)
        if session is None:
            for old in [k for k in _SESSIONS if k[1] != run]:
                del _SESSIONS[old]
            session = _SESSIONS[key] = Session(Path(study_root))
    return session


def collect_task(job: MailboxJob, run: str) -> MailboxResult:
    """A whole mailbox; idempotent (a re-run after a lost worker adds only what is missing)."""
    try:
        session = session_for(job.study_root, run)
    except Exception as exc:  # noqa: BLE001 - a result, never a traceback in the logs
        return MailboxResult(index=job.index, error=describe_failure(exc))
    return collect_mailbox(job, None, session)


def unit_task(unit: UnitJob) -> UnitResult:
    """One unit of a cut mailbox; a re-run stages the same file under the same name."""
    try:
        session = session_for(unit.job.study_root, unit.run)
    except Exception as exc:  # noqa: BLE001
        return UnitResult(unit.no, MailboxResult(index=unit.job.index, mailbox=unit.mailbox),
                          error=describe_failure(exc))
    return run_unit(unit, session)


def check_task(study_root: str, need_key: bool) -> dict[str, Any]:
    """What a worker sees of the study: run before any mailbox, so a worker without the shared
    filesystem, the key or the package fails the run at once and in words."""
    from mailstudy.errors import MailstudyError
    from mailstudy.study import open_study

    try:
        s = open_study(study_root)
        if need_key:
            s.key()
    except Exception as exc:  # noqa: BLE001 - reported to the client
        why = str(exc) if isinstance(exc, MailstudyError) else type(exc).__name__
        return {"ok": False, "error": why}
    return {"ok": True}


def imap_task(cfg: Any, job: Any, admitted: MailboxResult) -> MailboxResult:
    """A whole IMAP mailbox (``cfg`` a WorkerConfig, ``job`` its PlanJob); idempotent, as a
    re-run plans from what the store holds (:mod:`mailstudy.collect.imap.single`). The
    secrets ride in ``cfg`` as they do to a local pool worker; every repr of it is hidden."""
    from mailstudy.collect.imap.single import collect_one

    return collect_one(cfg, job, admitted)


def imap_reach_task(server: Any) -> dict[str, Any]:
    """Whether this worker reaches the IMAP server (TCP and TLS, no login): checked before any
    mailbox, so a worker without the route fails the run at once instead of each mailbox
    after its retries. The message names no host (the operator gave it)."""
    from mailstudy.collect.imap.errors import ImapError
    from mailstudy.collect.imap.run import preflight

    try:
        preflight(server)
    except ImapError as exc:
        return {"ok": False, "error": str(exc)}
    except Exception as exc:  # noqa: BLE001 - reported to the client
        return {"ok": False, "error": type(exc).__name__}
    return {"ok": True}
