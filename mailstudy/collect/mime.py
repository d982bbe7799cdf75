"""Streaming reader of one raw message: header block plus MIME outline, bodies skipped.

Why not ``email.parser``: it keeps the whole message (and every attachment) in memory and
decodes bodies we never need. Here lines are read in chunks of at most ``CHUNK`` bytes, only
part headers are parsed, and body lines are merely counted, so memory does not grow with
attachment size. Sizes are counted with CRLF line endings, the way IMAP servers report
RFC822.SIZE and BODYSTRUCTURE sizes, so file and IMAP collection agree.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from mailstudy.collect.headers import HeaderBlock, header_identity, parse_header_block
from mailstudy.collect.parts import MimeOutline, Part, extension_of

CHUNK = 65536
MAX_HEADER = 1 << 20  # a header block larger than this is truncated (and counted)
MAX_DEPTH = 20
IN_MEMORY_MAX = 8 << 20  # larger messages are streamed, so memory stays bounded


def _crlf_len(line: bytes) -> int:
    if line.endswith(b"\r\n"):
        return len(line)
    if line.endswith(b"\n"):
        return len(line) + 1
    return len(line)


@dataclass
class ParsedMessage:
    headers: HeaderBlock
    outline: MimeOutline
    size: int  # CRLF-normalised size of the whole message
    header_digest: str = ""  # SHA-256 of the raw header block: the message's identity in a file


def _read_headers(lines: Iterator[bytes], defects: list[str]) -> tuple[bytes, int, bool]:
    """Header block bytes, its CRLF size, and whether the stream ended inside it."""
    buf: list[bytes] = []
    total = 0
    size = 0
    for line in lines:
        size += _crlf_len(line)
        if line in (b"\n", b"\r\n"):
            return b"".join(buf), size, False
        if total < MAX_HEADER:
            buf.append(line)
            total += len(line)
        elif "header_truncated" not in defects:
            defects.append("header_truncated")
    return b"".join(buf), size, True


def _str(v: Any) -> str | None:
    return None if v is None else str(v)


_PARAM = re.compile(r';\s*([A-Za-z0-9_.*!#$%&\'^`|~+-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')
_UNFOLD = re.compile(r"\r?\n[ \t]+")


class PartHeaders:
    """Content-Type and Content-Disposition of a MIME part, parsed without ``email``.

    Part headers are parsed once per part and the stdlib parser costs more than the rest of
    the reader; this needs only two fields and their parameters.
    """

    __slots__ = ("ctype", "params", "disposition", "dparams")

    def __init__(self, raw: bytes) -> None:
        text = _UNFOLD.sub(" ", raw.decode("latin-1"))
        ct = cd = None
        for line in text.splitlines():
            name, sep, value = line.partition(":")
            if not sep:
                continue
            lname = name.strip().lower()
            if lname == "content-type" and ct is None:
                ct = value.strip()
            elif lname == "content-disposition" and cd is None:
                cd = value.strip()
        self.ctype, self.params = self._split(ct)
        self.disposition, self.dparams = self._split(cd)
        if "/" not in self.ctype or self.ctype.count("/") != 1:
            self.ctype = "text/plain"  # RFC 2045 default, as the stdlib does

    @classmethod
    def of(cls, headers: Any) -> PartHeaders:
        """From a header object with ``get`` (a HeaderBlock or an email Message)."""
        ph = cls.__new__(cls)
        ph.ctype, ph.params = cls._split(_str(headers.get("Content-Type")))
        ph.disposition, ph.dparams = cls._split(_str(headers.get("Content-Disposition")))
        if "/" not in ph.ctype or ph.ctype.count("/") != 1:
            ph.ctype = "text/plain"
        return ph

    @staticmethod
    def _split(value: str | None) -> tuple[str, dict[str, str]]:
        if not value:
            return "", {}
        head = value.split(";", 1)[0].strip().lower()
        params: dict[str, str] = {}
        for k, v in _PARAM.findall(value):
            v = v.strip()
            if len(v) >= 2 and v[0] == v[-1] == '"':
                v = v[1:-1].replace('\\"', '"').replace("\\\\", "\\")
            k = k.lower()
            if k.endswith("*") or "*" in k:  # RFC 2231: name*=utf-8''value, name*0=...
                base = k.split("*", 1)[0]
                if "''" in v:
                    v = v.split("''", 1)[1]
                params[base] = params.get(base, "") + v
            else:
                params.setdefault(k, v)
        return head, params

    def maintype(self) -> str:
        return self.ctype.split("/", 1)[0]

    def part(self, size: int = 0) -> Part:
        disp = self.disposition
        if disp not in ("attachment", "inline"):
            disp = "attachment" if disp else ""
        fn = self.dparams.get("filename") or self.params.get("name")
        return Part(self.ctype, disp, bool(fn), extension_of(fn), size)

    def boundary(self) -> bytes | None:
        b = self.params.get("boundary", "").strip()
        return b.encode("utf-8", "replace") if b else None


def read_message(lines: Iterator[bytes]) -> ParsedMessage:
    """Parse one message from an iterator of raw lines (chunks of at most CHUNK bytes)."""
    defects: list[str] = []
    header_bytes, size, ended = _read_headers(lines, defects)
    top = parse_header_block(header_bytes)
    outline = MimeOutline(defects=defects)
    if ended:
        outline.defects.append("no_body")
    top_ph = PartHeaders.of(top)
    top_boundary = top_ph.boundary() if top_ph.maintype() == "multipart" else None
    if top_ph.maintype() == "multipart" and top_boundary is None:
        outline.defects.append("multipart_without_boundary")

    # stack of open multipart boundaries; `leaf` is the part whose body we are counting
    stack: list[bytes] = [top_boundary] if top_boundary else []
    leaf: Part | None = None if stack else top_ph.part()
    leaf_size = 0
    last_nl = 0  # CRLF length of the newline that ends the previous body line
    at_line_start = True

    def close_leaf() -> None:
        nonlocal leaf, leaf_size
        if leaf is not None:
            # the newline before a boundary belongs to the delimiter
            outline.parts.append(Part(leaf.content_type, leaf.disposition, leaf.has_filename,
                                      leaf.extension, max(leaf_size - last_nl, 0)))
        leaf = None
        leaf_size = 0

    for line in lines:
        n = _crlf_len(line)
        size += n
        starts = at_line_start
        at_line_start = line.endswith(b"\n")
        if starts and stack and line.startswith(b"--"):
            stripped = line.rstrip(b"\r\n").rstrip(b" \t")
            level = -1
            closing = False
            for i in range(len(stack) - 1, -1, -1):
                b = stack[i]
                if stripped == b"--" + b:
                    level = i
                    break
                if stripped == b"--" + b + b"--":
                    level, closing = i, True
                    break
            if level >= 0:
                close_leaf()
                if level < len(stack) - 1:
                    outline.defects.append("missing_close_boundary")
                    del stack[level + 1:]
                if closing:
                    stack.pop()
                    last_nl = 0
                    continue
                # a new part: read its headers
                ph_bytes, ph_size, ended = _read_headers(lines, outline.defects)
                size += ph_size
                ph = PartHeaders(ph_bytes)
                at_line_start = True
                if ended:
                    outline.defects.append("truncated_part")
                    break
                leaf = _open_part(ph, stack, outline)
                last_nl = 0
                continue
        if leaf is not None:
            leaf_size += n
            last_nl = n - len(line.rstrip(b"\r\n")) if at_line_start else 0
    if leaf is not None:
        # a single-part body, or a part cut short: its size runs to the end
        if stack:
            outline.defects.append("missing_close_boundary")
        last_nl = 0
        close_leaf()
    elif stack:
        outline.defects.append("missing_close_boundary")
    return ParsedMessage(top, outline, size, header_identity(header_bytes))


_HEADER_END = re.compile(rb"\r?\n\r?\n")
_DELIM = re.compile(rb"^--([^\r\n]*?)[ \t]*\r?$", re.M)


def _span(data: bytes, a: int, b: int, crlf: bool = True) -> int:
    """CRLF-normalised length of data[a:b]; ``crlf`` False says the data holds no CR at all
    (most Maildir files), which spares a second scan."""
    if b <= a:
        return 0
    n = (b - a) + data.count(b"\n", a, b)
    return n - data.count(b"\r\n", a, b) if crlf else n


def read_message_bytes(data: bytes) -> ParsedMessage:
    """The same result as :func:`read_message`, for a message held in memory.

    Boundary lines are found by one regular-expression scan, so the Python work grows with
    the number of MIME parts, not with the number of lines (base64 attachments have many).
    Collectors use it for messages up to ``IN_MEMORY_MAX`` bytes and stream larger ones.
    """
    defects: list[str] = []
    if data.startswith((b"\n", b"\r\n")):
        hdr_end, body_start = 0, (1 if data[:1] == b"\n" else 2)
    else:
        m = _HEADER_END.search(data)
        if m is None:
            hdr_end = body_start = len(data)
        else:
            hdr_end, body_start = m.start() + (2 if data[m.start():m.start() + 1] == b"\r"
                                               else 1), m.end()
    header_bytes = data[:hdr_end]
    if len(header_bytes) > MAX_HEADER:
        header_bytes = header_bytes[:MAX_HEADER]
        defects.append("header_truncated")
    top = parse_header_block(header_bytes)
    outline = MimeOutline(defects=defects)
    crlf = b"\r" in data
    size = _span(data, 0, len(data), crlf)
    if body_start >= len(data) and hdr_end == len(data):
        outline.defects.append("no_body")
    digest = header_identity(header_bytes)
    top_ph = PartHeaders.of(top)
    if top_ph.maintype() != "multipart":
        outline.parts.append(top_ph.part(_span(data, body_start, len(data), crlf)))
        return ParsedMessage(top, outline, size, digest)
    b0 = top_ph.boundary()
    if b0 is None:
        outline.defects.append("multipart_without_boundary")
        outline.parts.append(top_ph.part(_span(data, body_start, len(data), crlf)))
        return ParsedMessage(top, outline, size, digest)
    stack = [b0]
    leaf: Part | None = None
    leaf_start = 0
    pos = body_start
    truncated = False
    while True:
        m = _next_delimiter(data, pos, stack)
        if m is None:
            break
        text = m.group(1)
        level, closing = -1, False
        for i in range(len(stack) - 1, -1, -1):
            if text == stack[i]:
                level = i
                break
            if text == stack[i] + b"--":
                level, closing = i, True
                break
        line_end = m.end()
        if line_end < len(data) and data[line_end:line_end + 1] == b"\n":
            line_end += 1
        if level < 0:
            pos = line_end if line_end > m.start() else m.start() + 1
            continue
        if leaf is not None:
            # the newline before the delimiter belongs to it
            end = m.start()
            nl = 2 if data[end - 2:end] == b"\r\n" else (1 if data[end - 1:end] == b"\n" else 0)
            outline.parts.append(_sized(leaf, _span(data, leaf_start, end - nl, crlf)))
            leaf = None
        if level < len(stack) - 1:
            outline.defects.append("missing_close_boundary")
            del stack[level + 1:]
        pos = line_end
        if closing:
            stack.pop()
            if not stack:
                break
            continue
        hm = _HEADER_END.search(data, pos - 1 if pos > 0 else 0)
        if data[pos:pos + 1] == b"\n" or data[pos:pos + 2] == b"\r\n":
            ph_bytes, part_body = b"", pos + (1 if data[pos:pos + 1] == b"\n" else 2)
        elif hm is None:
            outline.defects.append("truncated_part")
            truncated = True
            break
        else:
            ph_bytes, part_body = data[pos:hm.start() + 1], hm.end()
        ph = PartHeaders(ph_bytes)
        leaf = _open_part(ph, stack, outline)
        leaf_start = part_body
        pos = part_body
    if leaf is not None:
        outline.parts.append(_sized(leaf, _span(data, leaf_start, len(data), crlf)))
        outline.defects.append("missing_close_boundary")
    elif stack and not truncated:
        outline.defects.append("missing_close_boundary")
    elif truncated:
        outline.defects.append("missing_close_boundary")
    return ParsedMessage(top, outline, size, digest)


def _open_part(ph: PartHeaders, stack: list[bytes], outline: MimeOutline) -> Part | None:
    """A part begins: a multipart pushes its boundary (None is returned), anything else is
    the leaf whose body is counted next. Shared by both readers so that they agree."""
    if ph.maintype() == "multipart":
        b = ph.boundary()
        if b is None:
            outline.defects.append("multipart_without_boundary")
        elif len(stack) >= MAX_DEPTH:
            outline.defects.append("mime_too_deep")
        else:
            stack.append(b)
            return None
    return ph.part()


def _next_delimiter(data: bytes, pos: int, stack: list[bytes]) -> re.Match[bytes] | None:
    """The next line that may be a delimiter of an open boundary, found with bytes.find (fast
    over base64) and confirmed with the line regex."""
    while True:
        best = -1
        for b in stack:
            i = data.find(b"--" + b, pos)
            while i > 0 and data[i - 1:i] != b"\n":
                i = data.find(b"--" + b, i + 1)
            if i >= 0 and (best < 0 or i < best):
                best = i
        if best < 0:
            return None
        m = _DELIM.match(data, best)
        if m is not None:
            return m
        pos = best + 1


def _sized(p: Part, size: int) -> Part:
    return Part(p.content_type, p.disposition, p.has_filename, p.extension, size)


def iter_lines(f) -> Iterator[bytes]:  # f: a binary file object
    """Lines of a binary stream, in chunks of at most CHUNK bytes."""
    read = f.readline
    while True:
        line = read(CHUNK)
        if not line:
            return
        yield line
