"""What the streamed and the in-memory MIME readers share, so that they agree by construction:
part headers, the stack of open multiparts, the per-message budget and the check of attached
messages.

Why a budget: a crafted message must never stall a run. Both readers are linear in the size of
the message (each byte is looked at a bounded number of times), but a run over twenty years of
mail meets shapes nobody foresaw; a message that still takes longer than ``MAX_SECONDS`` is
abandoned with :class:`MessageOverBudget`, which collectors count as a skip with its reason.
A message with more than ``MAX_PARTS`` leaves (a flood of tiny parts: each costs time and
memory) keeps its row (headers, size and the first ``MAX_PARTS`` parts) with the defect
``too_many_parts``: its recipients and date are still right, only its outline is cut.
"""

from __future__ import annotations

import re
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any

from mailstudy.collect.parts import MimeOutline, Part, extension_of
from mailstudy.errors import CollectError

CHUNK = 65536
MAX_HEADER = 1 << 20  # a header block larger than this is truncated (and counted)
MAX_DEPTH = 20
MAX_DELIMITER_LINE = 1000  # a longer line is never a boundary (RFC 2046: boundaries <= 70)
MAX_PARTS = 2000  # leaves described per message (real mail: a few; a big digest: hundreds)
MAX_SECONDS = 30.0  # per message, far above what any real message needs (milliseconds)
EMBED_MAX = 1 << 20  # an attached message up to this size is checked for MIME defects
EMBED_DEPTH = 3  # attached messages inside attached messages are checked this deep
BOM = b"\xef\xbb\xbf"


class MessageOverBudget(CollectError):
    """A message exceeded the per-message time or part budget; ``reason`` says which."""

    def __init__(self, reason: str) -> None:
        super().__init__("message over its {reason} budget", reason=reason)
        self.reason = reason


class Budget:
    """Time and part budget of one message (attached messages share their parent's)."""

    __slots__ = ("deadline", "ticks", "scanned")

    def __init__(self, seconds: float | None = None) -> None:
        self.deadline = time.monotonic() + (MAX_SECONDS if seconds is None else seconds)
        self.ticks = 0  # units of Python work (lines, delimiter candidates)
        self.scanned = 0  # bytes searched for boundaries (C work): linear, tests check it

    def tick(self) -> None:
        """Called once per unit of work (a line, a delimiter candidate); reads the clock
        only every 1024 calls."""
        self.ticks += 1
        if not self.ticks & 1023:
            self.check()

    def check(self) -> None:
        if time.monotonic() > self.deadline:
            raise MessageOverBudget("time")

    @staticmethod
    def full(outline: MimeOutline, stack: Stack) -> bool:
        """True (and the defect noted) once the message has ``MAX_PARTS`` nodes (leaves and
        multiparts): the reader stops describing parts and only counts the rest's size."""
        if len(outline.parts) + stack.opened < MAX_PARTS:
            return False
        if "too_many_parts" not in outline.defects:
            outline.defects.append("too_many_parts")
        return True


def crlf_len(line: bytes) -> int:
    if line.endswith(b"\r\n"):
        return len(line)
    if line.endswith(b"\n"):
        return len(line) + 1
    return len(line)


def _str(v: Any) -> str | None:
    return None if v is None else str(v)


_PARAM = re.compile(r';\s*([A-Za-z0-9_.*!#$%&\'^`|~+-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')
_UNFOLD = re.compile(r"\r?\n[ \t]+")


class PartHeaders:
    """Content-Type, Content-Disposition and Content-Transfer-Encoding of a MIME part, parsed
    without ``email``.

    Part headers are parsed once per part and the stdlib parser costs more than the rest of
    the reader; this needs only three fields and their parameters. ``default`` is the type of
    a part without Content-Type: text/plain, but message/rfc822 inside a multipart/digest
    (RFC 2046 5.1.5). An invalid Content-Type is text/plain either way, as the stdlib does.
    """

    __slots__ = ("ctype", "params", "disposition", "dparams", "cte")

    def __init__(self, raw: bytes, default: str = "text/plain") -> None:
        text = _UNFOLD.sub(" ", raw.decode("latin-1"))
        found: dict[str, str] = {}
        for line in text.splitlines():
            name, sep, value = line.partition(":")
            lname = name.strip().lower()
            if sep and lname in ("content-type", "content-disposition",
                                 "content-transfer-encoding") and lname not in found:
                found[lname] = value.strip()
        self._fill(found.get("content-type"), found.get("content-disposition"),
                   found.get("content-transfer-encoding"), default)

    def _fill(self, ct: str | None, cd: str | None, cte: str | None, default: str) -> None:
        self.ctype, self.params = self._split(ct)
        self.disposition, self.dparams = self._split(cd)
        self.cte = (cte or "").strip().lower()
        if not self.ctype:
            self.ctype = default
        elif self.ctype.count("/") != 1:
            self.ctype = "text/plain"  # RFC 2045 default, as the stdlib does

    @classmethod
    def of(cls, headers: Any) -> PartHeaders:
        """From a header object with ``get`` (a HeaderBlock or an email Message)."""
        ph = cls.__new__(cls)
        ph._fill(_str(headers.get("Content-Type")), _str(headers.get("Content-Disposition")),
                 _str(headers.get("Content-Transfer-Encoding")), "text/plain")
        return ph

    @staticmethod
    def _split(value: str | None) -> tuple[str, dict[str, str]]:
        if not value:
            return "", {}
        head = value.split(";", 1)[0].strip().lower()
        params: dict[str, str] = {}
        sections: dict[str, dict[int, tuple[str, bool]]] = {}
        for k, v in _PARAM.findall(value):
            v = v.strip()
            if len(v) >= 2 and v[0] == v[-1] == '"':
                v = v[1:-1].replace('\\"', '"').replace("\\\\", "\\")
            k = k.lower()
            if "*" in k:  # RFC 2231: name*=utf-8''value, name*0=..., name*1*=...
                base, _, rest = k.partition("*")
                number = rest.rstrip("*")
                if number.isdigit() or not number:
                    sections.setdefault(base, {})[int(number or 0)] = (v, rest.endswith("*")
                                                                        or not rest)
            else:
                params.setdefault(k, v)
        for base, parts in sections.items():
            params[base] = _rfc2231_value(parts)  # the extended form wins over a plain one
        return head, params

    def maintype(self) -> str:
        return self.ctype.split("/", 1)[0]

    def part(self, parent: str = "", alternative: int = 0) -> Part:
        disp = self.disposition
        if disp not in ("attachment", "inline"):
            disp = "attachment" if disp else ""
        fn = self.dparams.get("filename") or self.params.get("name")
        return Part(self.ctype, disp, bool(fn), extension_of(fn), 0, parent, alternative)

    def boundary(self) -> bytes | None:
        b = self.params.get("boundary", "").strip()
        return b.encode("utf-8", "replace") if b else None

    def embedded(self) -> bool:
        """An attached message whose bytes can be read as they are (not base64 or QP)."""
        return (self.ctype in ("message/rfc822", "message/global")
                and self.cte in ("", "7bit", "8bit", "binary"))


@dataclass
class Frame:
    """An open multipart: its boundary, subtype and the number that identifies it."""

    boundary: bytes
    subtype: str
    number: int


class Stack:
    """The open multiparts of a message, innermost last."""

    def __init__(self) -> None:
        self.frames: list[Frame] = []
        self.opened = 0

    def __bool__(self) -> bool:
        return bool(self.frames)

    def __len__(self) -> int:
        return len(self.frames)

    def push(self, boundary: bytes, subtype: str) -> None:
        self.opened += 1
        self.frames.append(Frame(boundary, subtype, self.opened))

    def match(self, text: bytes) -> tuple[int, bool]:
        """(level, closing) of a delimiter line's text after ``--``; level -1 if none."""
        for i in range(len(self.frames) - 1, -1, -1):
            b = self.frames[i].boundary
            if text == b:
                return i, False
            if text == b + b"--":
                return i, True
        return -1, False

    def default_type(self) -> str:
        return "message/rfc822" if self.frames and self.frames[-1].subtype == "digest" \
            else "text/plain"

    def context(self) -> tuple[str, int]:
        """(subtype of the enclosing multipart, number of the nearest alternative)."""
        parent = self.frames[-1].subtype if self.frames else ""
        alt = next((f.number for f in reversed(self.frames) if f.subtype == "alternative"), 0)
        return parent, alt


def _rfc2231_value(sections: dict[int, tuple[str, bool]]) -> str:
    """One RFC 2231 parameter from its numbered sections, in order: an encoded section
    (``name*N*``) is percent-escaped, the first one led by ``charset'language'``.

    Why decode: a client that writes a boundary this way (``boundary*0*=us-ascii''%3D_88``)
    uses the decoded text on its delimiter lines; kept escaped, no part would be found."""
    charset, raw = "utf-8", b""
    for n in sorted(sections):
        v, encoded = sections[n]
        if encoded and n == min(sections) and v.count("'") >= 2:
            charset, _, v = v.split("'", 2)
            charset = charset or "utf-8"
        raw += urllib.parse.unquote_to_bytes(v) if encoded else v.encode("utf-8", "replace")
    try:
        return raw.decode(charset, "replace")
    except LookupError:
        return raw.decode("utf-8", "replace")


def delimiter_text(line: bytes) -> bytes | None:
    """The text after ``--`` of a line that may be a boundary delimiter, else None."""
    if not line.startswith(b"--"):
        return None
    stripped = line.rstrip(b"\r\n")
    if len(stripped) > MAX_DELIMITER_LINE:
        return None
    return stripped.rstrip(b" \t")[2:]


# part headers repeat (every part of a flood, every "Content-Type: text/plain" of a list):
# parsed once, shared (a PartHeaders is never changed once built)
_PH_CACHE: dict[tuple[bytes, str], PartHeaders] = {}
MAX_BOUNDARY = MAX_DELIMITER_LINE - 4  # a longer one could never be matched: ignored


def top_boundary(ph: PartHeaders, outline: MimeOutline) -> bytes | None:
    """The boundary of a multipart message, None (and a defect) when it has none usable."""
    b = ph.boundary()
    if b is None:
        outline.defects.append("multipart_without_boundary")
    elif len(b) > MAX_BOUNDARY:
        outline.defects.append("boundary_too_long")
        return None
    return b


def open_part(ph_bytes: bytes, stack: Stack, outline: MimeOutline) -> tuple[PartHeaders,
                                                                            Part | None]:
    """A part begins: a multipart pushes its boundary (no leaf is returned), anything else is
    the leaf whose body is counted next. Shared by both readers so that they agree."""
    default = stack.default_type()
    ph = _PH_CACHE.get((ph_bytes, default))
    if ph is None:
        ph = PartHeaders(ph_bytes, default)
        if len(_PH_CACHE) > 4096:
            _PH_CACHE.clear()
        if len(ph_bytes) < 4096:
            _PH_CACHE[(ph_bytes, default)] = ph
    if ph.maintype() == "multipart":
        b = ph.boundary()
        if b is None:
            outline.defects.append("multipart_without_boundary")
        elif len(b) > MAX_BOUNDARY:
            outline.defects.append("boundary_too_long")
        elif len(stack) >= MAX_DEPTH:
            outline.defects.append("mime_too_deep")
        else:
            stack.push(b, ph.ctype.split("/", 1)[1])
            return ph, None
    parent, alt = stack.context()
    return ph, ph.part(parent, alt)


def sized(p: Part, size: int) -> Part:
    return Part(p.content_type, p.disposition, p.has_filename, p.extension, size, p.parent,
                p.alternative)


def embedded_defects(body: bytes, depth: int, budget: Budget) -> list[str]:
    """MIME defects of an attached message, prefixed ``attached_``: a broken forwarded
    message is reported like a broken message, without changing the outer figures."""
    from mailstudy.collect.mime import read_message_bytes

    inner = read_message_bytes(body, _depth=depth + 1, _budget=budget)
    found = set(inner.outline.defects) | set(inner.headers.defects)
    return sorted("attached_" + d.removeprefix("attached_") for d in found)
