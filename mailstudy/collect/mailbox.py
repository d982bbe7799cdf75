"""Collection of one exported mailbox; the formats are read by :mod:`mailstudy.collect.formats`.

Each SOURCE is one mailbox. A source is enumerated into :class:`Item` objects in a
deterministic order (so a re-run meets the same items), each item is read as a stream (so an
attachment never sits in memory) and turned into a row by :mod:`~mailstudy.collect.rows`; rows are
committed in batches to the :class:`~mailstudy.store.MessageStore`, which skips items already
present.
Mailboxes are spread over processes (collection is CPU-bound parsing).
"""

from __future__ import annotations

import contextlib
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mailstudy.collect.addresses import Identities
from mailstudy.collect.folders import folder_role, personal_matcher
from mailstudy.collect.formats.base import Item, SourceError, SourceListing
from mailstudy.collect.formats.detect import FORMATS, detect_format, owner_from_name
from mailstudy.collect.formats.eml import list_eml
from mailstudy.collect.formats.maildir import list_maildir
from mailstudy.collect.formats.mbox import list_mbox
from mailstudy.collect.formats.pst import pst_as_eml
from mailstudy.collect.mime import MessageOverBudget, ParsedMessage
from mailstudy.collect.rows import Context, RowBuilder, item_family
from mailstudy.schema import MARK_OPTOUT
from mailstudy.store import MessageStore

BATCH_ROWS = 5000


@dataclass
class MailboxResult:
    """Summary of one mailbox; holds counts and pseudonyms only."""

    index: int
    mailbox: str | None = None
    format: str = ""
    owner_from: str = ""  # option, name, inferred
    folders: int = 0
    messages_seen: int = 0
    messages_written: int = 0
    already_present: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    defects: Counter[str] = field(default_factory=Counter)
    error: str | None = None
    seconds: float = 0.0

    @property
    def messages_per_second(self) -> float | None:
        """Messages written per second of this mailbox's wall time (None when too short)."""
        return round(self.messages_written / self.seconds, 1) if self.seconds > 0.001 else None

    def to_json(self) -> dict[str, Any]:
        return {"mailbox": self.mailbox, "source_index": self.index, "format": self.format,
                "owner_from": self.owner_from, "folders": self.folders,
                "messages_seen": self.messages_seen,
                "messages_written": self.messages_written,
                "already_present": self.already_present, "skipped": dict(self.skipped),
                "defects": dict(self.defects), "error": self.error,
                "seconds": round(self.seconds, 3),
                "messages_per_second": self.messages_per_second}


@dataclass
class MailboxJob:
    index: int
    source: Path
    owner: str | None
    fmt: str | None
    study_root: Path
    batch_rows: int = BATCH_ROWS

    def __repr__(self) -> str:  # the source's path may carry a name: keep it out of logs
        return f"MailboxJob(#{self.index})"


def _mbox_flags(parsed: ParsedMessage, item: Item) -> None:
    """Flags kept in headers: Status/X-Status (mutt, Dovecot, Python's mailbox), else
    Thunderbird's X-Mozilla-Status bit field (1 read, 2 replied, 4 marked)."""
    status = parsed.headers.get("Status")
    xstatus = parsed.headers.get("X-Status")
    moz = parsed.headers.get("X-Mozilla-Status")
    if status is None and xstatus is None and moz is not None:
        try:
            bits = int(str(moz).strip(), 16)
        except ValueError:
            return
        item.seen, item.answered, item.flagged = bool(bits & 1), bool(bits & 2), bool(bits & 4)
        return
    if status is not None or xstatus is not None:
        s = str(status or "")
        x = str(xstatus or "")
        item.seen = "R" in s
        item.answered = "A" in x
        item.flagged = "F" in x


def infer_owner(listing: SourceListing, ids: Identities, sample: int = 400) -> str | None:
    """The owner's address, from mail the mailbox sent (Sent folders), else the commonest
    internal recipient. Addresses stay inside this function."""
    import email.utils

    sent = [it for it in listing.items if folder_role(it.folder) in ("sent", "drafts")]
    pool = sent[:sample] if sent else listing.items[:sample]
    header = "From" if sent else "To"
    counts: Counter[str] = Counter()
    for it in pool:
        try:
            parsed = it.read()
        except Exception:
            continue
        for _, addr in email.utils.getaddresses([str(v) for v in
                                                 parsed.headers.get_all(header) or []]):
            if addr and ids.classify(addr) == "internal":
                counts[ids.p.canonical_address(ids.normal(addr))] += 1
    if not counts:
        return None
    return counts.most_common(1)[0][0]


class Session:
    """What one process keeps from mailbox to mailbox within a run: the study, its keys, the
    escrow writer and the identity cache (rebuilding them per mailbox re-reads every escrow
    segment list, a cost that grows with the run)."""

    def __init__(self, study_root: Path) -> None:
        from mailstudy.optout import load_optouts
        from mailstudy.study import open_study

        self.study = open_study(study_root)
        self.escrow = self.study.escrow()
        self.ids = Identities.of_study(self.study, load_optouts(self.study), self.escrow)
        self.builder = RowBuilder(self.ids, self.study.tz)
        self.store = MessageStore(self.study.messages_dir)
        self.is_personal = personal_matcher(self.study.personal_folders)


def collect_mailbox(job: MailboxJob, progress: Callable[[int], None] | None = None,
                    session: Session | None = None) -> MailboxResult:
    """Collect one source into the store. Never raises: failures become ``error``."""
    t0 = time.monotonic()
    res = MailboxResult(index=job.index)
    try:
        _collect(session or Session(job.study_root), job, res, progress)
    except Exception as exc:  # noqa: BLE001 - one mailbox must not stop the run
        res.error = describe_failure(exc)
    res.seconds = time.monotonic() - t0
    return res


def describe_failure(exc: BaseException) -> str:
    """A mailbox's failure in words that never name a path or an identity."""
    if isinstance(exc, SourceError):
        return str(exc)
    if isinstance(exc, OSError):
        return f"cannot read the source ({exc.strerror or type(exc).__name__})"
    return f"unexpected {type(exc).__name__}"


def _collect(session: Session, job: MailboxJob, res: MailboxResult,
             progress: Callable[[int], None] | None) -> None:
    with contextlib.ExitStack() as stack:
        opened = open_source(session, job, res, stack)
        if opened is None:
            return
        listing, mailbox, fmt, _root = opened
        # one writer per mailbox at a time: two sources of one owner never interleave
        stack.enter_context(mailbox_lock(session.store.root, mailbox))
        store, escrow = session.store, session.escrow
        present = store.existing_items(mailbox)
        batch: list[dict[str, Any]] = []

        def commit() -> None:
            escrow.flush()  # identities are sealed before the rows that use them land
            store.write_batch(mailbox, batch)
            res.messages_written += len(batch)
            batch.clear()

        occurrences: Counter[tuple[tuple[str, ...], str]] = Counter()
        for item, parsed in parsed_items(listing.items, res, progress):
            key = item_key(item, parsed, occurrences)
            # one key family for every file format: the same message exported twice, in two
            # layouts, is one row
            item_id = session.builder.item_id(mailbox, item_family(fmt), key)
            if item_id in present:
                res.already_present += 1
                continue
            row = build_row(session.builder, fmt, mailbox, item, parsed, key, res)
            if row is None:
                continue
            batch.append(row)
            present.add(item_id)
            if len(batch) >= job.batch_rows:
                commit()
        if batch:
            commit()
        escrow.flush()
        if not listing.items:
            res.skipped["empty_mailbox"] += 1


def open_source(session: Session, job: MailboxJob, res: MailboxResult,
                stack: contextlib.ExitStack) -> tuple[SourceListing, str, str, Path] | None:
    """The listing, the mailbox pseudonym, the format and the listed root (a PST's converted
    tree) of ``job``'s source, or None when
    the mailbox must not be read (its owner objected). A PST is converted for as long as
    ``stack`` lives. Shared by the whole-mailbox run and the planner of
    :mod:`mailstudy.collect.units`."""
    source = Path(job.source)
    if not source.exists():
        raise SourceError("source does not exist")
    fmt = job.fmt or detect_format(source)
    if fmt not in FORMATS:
        raise SourceError("unknown format {fmt!r} (fmt); use one of {formats}",
                          fmt=fmt, formats=", ".join(FORMATS))
    res.format = fmt
    ids = session.ids
    # the owner first, from what needs no reading: an opted-out mailbox is never opened
    owner = job.owner
    res.owner_from = "option"
    if owner is None:
        owner = owner_from_name(source)
        res.owner_from = "name"
    if owner is not None:
        _check_owner(owner, ids, res)
        if res.owner_from.endswith("+optout"):
            return None
    root = stack.enter_context(pst_as_eml(source)) if fmt == "pst" else source
    listing = list_source(fmt, root, session.is_personal)
    if (not listing.items and not listing.skipped_folders and job.fmt
            and _has_files(root)):
        raise SourceError("no {fmt} mailbox found in this source; check the format "
                          "given (fmt)", fmt=fmt)
    if owner is None:
        owner = infer_owner(listing, ids)
        res.owner_from = "inferred"
        if owner is None:
            raise SourceError("cannot tell whose mailbox this is: give its owner (owner)")
        _check_owner(owner, ids, res)
        if res.owner_from.endswith("+optout"):
            return None
    mailbox = res.mailbox
    assert mailbox is not None
    ids.token(owner)  # seal the owner even if the mailbox turns out empty
    res.folders = len(listing.folders)
    res.skipped["personal_folder_messages"] += listing.skipped_messages
    res.skipped["personal_folders"] += listing.skipped_folders
    res.skipped.update(listing.skipped)
    return listing, mailbox, fmt, root


def list_source(fmt: str, root: Path, is_personal: Callable[[tuple[str, ...]], bool]
                ) -> SourceListing:
    """The items of an (unpacked) source, in a deterministic order."""
    return {"maildir": list_maildir, "mbox": list_mbox, "eml": list_eml, "pst": list_eml,
            "msg": list_eml}[fmt](root, is_personal)


def parsed_items(items: Iterable[Item], res: MailboxResult,
                 progress: Callable[[int], None] | None) -> Iterator[tuple[Item, ParsedMessage]]:
    """Each readable item with its parsed message (the others are counted skips); counts
    what was seen and reports progress every 200 messages."""
    since = 0
    for item in items:
        res.messages_seen += 1
        since += 1
        if progress is not None and since >= 200:
            progress(since)
            since = 0
        parsed = read_item(item, res)
        if parsed is not None:
            yield item, parsed
    if progress is not None and since:
        progress(since)


def read_item(item: Item, res: MailboxResult) -> ParsedMessage | None:
    """The parsed message, or None and a counted skip."""
    try:
        return item.read()
    except OSError:
        res.skipped["unreadable_file"] += 1
    except MessageOverBudget as exc:
        res.skipped[f"over_budget_{exc.reason}"] += 1
    except Exception as exc:  # noqa: BLE001 - counted, never fatal
        res.skipped[f"unparsable_{_reason(exc)}"] += 1
    return None


def item_key(item: Item, parsed: ParsedMessage,
             occurrences: Counter[tuple[tuple[str, ...], str]]) -> str:
    """A message is known by its folder and its header block (n-th copy if repeated), so a
    re-export of the same mailbox, in any layout, adds only what is new."""
    if not parsed.header_digest:
        return item.key
    occurrences[(item.folder, parsed.header_digest)] += 1
    n = occurrences[(item.folder, parsed.header_digest)]
    return digest_key(item.folder, parsed.header_digest, n)


def digest_key(folder: tuple[str, ...], header_digest: str, n: int) -> str:
    return f"{'/'.join(folder)}\x00{header_digest}\x00{n}"


def build_row(builder: RowBuilder, fmt: str, mailbox: str, item: Item, parsed: ParsedMessage,
              key: str, res: MailboxResult) -> dict[str, Any] | None:
    """The row of one message (its defects counted), or None and a counted skip."""
    source = item.source or fmt  # a mixed folder: each file by its own format
    if source in ("mbox", "eml", "pst"):
        _mbox_flags(parsed, item)  # Status/X-Status headers, when present
    elif source == "msg":
        item.seen = getattr(parsed, "seen", item.seen)
    ctx = Context(mailbox=mailbox, source=fmt if fmt == "pst" else source, item_key=key,
                  folder=item.folder, folder_role=folder_role(item.folder),
                  size_bytes=parsed.size, seen=item.seen, answered=item.answered,
                  flagged=item.flagged, fallback_date=item.fallback_date)
    try:
        row = builder.build(parsed.headers, parsed.outline, ctx)
    except Exception as exc:  # noqa: BLE001
        res.skipped[f"unparsable_{_reason(exc)}"] += 1
        return None
    res.defects.update(row["defects"])
    return row


def _check_owner(owner: str, ids: Identities, res: MailboxResult) -> None:
    if ids.classify(owner) != "internal":
        raise SourceError("the owner's address is not in the organisation's domains")
    res.mailbox = ids.person(owner)
    if res.mailbox in ids.optouts:
        res.mailbox = MARK_OPTOUT  # summaries never name an objector, not even by pseudonym
        res.skipped["owner_opted_out"] += 1
        res.owner_from += "+optout"


def _has_files(root: Path) -> bool:
    if root.is_file():
        return root.stat().st_size > 0
    return any(p.is_file() for p in root.rglob("*"))


@contextlib.contextmanager
def mailbox_lock(store_root: Path, mailbox: str) -> Iterator[None]:
    import fcntl

    store_root.mkdir(parents=True, exist_ok=True)
    with open(store_root / f".lock-{mailbox}", "a+b") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _reason(exc: BaseException) -> str:
    name = type(exc).__name__
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
