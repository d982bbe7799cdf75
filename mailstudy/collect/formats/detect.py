"""Which format a source is, and whose mailbox its name says it is; nothing is parsed."""

from __future__ import annotations

import re
from pathlib import Path

from mailstudy.collect.formats.base import SourceError

FORMATS = ("maildir", "mbox", "eml", "msg", "pst")


ADDRESS_RE = re.compile(r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")


def detect_format(path: Path) -> str:
    if path.is_dir():
        if is_maildir(path) or any(is_maildir(c) for c in path.iterdir() if c.is_dir()):
            return "maildir"
        kinds: set[str] = set()
        for p in sorted(path.rglob("*"))[:2000]:
            if p.is_file():
                suf = p.suffix.lower()
                if suf in (".eml", ".msg", ".pst"):
                    kinds.add(suf[1:])
                elif looks_like_mbox(p):
                    kinds.add("mbox")
        # a tree of message files is read file by file, each by its own format
        for fmt in ("eml", "msg", "pst", "mbox"):
            if fmt in kinds:
                return fmt
        raise SourceError("folder is neither a Maildir nor holds .eml, .msg, .pst or mbox files")
    suf = path.suffix.lower()
    if suf == ".pst" or suf == ".ost":
        return "pst"
    if suf == ".msg":
        return "msg"
    if suf == ".eml":
        return "eml"
    if looks_like_mbox(path):
        return "mbox"
    raise SourceError("file is not a recognised mailbox export (mbox, .eml, .msg, .pst)")


def looks_like_mbox(p: Path) -> bool:
    try:
        with open(p, "rb") as f:
            head = f.read(8)
    except OSError:
        return False
    return head.removeprefix(b"\xef\xbb\xbf").startswith(b"From ")


def owner_from_name(path: Path) -> str | None:
    """``jean.dupont@region.fr/`` or ``jean.dupont@region.fr.mbox`` -> the address."""
    name = path.name
    for suf in (".mbox", ".mbx", ".pst", ".ost", ".msg", ".eml"):
        if name.lower().endswith(suf):
            name = name[: -len(suf)]
            break
    return name if ADDRESS_RE.match(name) else None


def is_maildir(d: Path) -> bool:
    return (d / "cur").is_dir() or (d / "new").is_dir()
