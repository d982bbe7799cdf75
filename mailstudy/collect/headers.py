"""From raw header bytes and a MIME outline to one pseudonymised ``messages`` row.

Shared by every collector (files and IMAP) so that the same message gives the same row by
either route. Two inputs only:

* the header block, parsed with the stdlib's ``compat32`` policy (the modern policy is ~6x
  slower and raises on ``Message-ID: <>``, see notes/imap-and-parsing.md);
* a list of :class:`Part` (the leaves of the MIME tree), which the file walker
  (:mod:`mailstudy.collect.mime`) reads from the stream and the IMAP collector from
  BODYSTRUCTURE. Bodies are never needed.

Identities go through :class:`Identities` the moment they are read: what leaves this module is
pseudonyms, markers and counts. The raw values live only in local variables and in the escrow.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import re
import unicodedata
from collections.abc import Container, Iterable
from dataclasses import dataclass, field
from email.header import decode_header
from email.message import Message
from typing import Any
from zoneinfo import ZoneInfo

from anonymise.escrow import EscrowWriter
from anonymise.pseudonym import Pseudonymiser
from mailstudy.schema import MARK_EXTERNAL, MARK_INVALID, MARK_OPTOUT, MARK_PARTNER

EPOCH_MIN = dt.datetime(1990, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Part:
    """One leaf of the MIME tree, described only by what the metadata needs."""

    content_type: str  # lower case "type/subtype"
    disposition: str  # "attachment", "inline" or ""
    has_filename: bool
    extension: str  # lower-case extension of the file name, "" if none (never the name)
    size: int  # encoded octets of the part body, CRLF line endings (as IMAP reports it)


@dataclass
class MimeOutline:
    parts: list[Part] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# MIME outline -> attachment and text figures (the one definition both routes share)

_KIND_BY_TYPE = {
    "application/pdf": "pdf",
    "application/msword": "word",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "word",
    "application/vnd.oasis.opendocument.text": "word",
    "application/rtf": "word",
    "application/vnd.ms-excel": "spreadsheet",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "spreadsheet",
    "application/vnd.oasis.opendocument.spreadsheet": "spreadsheet",
    "text/csv": "spreadsheet",
    "application/vnd.ms-powerpoint": "presentation",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "presentation",
    "application/vnd.oasis.opendocument.presentation": "presentation",
    "application/zip": "archive", "application/x-zip-compressed": "archive",
    "application/x-7z-compressed": "archive", "application/x-rar-compressed": "archive",
    "application/gzip": "archive", "application/x-tar": "archive",
    "text/calendar": "calendar", "application/ics": "calendar",
    "message/rfc822": "message", "application/vnd.ms-outlook": "message",
}
_KIND_BY_EXT = {
    "pdf": "pdf", "doc": "word", "docx": "word", "odt": "word", "rtf": "word",
    "xls": "spreadsheet", "xlsx": "spreadsheet", "ods": "spreadsheet", "csv": "spreadsheet",
    "ppt": "presentation", "pptx": "presentation", "odp": "presentation",
    "zip": "archive", "7z": "archive", "rar": "archive", "gz": "archive", "tar": "archive",
    "ics": "calendar", "eml": "message", "msg": "message", "txt": "text",
    "png": "image", "jpg": "image", "jpeg": "image", "gif": "image", "bmp": "image",
    "tif": "image", "tiff": "image", "heic": "image", "svg": "image",
    "mp3": "audio_video", "mp4": "audio_video", "wav": "audio_video", "mov": "audio_video",
}


def is_attachment(p: Part) -> bool:
    """A leaf is an attachment when declared so, when it carries a file name (unless inline),
    or when it is neither text nor inline (a bare image/pdf part)."""
    if p.disposition == "attachment":
        return True
    if p.disposition == "inline":
        return False
    if p.has_filename:
        return True
    return not p.content_type.startswith("text/")


def attachment_kind(p: Part) -> str:
    kind = _KIND_BY_EXT.get(p.extension) or _KIND_BY_TYPE.get(p.content_type)
    if kind:
        return kind
    major = p.content_type.split("/", 1)[0]
    return {"image": "image", "audio": "audio_video", "video": "audio_video",
            "text": "text"}.get(major, "other")


def summarise_parts(parts: Iterable[Part]) -> tuple[int, int, list[str]]:
    """(text_bytes, n_attachments, sorted attachment kinds).

    text_bytes counts the non-attachment text/plain parts; a message with none (HTML only)
    counts its text/html parts instead, so that a plain+HTML alternative is not counted twice.
    """
    plain = html = 0
    kinds: list[str] = []
    for p in parts:
        if is_attachment(p):
            kinds.append(attachment_kind(p))
        elif p.content_type == "text/plain":
            plain += p.size
        elif p.content_type == "text/html":
            html += p.size
    return (plain if plain else html), len(kinds), sorted(kinds)


def extension_of(filename: str | None) -> str:
    if not filename or "." not in filename:
        return ""
    ext = filename.rsplit(".", 1)[1].strip().strip('"').lower()
    return ext if ext.isalnum() and len(ext) <= 5 else ""


# ---------------------------------------------------------------------------------------------
# headers

_LINE_SPLIT = re.compile(r"\r\n|\r|\n")


class HeaderBlock:
    """A parsed header block: ``get`` and ``get_all`` like :class:`email.message.Message`.

    Why not the stdlib parser: building a ``Message`` costs more than everything else we do
    with a message. This keeps raw values (bytes decoded as ASCII with surrogate escapes, as
    ``compat32`` does), unfolded per RFC 5322, and counts malformed lines as defects.
    """

    __slots__ = ("_h", "defects")

    def __init__(self, raw: bytes) -> None:
        h: dict[str, list[str]] = {}
        defects: list[str] = []
        cur: list[str] | None = None  # the value being unfolded, as [text]
        for line in _LINE_SPLIT.split(raw.decode("ascii", "surrogateescape")):
            if not line:
                continue
            if line[0] in " \t":
                if cur is not None:
                    cur[0] += line
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
            h.setdefault(name.lower(), []).append(cur)  # type: ignore[arg-type]
        self._h = {k: [v[0] if isinstance(v, list) else v for v in vals]
                   for k, vals in h.items()}
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
_REPLY_PREFIXES = {"re", "aw", "sv", "rép", "rep", "réf", "ref"}
_FORWARD_PREFIXES = {"tr", "fw", "fwd", "wg"}


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


_CLIENTS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"outlook[- ]for[- ]ios|iphone|ipad|ios mail", re.I), "mobile_ios"),
    (re.compile(r"android|k-9|aquamail|fairemail", re.I), "mobile_android"),
    (re.compile(r"outlook|microsoft office|microsoft cdo|exchange|mapi", re.I), "outlook"),
    (re.compile(r"thunderbird|icedove|betterbird|mozilla", re.I), "thunderbird"),
    (re.compile(r"apple mail|mac os x mail|macos mail", re.I), "apple_mail"),
    (re.compile(r"roundcube|sogo|zimbra|horde|owa|webmail|rainloop|snappymail|gmail", re.I),
     "webmail"),
]


def client_family(msg: Message) -> str | None:
    ua = msg.get("X-Mailer") or msg.get("User-Agent")
    if ua is None:
        return None
    s = str(ua)
    for pat, fam in _CLIENTS:
        if pat.search(s):
            return fam
    return "other"


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


# ---------------------------------------------------------------------------------------------
# identities

_SIMPLE_LIST = re.compile(r'^[^"()\\;:\[\]]*$')
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_SIMPLE_ADDR = re.compile(rf"^{_ATOM}(\.{_ATOM})*@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_SIMPLE_NAME = re.compile(r"^[\w'=?-]+( [\w'=?-]+)*$")


def _simple_addresses(value: str) -> list[tuple[str, str]] | None:
    """``Name <a@b>, c@d`` lists without quotes, comments or groups (nearly all real mail),
    split without the stdlib's tokenizer; None when the value needs the full parser."""
    if not _SIMPLE_LIST.match(value):
        return None
    out = []
    for chunk in value.split(","):
        chunk = chunk.strip()
        if not chunk:
            continue
        i = chunk.find("<")
        if i >= 0:
            j = chunk.find(">", i)
            if j < 0 or chunk[j + 1:].strip() or "<" in chunk[i + 1:j] or ">" in chunk[:i]:
                return None
            name, addr = " ".join(chunk[:i].split()), chunk[i + 1:j].strip()
        else:
            if ">" in chunk:
                return None
            name, addr = "", chunk
        if not _SIMPLE_ADDR.match(addr) or (name and not _SIMPLE_NAME.match(name)):
            return None
        out.append((name, addr))
    return out


def parse_addresses(values: Iterable[str]) -> list[tuple[str, str]]:
    """(display name, address) pairs, as ``email.utils.getaddresses`` gives them."""
    out: list[tuple[str, str]] = []
    for v in values:
        fast = _simple_addresses(v)
        out.extend(fast if fast is not None else email.utils.getaddresses([v]))
    return out

class Identities:
    """Turns addresses into pseudonyms or markers, sealing new identities into the escrow.

    The only place (with the directory import) where a raw address is handled.
    """

    def __init__(self, pseudonymiser: Pseudonymiser, domains: Iterable[str],
                 partner_domains: Iterable[str] = (), optouts: Container[str] = (),
                 escrow: EscrowWriter | None = None) -> None:
        self.p = pseudonymiser
        self.domains = tuple(d.lower() for d in domains)
        self.partners = tuple(d.lower() for d in partner_domains)
        self.optouts = optouts  # OptOuts: membership needs the key, which collection has
        self.escrow = escrow
        # address headers repeat a lot within a mailbox; parsing them is the costliest step
        self._parsed: dict[tuple[str, ...], list[tuple[str, str]]] = {}
        self._tokens: dict[str, tuple[str, bool]] = {}

    @staticmethod
    def _in(domain: str, domains: tuple[str, ...]) -> bool:
        return any(domain == d or domain.endswith("." + d) for d in domains)

    def classify(self, address: str) -> str:
        """internal, partner, external or invalid."""
        a = self.p.canonical_address(address)
        if "@" not in a or a.startswith("@") or a.endswith("@"):
            return "invalid"
        dom = a.rsplit("@", 1)[1]
        if self._in(dom, self.domains):
            return "internal"
        if self._in(dom, self.partners):
            return "partner"
        return "external"

    def _classified(self, address: str) -> tuple[str, bool]:
        """(pseudonym or marker, whether it is a pseudonym), cached: the same few hundred
        addresses fill a mailbox, and normalising and hashing them dominated row building."""
        hit = self._tokens.get(address)
        if hit is not None:
            return hit
        cls = self.classify(address)
        if cls != "internal":
            out = ({"partner": MARK_PARTNER, "external": MARK_EXTERNAL}.get(cls, MARK_INVALID),
                   False)
        else:
            p = self.p.person(address)
            out = (MARK_OPTOUT, False) if p in self.optouts else (p, True)
        if len(self._tokens) > 200_000:
            self._tokens.clear()
        self._tokens[address] = out
        return out

    def token(self, address: str, display: str = "", defects: list[str] | None = None) -> str:
        """Pseudonym of an internal address, or the marker of its class."""
        p, internal = self._classified(address)
        if not internal:
            return p
        if self.escrow is not None and self.escrow.wants(p, bool(display)):
            name = decode_text(display, defects) if display else ""
            ident = {"address": utf8(self.p.canonical_address(address))}
            if name and name.lower() != ident["address"]:
                ident["name"] = name
            self.escrow.add(p, "person", ident)
        return p

    def tokens(self, values: list[str] | None, defects: list[str]) -> list[str]:
        if not values:
            return []
        key = tuple(str(v) for v in values)
        pairs = self._parsed.get(key)
        if pairs is None:
            try:
                pairs = parse_addresses(key)
            except Exception:
                defects.append("bad_address_header")
                return []
            if len(self._parsed) > 200_000:
                self._parsed.clear()
            self._parsed[key] = pairs
        out = []
        for name, addr in pairs:
            if not addr and not name:
                continue
            out.append(self.token(addr, name, defects))
        return out


# ---------------------------------------------------------------------------------------------
# the row

@dataclass
class Context:
    """What a collector knows about the message besides its headers."""

    mailbox: str  # owner pseudonym
    source: str
    item_key: str  # locator within the source; hashed, never stored
    folder: tuple[str, ...]  # folder path components (hashed, never stored)
    folder_role: str
    size_bytes: int
    seen: bool | None = None
    answered: bool | None = None
    flagged: bool | None = None
    fallback_date: dt.datetime | None = None
    imap_uidvalidity: int | None = None
    imap_uid: int | None = None


def item_family(source: str) -> str:
    """Every file format shares one key family (a message exported twice, in two layouts, is
    one row); IMAP keys are UIDs."""
    return "imap" if source == "imap" else "file"


class RowBuilder:
    """Builds ``messages`` rows; one per collector process."""

    def __init__(self, identities: Identities, tz: ZoneInfo,
                 now: dt.datetime | None = None) -> None:
        self.ids = identities
        self.p = identities.p
        self.tz = tz
        self.now = now or dt.datetime.now(dt.UTC)

    def folder_id(self, folder: tuple[str, ...]) -> str:
        return self.p.digest("folder", "/".join(folder))

    def item_id(self, mailbox: str, source_kind: str, key: str) -> str:
        return self.p.digest("item", f"{mailbox}\x00{source_kind}\x00{key}")

    def build(self, msg: Message, outline: MimeOutline, ctx: Context) -> dict[str, Any]:
        defects = list(outline.defects)
        defects.extend(d if isinstance(d, str) else type(d).__name__
                       for d in getattr(msg, "defects", []) or [])
        p = self.p

        from_ = self.ids.tokens(msg.get_all("From"), defects)
        sender = from_[0] if from_ else None
        to = self.ids.tokens(msg.get_all("To"), defects)
        cc = self.ids.tokens(msg.get_all("Cc"), defects)
        bcc = self.ids.tokens(msg.get_all("Bcc"), defects)
        recips = to + cc + bcc
        n_internal = sum(1 for r in recips if r not in (MARK_EXTERNAL, MARK_PARTNER,
                                                        MARK_INVALID))
        n_external = sum(1 for r in recips if r in (MARK_EXTERNAL, MARK_PARTNER))

        date = choose_date(msg, ctx.fallback_date, defects, self.now)

        mids = message_ids(str(msg.get("Message-ID", "") or ""))
        if mids:
            message_id = p.digest("message", mids[0])
        else:
            defects.append("missing_message_id")
            basis = "\x00".join(str(msg.get(h, "")) for h in ("Date", "From", "To", "Subject"))
            message_id = p.digest("message",
                                  "substitute:" + hashlib.sha256(basis.encode("utf-8",
                                                                              "replace")).hexdigest())
        irt_ids = message_ids(str(msg.get("In-Reply-To", "") or ""))
        in_reply_to = p.digest("message", irt_ids[-1]) if irt_ids else None
        refs = message_ids(str(msg.get("References", "") or ""))
        if refs:
            thread_root = p.digest("message", refs[0])
        else:
            thread_root = in_reply_to or message_id

        subject = decode_text(msg.get("Subject"), defects)
        subject_len, n_prefixes, first = subject_features(subject)
        is_forward = first in _FORWARD_PREFIXES
        is_reply = (first in _REPLY_PREFIXES) or (in_reply_to is not None and not is_forward)

        text_bytes, n_att, kinds = summarise_parts(outline.parts)
        if sender is not None and sender == ctx.mailbox:
            direction = "sent"
        elif ctx.folder_role in ("sent", "drafts"):
            direction = "sent"
        else:
            direction = "received"

        return {
            "mailbox": ctx.mailbox,
            "source": ctx.source,
            "item_id": self.item_id(ctx.mailbox, item_family(ctx.source), ctx.item_key),
            "folder_id": self.folder_id(ctx.folder),
            "folder_role": ctx.folder_role,
            "folder_depth": max(len(ctx.folder) - 1, 0),
            "message_id": message_id,
            "direction": direction,
            "sender": sender,
            "to": to,
            "cc": cc,
            "bcc": bcc,
            "n_to": len(to),
            "n_cc": len(cc),
            "n_bcc": len(bcc),
            "n_internal": n_internal,
            "n_external": n_external,
            "date_utc": date,
            "date_local": date.astimezone(self.tz).replace(tzinfo=None) if date else None,
            "size_bytes": ctx.size_bytes,
            "text_bytes": text_bytes,
            "n_attachments": n_att,
            "attachment_kinds": kinds,
            "is_reply": is_reply,
            "is_forward": is_forward,
            "in_reply_to": in_reply_to,
            "thread_root": thread_root,
            "subject_len": subject_len,
            "n_prefixes": n_prefixes,
            "is_bulk": is_bulk(msg),
            "client_family": client_family(msg),
            "importance": importance(msg),
            "seen": ctx.seen,
            "answered": ctx.answered,
            "flagged": ctx.flagged,
            "defects": sorted(set(defects)),
            "imap_uidvalidity": ctx.imap_uidvalidity,
            "imap_uid": ctx.imap_uid,
        }


# ---------------------------------------------------------------------------------------------
# folders

FOLDER_NAMES: dict[str, str] = {}
for _role, _names in {
    "inbox": ["inbox", "boite de reception", "courrier entrant", "reception", "boite aux lettres"],
    "sent": ["sent", "sent items", "sent messages", "sent mail", "elements envoyes", "envoyes",
             "messages envoyes", "courrier envoye", "envoye"],
    "drafts": ["drafts", "draft", "brouillons", "brouillon"],
    "trash": ["trash", "deleted items", "deleted messages", "deleted", "elements supprimes",
              "corbeille", "bin", "supprimes"],
    "junk": ["junk", "spam", "junk e-mail", "junk email", "courrier indesirable",
             "indesirables", "pourriel", "pourriels", "bulk mail"],
    "archive": ["archive", "archives", "archivage", "archived"],
}.items():
    for _n in _names:
        FOLDER_NAMES[_n] = _role

SPECIAL_USE = {"\\sent": "sent", "\\drafts": "drafts", "\\trash": "trash", "\\junk": "junk",
               "\\archive": "archive", "\\all": "archive"}


def normalise_folder(parts: tuple[str, ...]) -> tuple[str, ...]:
    """One spelling of a folder path for every source: the inbox is ``INBOX`` (any case, as
    IMAP says), its subfolders keep it as their first component."""
    parts = tuple(p for p in parts if p)
    if not parts:
        return ("INBOX",)
    if parts[0].upper() == "INBOX":
        return ("INBOX", *parts[1:])
    return parts


def folder_role(folder: tuple[str, ...], special_use: str | None = None) -> str:
    """Role from SPECIAL-USE when given, else from the last name, else inherited from an
    archive ancestor; the top of a mailbox is the inbox."""
    if special_use:
        r = SPECIAL_USE.get(special_use.lower())
        if r:
            return r
    if not folder:
        return "inbox"
    r = FOLDER_NAMES.get(fold(folder[-1]))
    if r:
        return r
    if any(FOLDER_NAMES.get(fold(f)) == "archive" for f in folder[:-1]):
        return "archive"
    return "other"


def personal_matcher(patterns: Iterable[str]):  # -> Callable[[tuple[str, ...]], bool]
    """A folder is personal when one of its path components starts with a pattern word."""
    regs = [re.compile(rf"^{re.escape(fold(p))}(\b|$)") for p in patterns if p.strip()]

    def is_personal(folder: tuple[str, ...]) -> bool:
        return any(r.match(fold(c)) for c in folder for r in regs)

    return is_personal
