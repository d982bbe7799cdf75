"""Header blocks and the values read from them, shared by every collector (files and IMAP).

The header block is parsed here rather than with the stdlib's ``compat32`` policy (the modern
policy is ~6x slower and raises on ``Message-ID: <>``, see notes/imap-and-parsing.md); raw
values are decoded (RFC 2047, RFC 6532) and turned into what a row needs: subject features,
message ids, the date, the client family, importance and bulk markers. The rest of a row lives
beside this module: :mod:`~mailstudy.collect.parts` (MIME outline, attachments),
:mod:`~mailstudy.collect.addresses` (addresses -> pseudonyms), :mod:`~mailstudy.collect.rows`
(the row itself) and :mod:`~mailstudy.collect.folders` (folder names and roles).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import re
import unicodedata
from email.header import decode_header
from email.message import Message
from typing import Any

EPOCH_MIN = dt.datetime(1990, 1, 1, tzinfo=dt.UTC)


_LINE_SPLIT = re.compile(r"\r\n|\r|\n")


class HeaderBlock:
    """A parsed header block: ``get`` and ``get_all`` like :class:`email.message.Message`.

    Why not the stdlib parser: building a ``Message`` costs more than everything else we do
    with a message. This keeps raw values (bytes decoded as ASCII with surrogate escapes, as
    ``compat32`` does), unfolded per RFC 5322, and counts malformed lines as defects.
    """

    __slots__ = ("_h", "defects")

    def __init__(self, raw: bytes) -> None:
        h: dict[str, list[list[str]]] = {}
        defects: list[str] = []
        # the value being unfolded, as its lines: joined once at the end, so that a header
        # of many thousand continuation lines costs linear time, not quadratic
        cur: list[str] | None = None
        for line in _LINE_SPLIT.split(raw.decode("ascii", "surrogateescape")):
            if not line:
                continue
            if line[0] in " \t":
                if cur is not None:
                    cur.append(line)
                else:
                    defects.append("malformed_header_line")
                continue
            name, sep, value = line.partition(":")
            name = name.rstrip()
            if not sep or not name or " " in name or line.startswith("From "):
                defects.append("malformed_header_line")
                cur = None
                continue
            cur = [value.lstrip(" \t")]
            h.setdefault(name.lower(), []).append(cur)
        self._h = {k: ["".join(v) for v in vals] for k, vals in h.items()}
        self.defects = defects

    def get(self, name: str, default: Any = None) -> Any:
        vals = self._h.get(name.lower())
        return vals[0] if vals else default

    def get_all(self, name: str, default: Any = None) -> Any:
        vals = self._h.get(name.lower())
        return list(vals) if vals else default

    def keys(self) -> list[str]:
        return list(self._h)


_VOLATILE = re.compile(
    rb"^(status|x-status|x-mozilla-status2?|x-mozilla-keys|x-uid|x-keywords|x-imap|"
    rb"x-imapbase|content-length|lines)\s*:.*(\n[ \t].*)*\n?", re.I | re.M)


LIBPST_BOUNDARY = re.compile(rb"boundary-LibPST-iamunique-\d+_-_-")


def header_identity(header_bytes: bytes) -> str:
    """SHA-256 of a header block without the fields mail programs rewrite in place (read
    flags, mbox bookkeeping) and with LF line ends: what identifies a message in a file, so
    that marking it read or re-exporting it does not make it new."""
    text = header_bytes.replace(b"\r\n", b"\n")
    # readpst draws a new random MIME boundary at every conversion of a PST
    text = LIBPST_BOUNDARY.sub(b"boundary-LibPST", text)
    if not text.endswith(b"\n"):
        text += b"\n"
    return hashlib.sha256(_VOLATILE.sub(b"", text)).hexdigest()


def parse_header_block(header_bytes: bytes) -> HeaderBlock:
    return HeaderBlock(header_bytes)


def utf8(text: str) -> str:
    """Raw 8-bit header bytes (kept as surrogate escapes) read as UTF-8 (RFC 6532), the rest
    as U+FFFD, so that no lone surrogate reaches a file."""
    if text.isascii() or not any("\udc80" <= c <= "\udcff" for c in text):
        return text
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def decode_text(value: Any, defects: list[str] | None = None) -> str:
    """Decode RFC 2047 encoded words in any charset; undecodable bytes become U+FFFD."""
    if value is None:
        return ""
    raw = utf8(str(value))
    try:
        chunks = decode_header(raw)
    except Exception:  # malformed encoded words
        if defects is not None:
            defects.append("bad_encoded_word")
        return raw
    out = []
    for text, charset in chunks:
        if isinstance(text, bytes):
            try:
                out.append(text.decode(charset or "ascii", errors="strict"))
            except (LookupError, UnicodeDecodeError):
                if defects is not None:
                    defects.append("undecodable_header")
                out.append(text.decode(charset if _known_charset(charset) else "latin-1",
                                       errors="replace"))
        else:
            out.append(text)
    return "".join(out)


def _known_charset(charset: str | None) -> bool:
    import codecs

    if not charset:
        return False
    try:
        codecs.lookup(charset)
        return True
    except LookupError:
        return False


_PREFIX_RE = re.compile(
    r"^\s*(re|aw|sv|tr|fw|fwd|wg|rép|rep|réf|ref)\s*(\[\d+\]|\(\d+\))?\s*:\s*", re.IGNORECASE)
REPLY_PREFIXES = {"re", "aw", "sv", "rép", "rep", "réf", "ref"}
FORWARD_PREFIXES = {"tr", "fw", "fwd", "wg"}


def subject_features(subject: str) -> tuple[int, int, str]:
    """(length without prefixes, number of prefixes, first prefix lower-cased or "")."""
    n = 0
    first = ""
    s = subject
    while True:
        m = _PREFIX_RE.match(s)
        if not m:
            break
        if not first:
            first = m.group(1).lower()
        n += 1
        s = s[m.end():]
    return len(s.strip()), n, first


_MSGID_RE = re.compile(r"<([^<>\s]+)>")


def message_ids(value: str | None) -> list[str]:
    """Message-IDs in a header (``<a@b>`` forms; a bare token is accepted alone)."""
    if not value:
        return []
    found = _MSGID_RE.findall(value)
    if found:
        return found
    tok = value.strip().strip("<>").strip()
    return [tok] if tok and " " not in tok else []


def _parse_date(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        d = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if d is None:
        return None
    if d.tzinfo is None:
        d = d.replace(tzinfo=dt.UTC)
    try:
        return d.astimezone(dt.UTC)
    except (OverflowError, ValueError):
        return None


def _sane(d: dt.datetime | None, now: dt.datetime) -> bool:
    return d is not None and EPOCH_MIN <= d <= now + dt.timedelta(days=1)


def choose_date(msg: Message, fallback: dt.datetime | None, defects: list[str],
                now: dt.datetime) -> dt.datetime | None:
    """Date header if sane, else the newest Received, else the source's own date."""
    raw = msg.get("Date")
    d = _parse_date(str(raw)) if raw is not None else None
    if _sane(d, now):
        return d
    defects.append("date_missing" if raw is None else
                   ("date_unparsable" if d is None else "date_absurd"))
    for rec in msg.get_all("Received") or []:
        tail = str(rec).rsplit(";", 1)
        if len(tail) == 2:
            r = _parse_date(tail[1])
            if _sane(r, now):
                defects.append("date_from_received")
                return r
    if fallback is not None and _sane(fallback, now):
        defects.append("date_from_source")
        return fallback.astimezone(dt.UTC)
    defects.append("date_unknown")
    return None


def client_family(msg: Message) -> str | None:
    """The mail client family, by the rule table of :mod:`~mailstudy.collect.clients`."""
    from mailstudy.collect.clients import classify_client

    ua = msg.get("X-Mailer") or msg.get("User-Agent")
    return None if ua is None else classify_client(str(ua))


def importance(msg: Message) -> str:
    imp = str(msg.get("Importance", "") or msg.get("Priority", "")).strip().lower()
    if imp in ("high", "urgent", "haute", "élevée"):
        return "high"
    if imp in ("low", "non-urgent", "basse", "faible"):
        return "low"
    xp = str(msg.get("X-Priority", "")).strip()[:1]
    if xp in ("1", "2"):
        return "high"
    if xp in ("4", "5"):
        return "low"
    return "normal"


def is_bulk(msg: Message) -> bool:
    if msg.get("List-Id") is not None:
        return True
    if str(msg.get("Precedence", "")).strip().lower() in ("bulk", "list", "junk"):
        return True
    auto = msg.get("Auto-Submitted")
    return auto is not None and str(auto).strip().lower() not in ("", "no")


def fold(text: str) -> str:
    """Lower case without accents, for matching folder names and patterns."""
    t = unicodedata.normalize("NFKD", text)
    return "".join(c for c in t if not unicodedata.combining(c)).lower().strip()
