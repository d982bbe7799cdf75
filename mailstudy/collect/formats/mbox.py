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
from mailstudy.collect.formats.detect import looks_like_mbox
from mailstudy.collect.mime import (
    IN_MEMORY_MAX,
    ParsedMessage,
    iter_lines,
    read_message,
    read_message_bytes,
)

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
        for f in sorted(p for p in root.rglob("*") if p.is_file() and looks_like_mbox(p)):
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
