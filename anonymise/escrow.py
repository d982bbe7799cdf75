"""Sealed escrow of identities, in the age format (pyrage, X25519).

Why: the operator must be able to *create* the link pseudonym -> identity (it is read at
collection time) without being able to *read* it afterwards, and only the key holder may read
it, and only for a panel. So identities are encrypted to the key holder's public recipient as
they are first seen, in append-only segment files; opening needs the key holder's identity file.

A segment is ``seg-<name>.age`` (JSON lines, encrypted) beside ``seg-<name>.ids`` (the plain list
of pseudonyms it holds, so a writer knows what is sealed already without decrypting). Segments
are written atomically (temp file + rename).

Which name wins: an identity sealed with ``authoritative=True`` (the HR directory's) beats any
other, whatever the order of segments; among the others (display names seen in mail, which
anyone who sends a mail can choose), the smallest name in code-point order wins, so that the
result never depends on the order in which segments were written or read.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
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
    """The key holder's identity, refused when group or others can read the file (as ssh
    refuses a private key): an identity another account could copy opens every name."""
    path = Path(path)
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        raw = path.read_bytes()
    except OSError as exc:
        raise EscrowError("cannot read the identity file ({strerror})",
                          strerror=exc.strerror) from exc
    if mode & 0o077:
        raise EscrowError("the identity file is readable by group or others (mode "
                          "{mode:04o}); run 'chmod 600' on it and try again", mode=mode)
    try:
        lines = raw.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        lines = []
    for line in lines:
        if line.strip().startswith("AGE-SECRET-KEY-"):
            try:
                return x25519.Identity.from_str(line.strip())
            except Exception:  # pyrage raises its own error types
                break
    raise EscrowError("this file is not an age identity (no valid AGE-SECRET-KEY line): give "
                      "the file made by 'mailstudy keyholder-keygen'")


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
        self.authoritative: set[str] = set()  # sealed with the directory's name
        for ids in self.dir.glob("seg-*.ids"):
            for line in ids.read_text().splitlines():
                p, _, flag = line.partition(" ")
                self.known.add(p)
                if flag in ("name", "authoritative"):
                    self.named.add(p)
                if flag == "authoritative":
                    self.authoritative.add(p)
        self.pending: dict[str, dict[str, str]] = {}

    def wants(self, pseudonym: str, has_name: bool, authoritative: bool = False) -> bool:
        """Whether sealing this identity would add anything (a new person, or a name; the
        directory's name is added even over a name seen in mail)."""
        pending = self.pending.get(pseudonym, {})
        if authoritative:
            return pseudonym not in self.authoritative and not pending.get("authoritative")
        if has_name:
            return pseudonym not in self.named and "name" not in pending
        return pseudonym not in self.known and pseudonym not in self.pending

    def add(self, pseudonym: str, kind: str, identity: dict[str, str], *,
            authoritative: bool = False) -> None:
        """Queue an identity for sealing; ``authoritative`` marks the HR directory's."""
        if not self.wants(pseudonym, "name" in identity, authoritative):
            return
        rec = self.pending.setdefault(pseudonym, {"pseudonym": pseudonym, "kind": kind})
        if authoritative:
            rec.update(identity)
            rec["authoritative"] = True  # type: ignore[assignment]
            return
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
            p + _flag(r) for p, r in self.pending.items()).encode())
        n = len(self.pending)
        self.known.update(self.pending)
        self.named.update(p for p, r in self.pending.items() if "name" in r)
        self.authoritative.update(p for p, r in self.pending.items() if r.get("authoritative"))
        self.pending.clear()
        return n


def _flag(rec: dict[str, str]) -> str:
    if rec.get("authoritative"):
        return " authoritative"
    return " name" if "name" in rec else ""


def _better(new: dict[str, str], old: dict[str, str]) -> bool:
    """Whether ``new`` should replace ``old`` as a pseudonym's identity (see module doc)."""
    if bool(new.get("authoritative")) != bool(old.get("authoritative")):
        return bool(new.get("authoritative"))
    if new.get("authoritative"):
        return False  # two directory imports: the first sealed stays (same person)
    new_name, old_name = new.get("name") or "", old.get("name") or ""
    if bool(new_name) != bool(old_name):
        return bool(new_name)
    return bool(new_name) and new_name < old_name


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
            if want is not None and p not in want:
                continue
            old = out.get(p)
            if old is None or _better(rec, old):
                # an empty name does not erase one seen before
                out[p] = {**(old or {}), **{k: v for k, v in rec.items() if k != "name" or v}}
            else:
                for k, v in rec.items():
                    old.setdefault(k, v)
    for rec in out.values():
        rec.pop("authoritative", None)
    return out
