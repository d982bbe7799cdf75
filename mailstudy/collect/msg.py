"""Outlook .msg files (MS-OXMSG) to the same :class:`ParsedMessage` the .eml walker gives.

An .msg is not RFC 5322 text but an OLE compound file of MAPI properties, read here with
``extract_msg``. What reaches :class:`mailstudy.collect.rows.RowBuilder` is the same pair
as for an .eml: a header block parsed by ``headers.parse_header_block`` and a MIME-like
outline, so both routes give the same row for the same message.

* Header block. A received message keeps its Internet headers verbatim in
  PR_TRANSPORT_MESSAGE_HEADERS: those are parsed and win; MAPI properties only fill the
  fields they lack, Bcc excepted (defect ``msg_headers_completed``). A message without them
  (typically a sent item or a draft) gets a block written from MAPI the way a mail client
  would (RFC 2047 for non-ASCII text, line breaks inside values unfolded, so no value can
  forge a header):
  From (PR_SENT_REPRESENTING_*, else PR_SENDER_*), To/Cc/Bcc from the recipient table and
  its types (MAPI_P1 resend rows skipped), Date from PR_CLIENT_SUBMIT_TIME (else
  PR_MESSAGE_DELIVERY_TIME; null and year-1601 FILETIMEs count as absent), Subject,
  Message-ID, In-Reply-To, References, Importance (PR_IMPORTANCE), and the few Internet
  headers Outlook keeps as named properties of PS_INTERNET_HEADERS (X-Mailer, List-Id, ...).
* Outline. Approximations, documented: the text part is PR_BODY sized as UTF-8 with CRLF line
  ends (an .eml counts its transfer-encoded octets, so quoted-printable or base64 bodies are
  larger there); without PR_BODY, PR_HTML is counted as text/html; RTF-only bodies count 0.
  Each attachment is one part: content type from PR_ATTACH_MIME_TAG (embedded messages
  message/rfc822, else application/octet-stream), disposition "attachment", or "inline" when
  Outlook hides it (PR_ATTACHMENT_HIDDEN: pictures of an HTML body, which an .eml marks
  inline), extension from the long (else short) file name, size PR_ATTACH_SIZE.
* ``size`` is the file's size on disk. MAPI storage has no RFC 822 size: an .msg is usually
  larger than the .eml of the same message (UTF-16 strings, 512-byte sectors, RTF body).
* ``header_digest`` hashes the transport header block, else the synthesised one, so the same
  message exported twice under other file names is recognised. :class:`MsgMessage` adds the
  read and unsent flags (PR_MESSAGE_FLAGS) for the caller's ``Context``.
* A file whose streams run past its end (a cut copy) is refused before extract_msg sees it:
  the attachment data, never read here, would otherwise hide the cut.

Names, addresses and subjects stay in the returned header block for the row builder, which
pseudonymises them; nothing here logs or raises with them. Errors are :class:`MsgError` with
a fixed reason (never a path or a name), so the caller can count a skip.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import logging
import struct
from dataclasses import dataclass
from email.header import Header
from pathlib import Path
from typing import Any, BinaryIO

from extract_msg.enums import ErrorBehavior
from extract_msg.exceptions import InvalidFileFormatError
from extract_msg.msg_classes import Message as MapiMessage
from extract_msg.msg_classes import MessageSigned
from extract_msg.null_date import NullDate

from mailstudy.collect.headers import EPOCH_MIN, HeaderBlock, parse_header_block
from mailstudy.collect.mime import ParsedMessage
from mailstudy.collect.parts import MimeOutline, Part, extension_of
from mailstudy.errors import CollectError

# extract_msg and olefile log internal stream paths and, at INFO/WARNING, details of the
# content; only let through what would be a crash.
for _name in ("extract_msg", "olefile", "RTFDE"):
    logging.getLogger(_name).setLevel(logging.CRITICAL)

PS_INTERNET_HEADERS = "{00020386-0000-0000-C000-000000000046}"
#: Internet headers the row builder reads, as Outlook may keep them in PS_INTERNET_HEADERS.
NAMED_HEADERS = ("X-Mailer", "User-Agent", "List-Id", "Precedence", "Auto-Submitted",
                 "X-Priority")
#: Message classes read as mail; contacts, tasks, notes and appointments are skipped.
MAIL_CLASSES = ("ipm.note", "ipm.schedule.meeting", "ipm.taskrequest", "report.")
MSGFLAG_READ, MSGFLAG_UNSENT = 0x01, 0x08
_CFB_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_MAXREGSECT, _ENDOFCHAIN = 0xFFFFFFFA, 0xFFFFFFFE
MAPI_P1 = 0x10000000  # a recipient row used only for resending: not a recipient
_TOLERANT = (ErrorBehavior.ATTACH_SUPPRESS_ALL | ErrorBehavior.STANDARDS_VIOLATION
             | ErrorBehavior.NAMED_NAME_STREAM)
_HEADERS_PREFIX = "Microsoft Mail Internet Headers Version 2.0"
#: Fields MAPI fills when the transport headers lack them.
_COMPLETED = ("From", "To", "Cc", "Date", "Subject", "Message-ID", "In-Reply-To", "References")


class MsgError(CollectError):
    """An .msg that cannot be read as a mail message. ``reason`` names no file or person."""

    def __init__(self, msgid: str, **values: Any) -> None:
        super().__init__(msgid, **values)
        self.reason = str(self)


@dataclass
class MsgMessage(ParsedMessage):
    """A :class:`ParsedMessage` plus the MAPI flags an .msg carries (for ``Context``)."""

    seen: bool | None = None  # MSGFLAG_READ, None when PR_MESSAGE_FLAGS is absent
    draft: bool = False  # MSGFLAG_UNSENT: never sent


def read_msg(path: Path) -> MsgMessage:
    """Read one .msg file; raise :class:`MsgError` when it is corrupt or not a mail item."""
    try:
        size = Path(path).stat().st_size
    except OSError:
        raise MsgError("file unreadable") from None
    _check_complete(Path(path), size)
    # Opened as a Message directly: openMsg would parse the file twice (once to find the
    # class). Only S/MIME signed mail needs its own class, to see its MIME attachments.
    msg = _open(path, MapiMessage)
    try:
        cls = (msg.classType or "").lower()
        if not cls:
            raise MsgError("not an Outlook message file")
        if not cls.startswith(MAIL_CLASSES):
            raise MsgError("not a mail item")
        if cls.endswith(("smime.multipartsigned", "smime")):
            msg.close()
            msg = _open(path, MessageSigned)
        return _parse(msg, size)
    except MsgError:
        raise
    except Exception as e:
        raise MsgError("corrupt .msg ({kind})", kind=type(e).__name__) from None
    finally:
        try:
            msg.close()
        except Exception:  # closing a broken file must not hide the real outcome
            pass


def _open(path: Path, cls: type[Any]) -> Any:
    try:
        return cls(str(path), delayAttachments=False, errorBehavior=_TOLERANT)
    except InvalidFileFormatError:
        raise MsgError("not an Outlook message file") from None
    except OSError:
        raise MsgError("not an OLE compound file, or truncated") from None
    except Exception as e:  # extract_msg raises many types on corrupt files
        raise MsgError("corrupt .msg ({kind})", kind=type(e).__name__) from None


def _check_complete(path: Path, size: int) -> None:
    """Raise when a stream's sectors lie past the end of the file (a cut copy).

    olefile reads streams lazily and this module never reads attachment data, so a file cut
    inside an attachment would otherwise pass. The directory's regular streams and the mini
    stream are followed through the FAT (not the FAT's unused slots, which some writers leave
    dirty). A last sector only partly present is accepted, as olefile does.
    """
    try:
        with path.open("rb") as f:
            _Compound(f, size).check_streams()
    except OSError:
        raise MsgError("file unreadable") from None


class _Compound:
    """The sectors of an OLE compound file (MS-CFB), read only as far as checking needs."""

    def __init__(self, f: BinaryIO, size: int) -> None:
        head = f.read(512)
        if len(head) < 512 or head[:8] != _CFB_SIGNATURE:
            raise MsgError("not an OLE compound file, or truncated")
        shift, = struct.unpack_from("<H", head, 30)
        if shift not in (9, 12):
            raise MsgError("corrupt .msg (sector size)")
        self.f, self.sector = f, 1 << shift
        self.n_sect = (size + self.sector - 1) // self.sector - 1  # the header excluded
        n_fat, self.first_dir = struct.unpack_from("<II", head, 44)
        self.cutoff, = struct.unpack_from("<I", head, 56)
        self.fat = self._read_fat(head, n_fat)

    def read_sector(self, s: int) -> bytes:
        if s >= self.n_sect:
            raise MsgError("truncated .msg")
        self.f.seek(self.sector * (s + 1))
        return self.f.read(self.sector)

    def _words(self, s: int) -> tuple[int, ...]:
        return struct.unpack(f"<{self.sector // 4}I", self.read_sector(s).ljust(self.sector))

    def _read_fat(self, head: bytes, n_fat: int) -> list[int]:
        """The FAT, its sectors listed in the header then in the DIFAT chain."""
        difat_next, n_difat = struct.unpack_from("<II", head, 68)
        fat_sectors = list(struct.unpack_from("<109I", head, 76))
        for _ in range(min(n_difat, self.n_sect)):
            if difat_next >= _MAXREGSECT:
                break
            vals = self._words(difat_next)
            fat_sectors.extend(vals[:-1])
            difat_next = vals[-1]
        fat: list[int] = []
        for s in fat_sectors[:n_fat]:
            fat.extend(self._words(s))
        return fat

    def chain(self, start: int, count: int | None) -> list[int]:
        """The sectors of a stream, refused when it runs past the file's end or loops."""
        out: list[int] = []
        s, fat = start, self.fat
        while (count is None or len(out) < count) and s < _MAXREGSECT:
            if s >= self.n_sect or len(out) > len(fat):  # past the end, or a loop
                raise MsgError("truncated .msg")
            out.append(s)
            s = fat[s] if s < len(fat) else _ENDOFCHAIN
        if count is not None and len(out) < count:
            raise MsgError("corrupt .msg (short stream)")
        return out

    def check_streams(self) -> None:
        """Follow every regular stream (and the mini stream) of the directory."""
        sector = self.sector
        for d in self.chain(self.first_dir, None):
            block = self.read_sector(d)
            for off in range(0, len(block) - 127, 128):
                etype = block[off + 66]
                start, length = struct.unpack_from("<IQ", block, off + 116)
                if sector == 512:
                    length &= 0xFFFFFFFF  # version 3: the high half may be garbage
                if etype == 5 or (etype == 2 and length >= self.cutoff):
                    self.chain(start, -(-length // sector))


def _parse(msg: Any, size: int) -> MsgMessage:
    defects: list[str] = []
    headers, block = _headers(msg, defects)
    outline = MimeOutline(parts=_body_parts(msg) + _attachment_parts(msg, defects),
                          defects=defects)
    flags = msg.getPropertyVal("0E070003")
    seen = None if flags is None else bool(flags & MSGFLAG_READ)
    draft = bool(flags & MSGFLAG_UNSENT) if flags is not None else False
    return MsgMessage(headers, outline, size, hashlib.sha256(block).hexdigest(), seen=seen,
                      draft=draft)


# ---------------------------------------------------------------------------------------------
# headers

def _headers(msg: Any, defects: list[str]) -> tuple[HeaderBlock, bytes]:
    """The header block, and the bytes that identify it (for ``header_digest``).

    MAPI values are written out as header lines (RFC 2047 for non-ASCII text, as a mail client
    would) and go through ``parse_header_block`` like any .eml header block.
    """
    text = msg.getStringStream("__substg1.0_007D")
    if text and text.strip():
        text = text.lstrip("\ufeff")
        if text.startswith(_HEADERS_PREFIX):
            text = text[len(_HEADERS_PREFIX):].lstrip()
        # a blank line would end the block before any completed field
        raw = text.strip("\r\n").encode("utf-8", "surrogatepass") + b"\r\n"
        h = parse_header_block(raw)
        missing = {n.lower() for n in _COMPLETED if h.get(n) is None}
        if not missing:
            return h, raw
        scratch: list[str] = []  # defects of MAPI fields count only if a field is used
        extra = [(n, v) for n, v in _synthesise(msg, scratch) if n.lower() in missing]
        if not extra:
            return h, raw
        defects.append("msg_headers_completed")
        defects.extend(scratch)
        return parse_header_block(raw + _block(extra)), raw
    block = _block(_synthesise(msg, defects))
    return parse_header_block(block), b"mapi\x00" + block


def _block(lines: list[tuple[str, str]]) -> bytes:
    return "".join(f"{n}: {v}\r\n" for n, v in lines).encode("utf-8", "surrogatepass")


def _oneline(s: str) -> str:
    """No CR/LF inside a value (it would end the header line); a folded header unfolds so."""
    return " ".join(s.replace("\r\n", "\n").replace("\r", "\n").split("\n"))


def _encoded(s: str) -> str:
    """Text as a mail client writes it: as is when ASCII, else one RFC 2047 encoded word."""
    s = _oneline(s)
    try:
        s.encode("ascii")
        return s
    except UnicodeEncodeError:
        return Header(s, "utf-8").encode(maxlinelen=0)


def _text(obj: Any, stream: str) -> str | None:
    v = obj.getStringStream(stream)
    if v is None:
        return None
    v = v.rstrip("\x00").strip()
    return v or None


def _smtp(*candidates: str | None) -> str | None:
    """First candidate that looks like an SMTP address (not an Exchange DN)."""
    for c in candidates:
        if c and "@" in c and not c.startswith("/"):
            return _oneline(c).strip()
    return None


def _addr(name: str | None, address: str | None, defects: list[str]) -> str:
    if not address:
        defects.append("msg_no_smtp_address")
    return email.utils.formataddr((_oneline(name or ""), address or ""))


def _synthesise(msg: Any, defects: list[str]) -> list[tuple[str, str]]:
    """Header lines from MAPI properties, in the order a client writes them."""
    h: list[tuple[str, str]] = []
    # From is who the message is sent as (PR_SENT_REPRESENTING_*); PR_SENDER_* is the delegate
    name = _text(msg, "__substg1.0_0042") or _text(msg, "__substg1.0_0C1A")
    address = _smtp(_text(msg, "__substg1.0_5D02"), _text(msg, "__substg1.0_0065"),
                    _text(msg, "__substg1.0_5D01"), _text(msg, "__substg1.0_0C1F"))
    if name or address:
        h.append(("From", _addr(name, address, defects)))

    by_type: dict[int, list[str]] = {1: [], 2: [], 3: []}
    for r in msg.recipients:
        flags = r.typeFlags or 0
        rtype = flags & 0x0F
        if flags & MAPI_P1 or rtype not in by_type:
            continue
        address = _smtp(_text(r, "__substg1.0_39FE"), _text(r, "__substg1.0_3003"))
        by_type[rtype].append(_addr(_text(r, "__substg1.0_3001"), address, defects))
    for rtype, header in ((1, "To"), (2, "Cc"), (3, "Bcc")):
        if by_type[rtype]:
            h.append((header, ", ".join(by_type[rtype])))

    date = _date(msg.getPropertyVal("00390040")) or _date(msg.getPropertyVal("0E060040"))
    if date is not None:
        h.append(("Date", email.utils.format_datetime(date)))
    subject = msg.getStringStream("__substg1.0_0037")
    if subject is not None:
        h.append(("Subject", _encoded(subject.rstrip("\x00"))))
    for header, stream in (("Message-ID", "__substg1.0_1035"), ("In-Reply-To", "__substg1.0_1042"),
                           ("References", "__substg1.0_1039")):
        v = _text(msg, stream)
        if v:
            h.append((header, _oneline(v)))
    imp = msg.getPropertyVal("00170003")
    if imp in (0, 2):
        h.append(("Importance", "low" if imp == 0 else "high"))
    try:
        named = msg.namedProperties
        for header in NAMED_HEADERS:
            v = named.get((header, PS_INTERNET_HEADERS))
            if isinstance(v, bytes):
                v = v.decode("utf-8", "replace")
            if isinstance(v, str) and v.strip("\x00").strip():
                h.append((header, _encoded(v.strip("\x00").strip())))
    except Exception:  # a broken named-property map costs these headers, not the message
        defects.append("msg_bad_named_properties")
    return h


def _date(v: Any) -> dt.datetime | None:
    """A usable FILETIME: not absent, not a null stand-in (year 4500), not 0 (year 1601)."""
    if not isinstance(v, dt.datetime) or isinstance(v, NullDate):
        return None
    if v.tzinfo is None:
        v = v.replace(tzinfo=dt.UTC)
    try:
        v = v.astimezone(dt.UTC)
    except (OverflowError, ValueError):
        return None
    return v if v >= EPOCH_MIN else None


# ---------------------------------------------------------------------------------------------
# outline

def _body_parts(msg: Any) -> list[Part]:
    body = msg.getStringStream("__substg1.0_1000")
    if body is not None:
        raw = body.rstrip("\x00").encode("utf-8", "surrogatepass")
        crlf = len(raw) + raw.count(b"\n") - raw.count(b"\r\n")
        return [Part("text/plain", "", False, "", crlf)]
    html = msg.getStream("__substg1.0_10130102")
    if html is None:
        s = msg.getStringStream("__substg1.0_1013")
        html = s.encode("utf-8", "surrogatepass") if s is not None else None
    if html is not None:
        return [Part("text/html", "", False, "", len(html.rstrip(b"\x00")))]
    return []


def _attachment_parts(msg: Any, defects: list[str]) -> list[Part]:
    parts = []
    for att in msg.attachments:
        kind = getattr(getattr(att, "type", None), "name", "")
        if kind == "BROKEN":
            defects.append("msg_broken_attachment")
        get = getattr(att, "getStringStream", None)
        filename = None
        mime = None
        if get is not None:
            filename = get("__substg1.0_3707") or get("__substg1.0_3704")
            mime = get("__substg1.0_370E")
        else:  # attachments of an S/MIME signed message are MIME parts already
            filename = getattr(att, "name", None)
            mime = getattr(att, "mimetype", None)
        filename = filename.rstrip("\x00") if filename else None
        mime = (mime or "").rstrip("\x00").strip().lower()
        if "/" not in mime:
            mime = "message/rfc822" if kind in ("MSG", "SIGNED_EMBEDDED") else \
                "application/octet-stream"
        hidden = bool(getattr(att, "hidden", False))
        ext = extension_of(filename)
        if not ext and get is not None:
            ext = extension_of("x" + (get("__substg1.0_3703") or "").rstrip("\x00"))
        size = 0
        getval = getattr(att, "getPropertyVal", None)
        if getval is not None:
            size = getval("0E200003") or 0
        parts.append(Part(mime, "inline" if hidden else "attachment", bool(filename), ext,
                          int(size)))
    return parts
