"""mbox files (mboxo/mboxrd) and Thunderbird trees: scanned for From_ lines, each message
read later from its span."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Callable, Iterator
from pathlib import Path

from mailstudy.collect.folders import normalise_folder
from mailstudy.collect.formats.base import Item, SourceListing
from mailstudy.collect.mime import (
    IN_MEMORY_MAX,
    ParsedMessage,
    iter_lines,
    read_message,
    read_message_bytes,
)
from mailstudy.collect.mimeshared import BOM

_FROM_LINE = re.compile(rb"^From \S*\s+(.*)$")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
# A valid envelope line (mutt's is_from): sender, weekday, month, day, time, optional zone,
# year (the zone may also follow the year). Only such a line starts a message when it does
# not follow a blank line, as in Python's mailbox, mutt and MimeKit: exporters that forget the
# blank line are common, and a body line "From here..." is not an envelope.
_ENVELOPE = re.compile(
    rb"^From +(?:\S+ +)?(?:remote from \S+ +)?(Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*,? +"
    rb"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]* +(\d{1,2}),? +"
    rb"(\d{1,2}):(\d{2})(?::(\d{2}))?(?: +[A-Za-z+-][A-Za-z0-9+-]*)? +(\d{4})"
    rb"(?: +[A-Za-z+-][A-Za-z0-9+-]*)?(?: +remote from \S+)? *\r?\n?$", re.I)


def _mbox_from_date(line: bytes) -> dt.datetime | None:
    m = _ENVELOPE.match(line.strip(b" \t") + b"\n") if len(line) < 300 else None
    if m is None:
        return None
    _, mon, day, hh, mm, ss, year = m.groups()
    with contextlib.suppress(ValueError):
        return dt.datetime(int(year), _MONTHS.index(mon.decode().lower()) + 1, int(day),
                           int(hh), int(mm), int(ss or 0), tzinfo=dt.UTC)
    return None


def is_envelope(line: bytes) -> bool:
    """A ``From `` line with the shape of an envelope (sender and asctime date)."""
    return line.startswith(b"From ") and len(line) < 300 and _ENVELOPE.match(line) is not None


def _scan_mbox(path: Path) -> list[tuple[int, int, dt.datetime | None]]:
    """(offset of the first header line, end offset, From_ date) of each message.

    A message starts at a ``From `` line after a blank line (or at the start of the file,
    after a byte-order mark), or at a valid envelope line anywhere."""
    spans: list[tuple[int, int, dt.datetime | None]] = []
    start: int | None = None
    date = None
    prev_blank = True
    pos = 0
    with open(path, "rb") as f:
        at_start = True
        for line in iter_lines(f):
            if pos == 0 and line.startswith(BOM):
                pos, line = len(BOM), line[len(BOM):]
            if at_start and line.startswith(b"From ") and (prev_blank or is_envelope(line)):
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
        if data.startswith(b">") or b"\n>" in data:  # a copy only when something is escaped
            data = _MBOX_ESCAPED.sub(rb"\1", data)
        return read_message_bytes(data)

    return read


def add_mbox_file(listing: SourceListing, folder: tuple[str, ...], f: Path,
                  is_personal: Callable[[tuple[str, ...]], bool]) -> None:
    """The messages of one mbox file, as the folder ``folder``."""
    if is_personal(folder):
        listing.skipped_folders += 1  # not even scanned: its messages are not counted
        return
    listing.folders.add(folder)
    for start, end, date in _scan_mbox(f):
        listing.items.append(Item(folder=folder, key=f"{'/'.join(folder)}\x00{start}",
                                  read=_mbox_reader(f, start, end), fallback_date=date,
                                  source="mbox"))


def mbox_folder(rel: Path) -> tuple[str, ...]:
    """The folder an mbox file holds, from its path in the export. Thunderbird layout:
    "Archives.sbd/2024" is the subfolder 2024 of Archives."""
    parts = tuple(p[:-4] if p.endswith(".sbd") else p for p in rel.parts)
    name = parts[-1]
    for suf in (".mbox", ".mbx"):
        if name.lower().endswith(suf):
            name = name[: -len(suf)]
    return normalise_folder(parts[:-1] + (name,))


def list_mbox(root: Path, is_personal: Callable[[tuple[str, ...]], bool]) -> SourceListing:
    """One mbox file is the inbox; a folder of them is read file by file, each by its own
    format (:func:`~mailstudy.collect.formats.eml.list_tree`)."""
    if root.is_dir():
        from mailstudy.collect.formats.eml import list_tree

        return list_tree(root, is_personal)
    listing = SourceListing(items=[])
    add_mbox_file(listing, ("INBOX",), root, is_personal)
    # mbox flags live in Status/X-Status headers: read by the collector from the headers
    return listing
