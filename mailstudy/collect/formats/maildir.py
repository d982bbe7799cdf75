"""Maildir exports: folders in any layout, flags from file names."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Callable
from pathlib import Path

from mailstudy.collect.folders import normalise_folder
from mailstudy.collect.formats.base import Item, SourceListing, file_reader
from mailstudy.collect.formats.detect import is_maildir


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


def _maildir_folders(root: Path) -> list[tuple[tuple[str, ...], Path]]:
    """Every folder of a Maildir export, whatever its layout: Maildir++ (``.Sent``,
    ``.Archives.2026`` beside the inbox's cur/new), nested folders (``Archives/2026/cur``, as
    mbsync and Dovecot's LAYOUT=fs write them) and a root holding only folders (``INBOX/cur``,
    ``Sent/cur``, as offlineimap writes them)."""
    found: list[tuple[tuple[str, ...], Path]] = []
    if is_maildir(root):
        found.append((("INBOX",), root))
    for dirpath, dirnames, _ in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in ("cur", "new", "tmp"))
        for d in dirnames:
            sub = Path(dirpath) / d
            if not is_maildir(sub):
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
                folder=folder, key="/".join(folder) + "\x00" + base, read=file_reader(f),
                seen=("S" in flags) and not in_new, answered="R" in flags, flagged="F" in flags,
                fallback_date=ts))
    return listing


def _maildir_time(base: str) -> dt.datetime | None:
    head = base.split(".", 1)[0]
    if head.isdigit():
        with contextlib.suppress(OverflowError, ValueError, OSError):
            return dt.datetime.fromtimestamp(int(head), dt.UTC)
    return None
