"""Collection from exported files: Maildir(++), mbox (mboxo/mboxrd), .eml trees, Outlook .msg,
and PST through Debian's ``readpst``.

Each SOURCE is one mailbox. A source is enumerated into :class:`Item` objects in a
deterministic order (so a re-run meets the same items), each item is read as a stream (so an
attachment never sits in memory) and turned into a row by :mod:`headers`; rows are committed in
batches to the :class:`~mailstudy.store.MessageStore`, which skips items already present.
Mailboxes are spread over processes (collection is CPU-bound parsing).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mailstudy.collect.addresses import Identities
from mailstudy.collect.folders import folder_role, normalise_folder, personal_matcher
from mailstudy.collect.mime import (
    IN_MEMORY_MAX,
    ParsedMessage,
    iter_lines,
    read_message,
    read_message_bytes,
)
from mailstudy.collect.rows import Context, RowBuilder, item_family
from mailstudy.errors import CollectError
from mailstudy.store import MessageStore

FORMATS = ("maildir", "mbox", "eml", "msg", "pst")
BATCH_ROWS = 5000
ADDRESS_RE = re.compile(r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")


class SourceError(CollectError):
    """A source cannot be read as a mailbox; the message never names the path."""


@dataclass
class Item:
    """One message of a source, found but not yet read."""

    folder: tuple[str, ...]
    key: str  # locator within the source (hashed before storage)
    read: Callable[[], ParsedMessage]  # reads and parses the message when called
    seen: bool | None = None
    answered: bool | None = None
    flagged: bool | None = None
    fallback_date: dt.datetime | None = None


@dataclass
class SourceListing:
    items: list[Item]
    folders: set[tuple[str, ...]] = field(default_factory=set)
    skipped_folders: int = 0  # personal folders
    skipped_messages: int = 0  # messages inside personal folders


# ---------------------------------------------------------------------------------------------
# format detection

def detect_format(path: Path) -> str:
    if path.is_dir():
        if _is_maildir(path) or any(_is_maildir(c) for c in path.iterdir() if c.is_dir()):
            return "maildir"
        for p in sorted(path.rglob("*"))[:2000]:
            if p.is_file():
                suf = p.suffix.lower()
                if suf == ".eml":
                    return "eml"
                if suf == ".msg":
                    return "msg"
                if suf == ".pst":
                    return "pst"
                if _looks_like_mbox(p):
                    return "mbox"
        raise SourceError("folder is neither a Maildir nor holds .eml, .msg, .pst or mbox files")
    suf = path.suffix.lower()
    if suf == ".pst" or suf == ".ost":
        return "pst"
    if suf == ".msg":
        return "msg"
    if suf == ".eml":
        return "eml"
    if _looks_like_mbox(path):
        return "mbox"
    raise SourceError("file is not a recognised mailbox export (mbox, .eml, .msg, .pst)")


def _looks_like_mbox(p: Path) -> bool:
    try:
        with open(p, "rb") as f:
            return f.read(5) == b"From "
    except OSError:
        return False


def owner_from_name(path: Path) -> str | None:
    """``jean.dupont@region.fr/`` or ``jean.dupont@region.fr.mbox`` -> the address."""
    name = path.name
    for suf in (".mbox", ".mbx", ".pst", ".ost", ".msg", ".eml"):
        if name.lower().endswith(suf):
            name = name[: -len(suf)]
            break
    return name if ADDRESS_RE.match(name) else None


# ---------------------------------------------------------------------------------------------
# enumerators


def _file_reader(path: Path) -> Callable[[], ParsedMessage]:
    """Parse a message file in memory when it is small, streamed when it is large."""

    def read() -> ParsedMessage:
        with open(path, "rb") as f:
            data = f.read(IN_MEMORY_MAX + 1)
            if len(data) <= IN_MEMORY_MAX:
                return read_message_bytes(data)
            f.seek(0)
            return read_message(iter_lines(f))

    return read


def _decode_maildir_name(name: str) -> str:
    from imapclient import imap_utf7

    try:
        return imap_utf7.decode(name.encode("ascii"))
    except Exception:
        return name


def _maildir_flags(filename: str) -> tuple[str, str]:
    for sep in (":2,", "!2,", ";2,"):
        if sep in filename:
            base, flags = filename.split(sep, 1)
            return base, flags
    return filename, ""


def _is_maildir(d: Path) -> bool:
    return (d / "cur").is_dir() or (d / "new").is_dir()


def _maildir_folders(root: Path) -> list[tuple[tuple[str, ...], Path]]:
    """Every folder of a Maildir export, whatever its layout: Maildir++ (``.Sent``,
    ``.Archives.2026`` beside the inbox's cur/new), nested folders (``Archives/2026/cur``, as
    mbsync and Dovecot's LAYOUT=fs write them) and a root holding only folders (``INBOX/cur``,
    ``Sent/cur``, as offlineimap writes them)."""
    found: list[tuple[tuple[str, ...], Path]] = []
    if _is_maildir(root):
        found.append((("INBOX",), root))
    for dirpath, dirnames, _ in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in ("cur", "new", "tmp"))
        for d in dirnames:
            sub = Path(dirpath) / d
            if not _is_maildir(sub):
                continue
            parts: list[str] = []
            for comp in sub.relative_to(root).parts:
                if comp.startswith("."):
                    parts.extend(_decode_maildir_name(x) for x in comp[1:].split(".") if x)
                else:
                    parts.append(_decode_maildir_name(comp))
            if parts:
                found.append((normalise_folder(tuple(parts)), sub))
    return found


def list_maildir(root: Path, is_personal: Callable[[tuple[str, ...]], bool]) -> SourceListing:
    listing = SourceListing(items=[])
    folders = _maildir_folders(root)
    for folder, d in folders:
        files: list[tuple[str, Path, bool]] = []
        for sub, in_new in (("cur", False), ("new", True)):
            sd = d / sub
            if sd.is_dir():
                # a dangling link is listed too: it becomes a counted skip, never a silent drop
                files.extend((f.name, f, in_new) for f in sd.iterdir() if not f.is_dir())
        if is_personal(folder):
            # file names are counted; no message of a personal folder is opened
            listing.skipped_folders += 1
            listing.skipped_messages += len(files)
            continue
        listing.folders.add(folder)
        for name, f, in_new in sorted(files):
            base, flags = _maildir_flags(name)
            ts = _maildir_time(base)
            listing.items.append(Item(
                folder=folder, key="/".join(folder) + "\x00" + base, read=_file_reader(f),
                seen=("S" in flags) and not in_new, answered="R" in flags, flagged="F" in flags,
                fallback_date=ts))
    return listing


def _maildir_time(base: str) -> dt.datetime | None:
    head = base.split(".", 1)[0]
    if head.isdigit():
        with contextlib.suppress(OverflowError, ValueError, OSError):
            return dt.datetime.fromtimestamp(int(head), dt.UTC)
    return None


def _file_mtime(p: Path) -> dt.datetime | None:
    try:
        return dt.datetime.fromtimestamp(p.stat().st_mtime, dt.UTC)
    except OSError:
        return None


def list_eml(root: Path, is_personal: Callable[[tuple[str, ...]], bool],
             suffix: str = ".eml") -> SourceListing:
    listing = SourceListing(items=[])
    files = [root] if root.is_file() else sorted(
        p for p in root.rglob("*") if not p.is_dir() and p.suffix.lower() == suffix)
    skipped: set[tuple[str, ...]] = set()
    for f in files:
        rel = f.relative_to(root) if root.is_dir() else Path(f.name)
        folder = normalise_folder(tuple(rel.parts[:-1]))
        if is_personal(folder):
            listing.skipped_messages += 1
            if folder not in skipped:
                skipped.add(folder)
                listing.skipped_folders += 1
            continue
        listing.folders.add(folder)
        # last resort for a message without a usable date: the file's own date (counted as
        # a defect, date_from_source; an export may have reset it)
        item = Item(folder=folder, key=rel.as_posix(),
                    read=_msg_reader(f) if suffix == ".msg" else _file_reader(f),
                    fallback_date=_file_mtime(f))
        listing.items.append(item)
    return listing


def _msg_reader(path: Path) -> Callable[[], ParsedMessage]:
    def read() -> ParsedMessage:
        from mailstudy.collect.msg import read_msg

        return read_msg(path)

    return read


_FROM_LINE = re.compile(rb"^From \S*\s+(.*)$")


def _mbox_from_date(line: bytes) -> dt.datetime | None:
    m = _FROM_LINE.match(line.rstrip(b"\r\n"))
    if not m:
        return None
    text = m.group(1).decode("ascii", "replace").strip()
    for fmt in ("%a %b %d %H:%M:%S %Y", "%a %b  %d %H:%M:%S %Y"):
        with contextlib.suppress(ValueError):
            return dt.datetime.strptime(text, fmt).replace(tzinfo=dt.UTC)
    return None


def _scan_mbox(path: Path) -> list[tuple[int, int, dt.datetime | None]]:
    """(offset of the first header line, end offset, From_ date) of each message."""
    spans: list[tuple[int, int, dt.datetime | None]] = []
    start: int | None = None
    date = None
    prev_blank = True
    pos = 0
    with open(path, "rb") as f:
        at_start = True
        for line in iter_lines(f):
            if at_start and prev_blank and line.startswith(b"From "):
                if start is not None:
                    spans.append((start, pos, date))
                start = pos + len(line)
                date = _mbox_from_date(line)
            prev_blank = at_start and line in (b"\n", b"\r\n")
            at_start = line.endswith(b"\n")
            pos += len(line)
    if start is not None:
        spans.append((start, pos, date))
    return spans


def _mbox_lines(path: Path, start: int, end: int) -> Callable[[], Iterator[bytes]]:
    def opener() -> Iterator[bytes]:
        with open(path, "rb") as f:
            f.seek(start)
            remaining = end - start
            while remaining > 0:
                line = f.readline(min(65536, remaining))
                if not line:
                    return
                remaining -= len(line)
                # the blank line before the next From_ separates messages; it is not content
                if remaining == 0 and line in (b"\n", b"\r\n"):
                    return
                if line.startswith(b">") and line.lstrip(b">").startswith(b"From "):
                    line = line[1:]  # mboxrd/mboxo unescaping
                yield line

    return opener


_MBOX_ESCAPED = re.compile(rb"(?m)^>(>*From )")


def _mbox_reader(path: Path, start: int, end: int) -> Callable[[], ParsedMessage]:
    """Like :func:`_mbox_lines` + :func:`read_message`, in memory for small messages."""

    def read() -> ParsedMessage:
        if end - start > IN_MEMORY_MAX:
            return read_message(_mbox_lines(path, start, end)())
        with open(path, "rb") as f:
            f.seek(start)
            data = f.read(end - start)
        # the blank line before the next From_ separates messages; it is not content
        if data.endswith(b"\r\n\r\n"):
            data = data[:-2]
        elif data.endswith(b"\n\n"):
            data = data[:-1]
        elif data in (b"\n", b"\r\n"):
            data = b""
        return read_message_bytes(_MBOX_ESCAPED.sub(rb"\1", data))

    return read


def list_mbox(root: Path, is_personal: Callable[[tuple[str, ...]], bool]) -> SourceListing:
    listing = SourceListing(items=[])
    if root.is_file():
        files = [(("INBOX",), root)]
    else:
        files = []
        for f in sorted(p for p in root.rglob("*") if p.is_file() and _looks_like_mbox(p)):
            rel = f.relative_to(root)
            # Thunderbird layout: "Archives.sbd/2024" is the subfolder 2024 of Archives
            parts = tuple(p[:-4] if p.endswith(".sbd") else p for p in rel.parts)
            name = parts[-1]
            for suf in (".mbox", ".mbx"):
                if name.lower().endswith(suf):
                    name = name[: -len(suf)]
            folder = parts[:-1] + (name,)
            files.append((normalise_folder(folder), f))
    for folder, f in files:
        if is_personal(folder):
            listing.skipped_folders += 1  # not even scanned: its messages are not counted
            continue
        spans = _scan_mbox(f)
        listing.folders.add(folder)
        for start, end, date in spans:
            listing.items.append(Item(folder=folder, key=f"{'/'.join(folder)}\x00{start}",
                                      read=_mbox_reader(f, start, end),
                                      fallback_date=date))
    # mbox flags live in Status/X-Status headers: read by the collector from the headers
    return listing


class ReadpstMissing(SourceError):
    pass


@contextlib.contextmanager
def pst_as_eml(path: Path, tmp_root: Path) -> Iterator[Path]:
    """Convert a PST to a private temporary tree of .eml files with readpst, then delete it.

    The tree lives under the study's ``data/tmp`` (mode 0700), which every collection empties
    first, so a killed conversion leaves no mail behind for long."""
    exe = shutil.which("readpst")
    if exe is None:
        raise ReadpstMissing("reading PST needs Debian's readpst: run "
                             "'sudo apt-get install pst-utils' and try again")
    tmp_root.mkdir(parents=True, exist_ok=True)
    os.chmod(tmp_root, 0o700)
    with tempfile.TemporaryDirectory(prefix="pst-", dir=tmp_root) as tmp:
        os.chmod(tmp, 0o700)
        # -j 0: no parallel jobs. readpst's default forks workers that race: on the test PST
        # about one conversion in three garbled or dropped a message, which a later run
        # would have collected again as a new row. Serial conversion is deterministic.
        proc = subprocess.run([exe, "-q", "-j", "0", "-e", "-te", "-b", "-o", tmp, str(path)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              timeout=3600, check=False)
        if proc.returncode != 0:
            raise SourceError(f"readpst could not convert this PST (exit code {proc.returncode})")
        # readpst nests everything under the PST's root folders ("Personal folders",
        # the store's name...): start at the first level that holds more than one folder
        root = Path(tmp)
        while True:
            entries = list(root.iterdir())
            if len(entries) == 1 and entries[0].is_dir():
                root = entries[0]
            else:
                break
        yield root


# ---------------------------------------------------------------------------------------------
# one mailbox


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
                counts[ids.p.canonical_address(addr)] += 1
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
        self.ids = Identities(self.study.pseudonymiser(), self.study.domains,
                              self.study.partner_domains, load_optouts(self.study), self.escrow)
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
    except SourceError as exc:
        res.error = str(exc)
    except OSError as exc:
        res.error = f"cannot read the source ({exc.strerror or type(exc).__name__})"
    except Exception as exc:  # noqa: BLE001 - one mailbox must not stop the run
        res.error = f"unexpected {type(exc).__name__}"
    res.seconds = time.monotonic() - t0
    return res


def _collect(session: Session, job: MailboxJob, res: MailboxResult,
             progress: Callable[[int], None] | None) -> None:
    source = Path(job.source)
    if not source.exists():
        raise SourceError("source does not exist")
    fmt = job.fmt or detect_format(source)
    if fmt not in FORMATS:
        raise SourceError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
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
            return
    with contextlib.ExitStack() as stack:
        root = source
        if fmt == "pst":
            root = stack.enter_context(pst_as_eml(source, session.study.data / "tmp"))
        listing = {"maildir": list_maildir, "mbox": list_mbox, "eml": list_eml,
                   "pst": list_eml,
                   "msg": lambda r, p: list_eml(r, p, ".msg")}[fmt](root, session.is_personal)
        if (not listing.items and not listing.skipped_folders and job.fmt
                and _has_files(root)):
            raise SourceError(f"no {fmt} mailbox found in this source; check --format")
        escrow = session.escrow
        if owner is None:
            owner = infer_owner(listing, ids)
            res.owner_from = "inferred"
            if owner is None:
                raise SourceError("cannot tell whose mailbox this is: give --owner")
            _check_owner(owner, ids, res)
            if res.owner_from.endswith("+optout"):
                return
        mailbox = res.mailbox
        assert mailbox is not None
        ids.token(owner)  # seal the owner even if the mailbox turns out empty
        res.folders = len(listing.folders)
        res.skipped["personal_folder_messages"] += listing.skipped_messages
        res.skipped["personal_folders"] += listing.skipped_folders
        # one writer per mailbox at a time: two sources of one owner never interleave
        stack.enter_context(_mailbox_lock(session.store.root, mailbox))
        store, builder = session.store, session.builder
        present = store.existing_items(mailbox)
        source_name = fmt
        batch: list[dict[str, Any]] = []
        done_since_report = 0

        def commit() -> None:
            escrow.flush()  # identities are sealed before the rows that use them land
            store.write_batch(mailbox, batch)
            res.messages_written += len(batch)
            batch.clear()

        occurrences: Counter[tuple[tuple[str, ...], str]] = Counter()
        for item in listing.items:
            res.messages_seen += 1
            done_since_report += 1
            if progress is not None and done_since_report >= 200:
                progress(done_since_report)
                done_since_report = 0
            try:
                parsed = item.read()
            except OSError:
                res.skipped["unreadable_file"] += 1
                continue
            except Exception as exc:  # noqa: BLE001 - counted, never fatal
                res.skipped[f"unparsable_{_reason(exc)}"] += 1
                continue
            # A message is known by its folder and its header block (n-th copy if repeated),
            # so a re-export of the same mailbox, in any layout, adds only what is new.
            key = item.key
            if parsed.header_digest:
                occurrences[(item.folder, parsed.header_digest)] += 1
                n = occurrences[(item.folder, parsed.header_digest)]
                key = f"{'/'.join(item.folder)}\x00{parsed.header_digest}\x00{n}"
            # one key family for every file format: the same message exported twice, in two
            # layouts, is one row
            item_id = builder.item_id(mailbox, item_family(fmt), key)
            if item_id in present:
                res.already_present += 1
                continue
            if fmt in ("mbox", "eml", "pst"):
                _mbox_flags(parsed, item)  # Status/X-Status headers, when present
            elif fmt == "msg":
                item.seen = getattr(parsed, "seen", item.seen)
            ctx = Context(mailbox=mailbox, source=source_name, item_key=key,
                          folder=item.folder, folder_role=folder_role(item.folder),
                          size_bytes=parsed.size, seen=item.seen, answered=item.answered,
                          flagged=item.flagged, fallback_date=item.fallback_date)
            try:
                row = builder.build(parsed.headers, parsed.outline, ctx)
            except Exception as exc:  # noqa: BLE001
                res.skipped[f"unparsable_{_reason(exc)}"] += 1
                continue
            res.defects.update(row["defects"])
            batch.append(row)
            present.add(item_id)
            if len(batch) >= job.batch_rows:
                commit()
        if batch:
            commit()
        escrow.flush()
        if progress is not None and done_since_report:
            progress(done_since_report)
        if not listing.items:
            res.skipped["empty_mailbox"] += 1


def _check_owner(owner: str, ids: Identities, res: MailboxResult) -> None:
    if ids.classify(owner) != "internal":
        raise SourceError("the owner's address is not in the organisation's domains")
    res.mailbox = ids.p.person(owner)
    if res.mailbox in ids.optouts:
        res.skipped["owner_opted_out"] += 1
        res.owner_from += "+optout"


def _has_files(root: Path) -> bool:
    if root.is_file():
        return root.stat().st_size > 0
    return any(p.is_file() for p in root.rglob("*"))


@contextlib.contextmanager
def _mailbox_lock(store_root: Path, mailbox: str) -> Iterator[None]:
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

