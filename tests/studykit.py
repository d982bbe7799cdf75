"""Test helpers: a real study workspace with a real key holder, and raw messages."""

from __future__ import annotations

import os
import subprocess
import sys
from email.header import Header
from pathlib import Path

from anonymise.escrow import generate_identity
from mailstudy.study import Study, init_study

DOMAIN = "region.test"
REPO = Path(__file__).resolve().parents[1]


def make_study(tmp: Path, domains: tuple[str, ...] = (DOMAIN,),
               partners: tuple[str, ...] = ("partenaire.test",)) -> tuple[Study, Path]:
    """A study in ``tmp/study`` and the key holder's identity file in ``tmp/keyholder.txt``."""
    tmp.mkdir(parents=True, exist_ok=True)
    ident = tmp / "keyholder.txt"
    recipient = generate_identity(ident)
    study = init_study(tmp / "study", list(domains), keyholder=recipient,
                       partner_domains=list(partners))
    return study, ident


def keyed_studies(tmp: Path, n: int = 2) -> list[Study]:
    """``n`` studies sharing one pseudonymisation key, so their pseudonyms are equal (one run
    compared with another, or one source read two ways)."""
    first, _ = make_study(tmp / "s0")
    out = [first]
    for i in range(1, n):
        s, _ = make_study(tmp / f"s{i}")
        s.key_path.write_bytes(first.key_path.read_bytes())
        out.append(s)
    return out


def message(*, sender: str = "Marie Curie <marie.curie@region.test>",
            to: str = "Jean Dupont <jean.dupont@region.test>", cc: str | None = None,
            subject: str = "Point budget", date: str | None = "Mon, 07 Sep 2026 10:00:00 +0200",
            message_id: str | None = "<m1@region.test>", in_reply_to: str | None = None,
            extra: str = "", body: str = "Bonjour,\nvoici le point.\n",
            attachment: bytes | None = None, attachment_name: str = "rapport.pdf",
            attachment_type: str = "application/pdf", nl: str = "\n") -> bytes:
    """One RFC 5322 message; a non-ASCII subject is written as an encoded word."""
    h = [f"From: {sender}", f"To: {to}"]
    if cc:
        h.append(f"Cc: {cc}")
    try:
        subject.encode("ascii")
        h.append(f"Subject: {subject}")
    except UnicodeEncodeError:
        h.append(f"Subject: {Header(subject, 'utf-8').encode()}")
    if date is not None:
        h.append(f"Date: {date}")
    if message_id is not None:
        h.append(f"Message-ID: {message_id}")
    if in_reply_to:
        h.append(f"In-Reply-To: {in_reply_to}")
    if extra:
        h.extend(extra.strip("\n").split("\n"))
    h.append("MIME-Version: 1.0")
    if attachment is None:
        h.append("Content-Type: text/plain; charset=utf-8")
        text = nl.join(h) + nl + nl + body.replace("\n", nl)
        return text.encode("utf-8")
    import base64

    b64 = base64.encodebytes(attachment).decode().replace("\n", nl)
    h.append('Content-Type: multipart/mixed; boundary="=_b1"')
    parts = [nl.join(h), "", "This is a MIME message.", "--=_b1",
             "Content-Type: text/plain; charset=utf-8", "", body.rstrip("\n"), "--=_b1",
             f'Content-Type: {attachment_type}; name="{attachment_name}"',
             f'Content-Disposition: attachment; filename="{attachment_name}"',
             "Content-Transfer-Encoding: base64", "", b64.rstrip(nl), "--=_b1--", ""]
    return nl.join(parts).encode("utf-8")


def write_maildir(root: Path, folders: dict[str, list[tuple[bytes, str]]]) -> Path:
    """``folders``: Maildir++ folder name ("" = inbox, ".Sent" ...) -> [(raw, flags)]."""
    for name, msgs in folders.items():
        d = root / name if name else root
        for sub in ("cur", "new", "tmp"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        for i, (raw, flags) in enumerate(msgs):
            fn = f"{1788000000 + i}.M{i}P1.host:2,{flags}"
            (d / "cur" / fn).write_bytes(raw)
    return root


def write_mbox(path: Path, raws: list[bytes], rd: bool = False) -> Path:
    """An mbox file: mboxo escapes ``From `` lines, mboxrd also ``>From ``."""
    out = bytearray()
    for raw in raws:
        out += b"From MAILER-DAEMON Mon Sep  7 08:00:00 2026\n"
        for line in raw.splitlines(keepends=True):
            if (rd and line.lstrip(b">").startswith(b"From ")) or line.startswith(b"From "):
                line = b">" + line
            out += line
        if not raw.endswith(b"\n"):
            out += b"\n"
        out += b"\n"
    path.write_bytes(bytes(out))
    return path


def run_cli(*args: str, study: Path | None = None, env: dict[str, str] | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run the real ``mailstudy`` command in a subprocess."""
    e = dict(os.environ)
    e["LC_ALL"] = "C.UTF-8"  # English messages unless a test asks for another locale
    e.update(env or {})
    cmd = [sys.executable, "-m", "mailstudy", *args]
    if study is not None:
        cmd += ["--study", str(study)]
    return subprocess.run(cmd, capture_output=True, text=True, env=e, timeout=timeout,
                          cwd=str(REPO))
