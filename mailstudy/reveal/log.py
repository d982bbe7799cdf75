"""The re-identification log: one hash-chained line per reveal, written before any name.

Why a chain: the log is the trace GDPR art. 4(5) calls for, and a plain text file can be
edited by whoever holds the study. Each line carries the hash of the line before it
(``prev=``) and its own (``hash=``, over ``prev`` and its fields), so deleting, editing or
reordering a line breaks every later hash; the key holder keeps the printed receipt (the last
hash) and ``mailstudy reveal --verify`` checks the chain, and that a receipt is on it.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from mailstudy.errors import PrivacyError

GENESIS = "0" * 64


class LogError(PrivacyError):
    """The re-identification log is broken: a line was edited, removed or reordered."""


@dataclass(frozen=True)
class LogCheck:
    entries: int
    last_hash: str


def _line_hash(prev: str, fields: str) -> str:
    return hashlib.sha256(f"{prev}\t{fields}".encode()).hexdigest()


def _split(line: str) -> tuple[str, str, str]:
    """(fields, prev, hash) of one line; a line without them is unchained (edited)."""
    body, _, own = line.rpartition("\thash=")
    fields, _, prev = body.rpartition("\tprev=")
    return fields, prev, own


def verify_log(path: Path, receipt: str | None = None) -> LogCheck:
    """Check the chain (and that ``receipt``, a hash printed by an earlier reveal, is on it)."""
    prev = GENESIS
    hashes = []
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    for n, line in enumerate(lines, start=1):
        fields, line_prev, own = _split(line)
        if line_prev != prev or own != _line_hash(prev, fields):
            raise LogError("the re-identification log is broken at line {n}: it was edited, "
                           "or a line was removed or moved", n=n)
        prev = own
        hashes.append(own)
    if receipt is not None and receipt not in hashes:
        raise LogError("that receipt is not in the re-identification log: lines were removed "
                       "or the log was replaced")
    return LogCheck(len(lines), prev)


def append_entry(path: Path, fields: dict[str, object]) -> str:
    """Append one chained line (after checking the chain) and return its hash, the receipt.
    The line is on disk (fsync) when this returns."""
    prev = verify_log(path).last_hash
    text = "\t".join(f"{k}={v}" for k, v in fields.items())
    if "\n" in text or "\tprev=" in text or "\thash=" in text:
        raise LogError("a log field may not hold a line break or a chain marker")
    own = _line_hash(prev, text)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as f:
        f.write(f"{text}\tprev={prev}\thash={own}\n")
        f.flush()
        os.fsync(f.fileno())
    return own
