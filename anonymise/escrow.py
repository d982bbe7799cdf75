"""Sealed escrow of identities, in the age format (pyrage, X25519).

Why: the operator must be able to *create* the link pseudonym -> identity (it is read at
collection time) without being able to *read* it afterwards, and only the key holder may read
it, and only for a panel. So identities are encrypted to the key holder's public recipient as
they are first seen, in append-only segment files; opening needs the key holder's identity file.

A segment is ``seg-<name>.age`` (JSON lines, encrypted) beside ``seg-<name>.ids`` (the plain list
of pseudonyms it holds, so a writer knows what is sealed already without decrypting). Segments
are written atomically (temp file + rename); a duplicate seal across segments is harmless:
readers keep the first identity seen for a pseudonym.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterable
from pathlib import Path

import pyrage
from pyrage import x25519

from mailstudy.errors import PrivacyError


class EscrowError(PrivacyError):
    """The escrow cannot be written or opened (no recipient, wrong identity...)."""


def generate_identity(path: Path) -> str:
    """Write a new key holder identity (mode 0600) and return its public recipient."""
    ident = x25519.Identity.generate()
    path = Path(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(f"# public key: {ident.to_public()}\n{ident}\n")
    return str(ident.to_public())


def parse_recipient(text: str) -> x25519.Recipient:
    """Accept a bare ``age1...`` recipient or a file containing one."""
    candidate = text.strip()
    p = Path(candidate)
    if not candidate.startswith("age1") and p.exists():
        candidate = next((w for line in p.read_text().splitlines()
                          for w in line.replace(":", " ").split() if w.startswith("age1")), "")
    try:
        return x25519.Recipient.from_str(candidate)
    except Exception as exc:  # pyrage raises its own error types
        raise EscrowError("not an age public key (expected 'age1...')") from exc


def load_identity(path: Path) -> x25519.Identity:
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as exc:
        raise EscrowError(f"cannot read the identity file ({exc.strerror})") from exc
    for line in lines:
        if line.startswith("AGE-SECRET-KEY-"):
            return x25519.Identity.from_str(line.strip())
    raise EscrowError("the identity file holds no AGE-SECRET-KEY line")


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class EscrowWriter:
    """Collects identities for new pseudonyms and seals them in segments.

    ``add`` is cheap; ``flush`` seals what was added since the last flush. Callers flush
    *before* committing the data rows that use the pseudonyms, so no row points at an unsealed
    identity.
    """

    def __init__(self, directory: Path, recipient: x25519.Recipient | str | None) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        if isinstance(recipient, str):
            recipient = parse_recipient(recipient)
        self.recipient = recipient
        self.known: set[str] = set()
        self.named: set[str] = set()  # sealed with a display name
        for ids in self.dir.glob("seg-*.ids"):
            for line in ids.read_text().splitlines():
                p, _, flag = line.partition(" ")
                self.known.add(p)
                if flag == "name":
                    self.named.add(p)
        self.pending: dict[str, dict[str, str]] = {}

    def wants(self, pseudonym: str, has_name: bool) -> bool:
        """Whether sealing this identity would add anything (a new person, or a name)."""
        if has_name:
            return pseudonym not in self.named and "name" not in self.pending.get(pseudonym, {})
        return pseudonym not in self.known and pseudonym not in self.pending

    def add(self, pseudonym: str, kind: str, identity: dict[str, str]) -> None:
        if not self.wants(pseudonym, "name" in identity):
            return
        rec = self.pending.setdefault(pseudonym, {"pseudonym": pseudonym, "kind": kind})
        for k, v in identity.items():
            rec.setdefault(k, v)

    def flush(self) -> int:
        if not self.pending:
            return 0
        if self.recipient is None:
            raise EscrowError("no key holder public key in the study: run "
                              "'mailstudy init --keyholder' or set secrets/keyholder.pub")
        payload = "\n".join(json.dumps(v) for v in self.pending.values())  # ASCII-safe
        sealed = pyrage.encrypt(payload.encode(), [self.recipient])
        name = f"seg-{secrets.token_hex(8)}"
        _atomic_write(self.dir / f"{name}.age", sealed)
        _atomic_write(self.dir / f"{name}.ids", "\n".join(
            p + (" name" if "name" in r else "") for p, r in self.pending.items()).encode())
        n = len(self.pending)
        self.known.update(self.pending)
        self.named.update(p for p, r in self.pending.items() if "name" in r)
        self.pending.clear()
        return n


def open_escrow(directory: Path, identity: x25519.Identity,
                wanted: Iterable[str] | None = None) -> dict[str, dict[str, str]]:
    """Decrypt the segments and return pseudonym -> identity, only for ``wanted`` if given."""
    want = set(wanted) if wanted is not None else None
    out: dict[str, dict[str, str]] = {}
    for seg in sorted(Path(directory).glob("seg-*.age")):
        try:
            text = pyrage.decrypt(seg.read_bytes(), [identity]).decode()
        except Exception as exc:
            raise EscrowError("this identity cannot open the escrow (wrong key holder?)") from exc
        for line in text.splitlines():
            rec = json.loads(line)
            p = rec["pseudonym"]
            if (want is None or p in want) and p not in out:
                out[p] = rec
            elif p in out:
                # keep the first identity, but fill a display name seen only later
                for k, v in rec.items():
                    out[p].setdefault(k, v)
    return out
