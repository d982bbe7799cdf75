"""Trees of message files: .eml and Outlook .msg files (one message per file) and mbox files,
each read by its own format, in any mix.

Why one lister for every tree: an export folder mixes them (a user who saved some mail from
Outlook as .msg and some from Thunderbird as .eml, an mbox beside them); taking the format of
the first file found ignored the others silently. A file that is none of them is counted
(``not_a_message_file``), never silently dropped.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from mailstudy.collect.folders import normalise_folder
from mailstudy.collect.formats.base import Item, SourceListing, file_reader
from mailstudy.collect.formats.detect import looks_like_mbox
from mailstudy.collect.mime import ParsedMessage


def _file_mtime(p: Path) -> dt.datetime | None:
    try:
        return dt.datetime.fromtimestamp(p.stat().st_mtime, dt.UTC)
    except OSError:
        return None


def kind_of_file(p: Path) -> str | None:
    """eml, msg or mbox by name or first bytes; None for anything else."""
    suf = p.suffix.lower()
    if suf in (".eml", ".msg"):
        return suf[1:]
    return "mbox" if looks_like_mbox(p) else None


def list_tree(root: Path, is_personal: Callable[[tuple[str, ...]], bool]) -> SourceListing:
    """Every message file under ``root`` (or ``root`` itself), each by its own format."""
    from mailstudy.collect.formats.mbox import add_mbox_file, mbox_folder

    listing = SourceListing(items=[])
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if not p.is_dir())
    skipped: set[tuple[str, ...]] = set()
    for f in files:
        rel = f.relative_to(root) if root.is_dir() else Path(f.name)
        kind = kind_of_file(f) if root.is_dir() else ("msg" if f.suffix.lower() == ".msg"
                                                      else "eml")
        if kind is None:
            listing.skipped["not_a_message_file"] += 1
            continue
        if kind == "mbox":
            add_mbox_file(listing, mbox_folder(rel), f, is_personal)
            continue
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
        listing.items.append(Item(folder=folder, key=rel.as_posix(),
                                  read=_msg_reader(f) if kind == "msg" else file_reader(f),
                                  fallback_date=_file_mtime(f), source=kind))
    return listing


def list_eml(root: Path, is_personal: Callable[[tuple[str, ...]], bool]) -> SourceListing:
    return list_tree(root, is_personal)


def _msg_reader(path: Path) -> Callable[[], ParsedMessage]:
    def read() -> ParsedMessage:
        from mailstudy.collect.msg import read_msg

        return read_msg(path)

    return read
