"""Trees of .eml files and of Outlook .msg files (one message per file)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from mailstudy.collect.folders import normalise_folder
from mailstudy.collect.formats.base import Item, SourceListing, file_reader
from mailstudy.collect.mime import ParsedMessage


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
                    read=_msg_reader(f) if suffix == ".msg" else file_reader(f),
                    fallback_date=_file_mtime(f))
        listing.items.append(item)
    return listing


def _msg_reader(path: Path) -> Callable[[], ParsedMessage]:
    def read() -> ParsedMessage:
        from mailstudy.collect.msg import read_msg

        return read_msg(path)

    return read
