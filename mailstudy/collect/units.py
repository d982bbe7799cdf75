"""One large mailbox cut into units of work that every core (or every cluster worker) parses.

Why staging: a message's key is its folder, its header digest and *which copy* of that header
block it is in the folder, counted in listing order (see :func:`mailbox.item_key`). A unit sees
only its slice of the listing, so it cannot know how many copies earlier units met. Each unit
therefore parses its slice, builds its rows with the copy numbers it can see, and stages them in
a hidden file of the mailbox's partition (readers ignore names starting with ``.``), returning
the header digests it met, in order. :func:`finish_units` then walks the units in order under the
mailbox's lock, renumbers the rare copies that straddle two units, drops the rows already in the
store, and publishes each staged file by an atomic rename (a rewrite only when a row changed).

The guarantees are those of a whole-mailbox run: every published file is atomic and named by its
item ids, a unit that runs twice (its worker died) stages the same file under the same name, and
a finish that dies half-way is redone against what is already published; keys are the same as a
whole-mailbox run's, so a split run, an unsplit run and a re-run after a kill end equal.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from mailstudy.collect.formats.base import SourceError, SourceListing
from mailstudy.collect.mailbox import (
    MailboxJob,
    MailboxResult,
    Session,
    build_row,
    describe_failure,
    digest_key,
    item_key,
    list_source,
    mailbox_lock,
    open_source,
    parsed_items,
)
from mailstudy.collect.rows import item_family
from mailstudy.store import atomic_write_table, rows_table

#: A mailbox of at least this many messages is cut into units (smaller ones are one task).
SPLIT_MIN = 4000
#: The fewest messages in a unit (below, staging and start-up costs show).
UNIT_MIN = 500
STAGE_PREFIX = ".unit-"

Digest = tuple[tuple[str, ...], str]


@dataclass(frozen=True)
class UnitJob:
    """Messages ``lo``..``hi`` of one mailbox's listing. Holds no identity: the mailbox is a
    pseudonym, the source a path the operator gave."""

    job: MailboxJob
    run: str  # names the staged files of this run
    no: int
    mailbox: str
    fmt: str
    root: Path  # the listed root (a PST's converted tree)
    lo: int
    hi: int
    fingerprint: str  # of the listing: a worker that lists something else refuses

    def __repr__(self) -> str:
        return f"UnitJob(#{self.job.index}.{self.no})"


@dataclass
class UnitResult:
    no: int
    counts: MailboxResult
    staged: str | None = None
    seq: list[Digest] = field(default_factory=list)  # digests of parsed messages, in order
    row_at: list[int] = field(default_factory=list)  # per staged row: its place in seq, or -1
    error: str | None = None


def unit_size(n: int, workers: int, batch_rows: int) -> int:
    """At least three units per worker (a slow unit then delays little), each within the
    batch size, their number a multiple of the workers (no last round with one busy core)."""
    w = max(1, workers)
    count = max(3 * w, -(-n // max(1, batch_rows)))
    count = -(-count // w) * w
    return max(UNIT_MIN, min(batch_rows, -(-n // count)))


def fingerprint(listing: SourceListing) -> str:
    h = hashlib.sha256()
    for it in listing.items:
        h.update(it.key.encode("utf-8", "surrogatepass") + b"\n")
    return h.hexdigest()[:32]


_LISTINGS: dict[tuple[str, str, str], SourceListing] = {}


def remember(fmt: str, root: Path, listing: SourceListing) -> str:
    """Keep a planned listing in this process (forked pool workers inherit it)."""
    fp = fingerprint(listing)
    _LISTINGS[(fmt, str(root), fp)] = listing
    return fp


def plan_units(session: Session, job: MailboxJob, res: MailboxResult,
               stack: contextlib.ExitStack, workers: int, run: str) -> list[UnitJob]:
    """Open the source (owner, objection, listing: as a whole-mailbox run does) and cut it into
    units; ``res`` gets the mailbox, the folder and skip counts. No unit when the mailbox must
    not be read, or holds nothing."""
    opened = open_source(session, job, res, stack)
    if opened is None:
        return []
    listing, mailbox, fmt, root = opened
    session.escrow.flush()  # the owner's identity is sealed before any row names it
    n = len(listing.items)
    if not n:
        res.skipped["empty_mailbox"] += 1
        return []
    fp = remember(fmt, root, listing)
    size = unit_size(n, workers, job.batch_rows)
    return [UnitJob(job, run, no, mailbox, fmt, root, lo, min(n, lo + size), fp)
            for no, lo in enumerate(range(0, n, size))]


def _listing(unit: UnitJob, session: Session) -> SourceListing:
    key = (unit.fmt, str(unit.root), unit.fingerprint)
    listing = _LISTINGS.get(key)
    if listing is None:
        listing = list_source(unit.fmt, unit.root, session.is_personal)
        if fingerprint(listing) != unit.fingerprint:
            raise SourceError("the source changed while it was collected; run again")
        while len(_LISTINGS) >= 4:
            _LISTINGS.pop(next(iter(_LISTINGS)))
        _LISTINGS[key] = listing
    return listing


def stage_path(session: Session, unit: UnitJob) -> Path:
    return session.store.partition(unit.mailbox) / f"{STAGE_PREFIX}{unit.run}-{unit.no:05d}.parquet"


def run_unit(unit: UnitJob, session: Session,
             progress: Callable[[int], None] | None = None) -> UnitResult:
    """Parse one unit and stage its rows. Never raises: failures become ``error``."""
    out = UnitResult(unit.no, MailboxResult(index=unit.job.index, mailbox=unit.mailbox))
    try:
        _run(unit, session, out, progress)
    except Exception as exc:  # noqa: BLE001 - one unit must not stop the run
        out.error = describe_failure(exc)
    return out


def _run(unit: UnitJob, session: Session, out: UnitResult,
         progress: Callable[[int], None] | None) -> None:
    items = _listing(unit, session).items[unit.lo:unit.hi]
    res, builder = out.counts, session.builder
    rows: list[dict[str, Any]] = []
    local: Counter[Digest] = Counter()
    for item, parsed in parsed_items(items, res, progress):
        key = item_key(item, parsed, local)
        at = -1
        if parsed.header_digest:
            at = len(out.seq)
            out.seq.append((item.folder, parsed.header_digest))
        row = build_row(builder, unit.fmt, unit.mailbox, item, parsed, key, res)
        if row is not None:
            rows.append(row)
            out.row_at.append(at)
    session.escrow.flush()  # identities are sealed before the rows that use them land
    if rows:
        path = stage_path(session, unit)
        atomic_write_table(rows_table(rows), path)
        out.staged = str(path)


def finish_units(session: Session, units: Sequence[UnitJob], results: Sequence[UnitResult],
                 res: MailboxResult) -> None:
    """Publish the staged rows of one mailbox's units, in unit order, exactly once."""
    if not units:
        return
    first = units[0]
    by_no = {r.no: r for r in results}
    for r in results:
        _merge(res, r.counts)
        if r.error and not res.error:
            res.error = r.error
    if res.error:  # a unit failed: nothing of this run is published; a re-run redoes it
        for r in results:
            if r.staged:
                Path(r.staged).unlink(missing_ok=True)
        return
    store = session.store
    with mailbox_lock(store.root, first.mailbox):
        present = store.existing_items(first.mailbox)
        seen: Counter[Digest] = Counter()
        for u in units:
            r = by_no[u.no]
            fixes = _renumber(r.seq, seen)
            if r.staged:
                _publish(session, u, r, fixes, present, res)


def _renumber(seq: list[Digest], seen: Counter[Digest]) -> dict[int, str]:
    """Keys to change: copies whose number in the whole folder differs from the unit's."""
    local: Counter[Digest] = Counter()
    fixes = {}
    for pos, d in enumerate(seq):
        local[d] += 1
        seen[d] += 1
        if seen[d] != local[d]:
            fixes[pos] = digest_key(d[0], d[1], seen[d])
    return fixes


def _publish(session: Session, u: UnitJob, r: UnitResult, fixes: dict[int, str],
             present: set[str], res: MailboxResult) -> None:
    staged = Path(r.staged or "")
    if not staged.exists():  # published by an earlier finish that died after it
        res.messages_written += len(r.row_at)
        return
    table = pq.read_table(staged)
    ids = table.column("item_id").to_pylist()
    family = item_family(u.fmt)
    for j, pos in enumerate(r.row_at):
        if pos in fixes:
            ids[j] = session.builder.item_id(u.mailbox, family, fixes[pos])
    keep = []
    for i in ids:
        keep.append(i not in present)
        present.add(i)
    n_keep = sum(keep)
    res.already_present += len(ids) - n_keep
    res.messages_written += n_keep
    if n_keep == len(ids) and not fixes:
        os.replace(staged, session.store.part_path(u.mailbox, table))
        return
    if n_keep:
        col = table.schema.get_field_index("item_id")
        table = table.set_column(col, "item_id", pa.array(ids, table.schema.field(col).type))
        table = table.filter(pa.array(keep))
        atomic_write_table(table, session.store.part_path(u.mailbox, table))
    staged.unlink()


def _merge(res: MailboxResult, part: MailboxResult) -> None:
    res.messages_seen += part.messages_seen
    res.skipped.update(part.skipped)
    res.defects.update(part.defects)


def _run_lock_path(store_root: Path, run: str) -> Path:
    return Path(store_root) / f".run-{run}.lock"


@contextlib.contextmanager
def run_lock(store_root: Path, run: str) -> Iterator[None]:
    """Held by the process that plans and finishes a run's units, for the whole run: another
    run starting meanwhile leaves this run's staged files alone. A POSIX record lock, which
    forked workers do not inherit: a worker that outlives a killed collector keeps nothing
    alive."""
    import fcntl

    path = _run_lock_path(store_root, run)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as f:
        fcntl.lockf(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            path.unlink(missing_ok=True)
            fcntl.lockf(f.fileno(), fcntl.LOCK_UN)


def _alive(store_root: Path, run: str) -> bool:
    import fcntl

    path = _run_lock_path(store_root, run)
    try:
        f = open(path, "r+b")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return False
    with f:
        try:
            fcntl.lockf(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # EACCES or EAGAIN: another process holds it
            return True
        fcntl.lockf(f.fileno(), fcntl.LOCK_UN)
    return False


def clean_staged(store_root: Path) -> int:
    """Remove the staged files of runs that died before finishing (those whose run lock
    nobody holds); returns how many."""
    root = Path(store_root)
    n = 0
    for t in root.glob(f"mailbox=*/{STAGE_PREFIX}*"):
        run = t.name[len(STAGE_PREFIX):].split("-", 1)[0]
        if not _alive(root, run):
            t.unlink(missing_ok=True)
            n += 1
    for lock in root.glob(".run-*.lock"):
        if not _alive(root, lock.name[len(".run-"):-len(".lock")]):
            lock.unlink(missing_ok=True)
    return n
