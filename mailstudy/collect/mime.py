"""Streaming reader of one raw message: header block plus MIME outline, bodies skipped.

Why not ``email.parser``: it keeps the whole message (and every attachment) in memory and
decodes bodies we never need. Here lines are read in chunks of at most ``CHUNK`` bytes, only
part headers are parsed, and body lines are merely counted, so memory does not grow with
attachment size or line length. Sizes are counted with CRLF line endings, the way IMAP servers
report RFC822.SIZE and BODYSTRUCTURE sizes, so file and IMAP collection agree.

Both readers are linear in the size of the message: the streamed one looks at each line once;
the in-memory one finds each boundary's next candidate line once (a boundary never seen again,
as in an unclosed multipart, is searched for once, not once per part) and never runs a
backtracking regular expression over a body line. What they share lives in
:mod:`~mailstudy.collect.mimeshared`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from mailstudy.collect.delimiters import Delimiters
from mailstudy.collect.headers import HeaderBlock, header_identity, parse_header_block
from mailstudy.collect.mimeshared import (
    BOM,
    CHUNK,
    EMBED_DEPTH,
    EMBED_MAX,
    MAX_HEADER,
    Budget,
    MessageOverBudget,
    PartHeaders,
    Stack,
    crlf_len,
    delimiter_text,
    embedded_defects,
    open_part,
    sized,
    top_boundary,
)
from mailstudy.collect.parts import MimeOutline, Part

__all__ = ["CHUNK", "IN_MEMORY_MAX", "MAX_HEADER", "MessageOverBudget", "ParsedMessage",
           "iter_lines", "read_message", "read_message_bytes"]

IN_MEMORY_MAX = 8 << 20  # larger messages are streamed, so memory stays bounded


@dataclass
class ParsedMessage:
    headers: HeaderBlock
    outline: MimeOutline
    size: int  # CRLF-normalised size of the whole message
    header_digest: str = ""  # SHA-256 of the raw header block: the message's identity in a file


# A header line as the stdlib's feedparser knows one: a field name then ":", a continuation,
# or an mbox "From " line. The first other line ends the header block even without the blank
# line (broken exporters): it is the first line of the body, as Python's email reads it.
_HEADER_LINE = re.compile(rb"From |[\x21-\x39\x3b-\x7e]*:|[ \t]")
# the newline before a line that is no header (a literal first: searched at memchr speed)
_NOT_HEADER = re.compile(rb"\n(?!From |[\x21-\x39\x3b-\x7e]*:|[ \t]|[\r\n])(?=[\s\S])")


def _ends_headers(line: bytes, pos: int = 0) -> bool:
    return (line[pos:pos + 1] not in (b"\r", b"\n", b"")
            and _HEADER_LINE.match(line, pos) is None)


def _read_headers(lines: Iterator[bytes], defects: list[str], budget: Budget
                  ) -> tuple[bytes, int, bool, bytes | None]:
    """Header block bytes, its CRLF size, whether the stream ended inside it, and the line
    that ended it without a blank line (the body's first line, not counted here)."""
    buf: list[bytes] = []
    total = 0
    size = 0
    at_start = True
    for line in lines:
        budget.tick()
        if at_start and _ends_headers(line):
            defects.append("header_without_separator")
            return b"".join(buf), size, False, line
        at_start = line.endswith(b"\n")
        size += crlf_len(line)
        if line in (b"\n", b"\r\n"):
            return b"".join(buf), size, False, None
        if total < MAX_HEADER:
            buf.append(line)
            total += len(line)
        elif "header_truncated" not in defects:
            defects.append("header_truncated")
    return b"".join(buf), size, True, None


def _strip_bom(lines: Iterator[bytes], defects: list[str]) -> Iterator[bytes]:
    first = next(lines, None)
    if first is None:
        return
    if first.startswith(BOM):
        defects.append("byte_order_mark")
        first = first[len(BOM):]
    if first:
        yield first
    yield from lines


class _Leaf:
    """The leaf part whose body the streamed reader is counting."""

    __slots__ = ("part", "size", "keep", "kept", "nl", "raw_nl")

    def __init__(self, part: Part, ph: PartHeaders, depth: int) -> None:
        self.part = part
        self.size = 0
        self.keep: list[bytes] | None = [] if ph.embedded() and depth < EMBED_DEPTH else None
        self.kept = 0
        self.nl = 0  # CRLF length of the newline that ends the last body line
        self.raw_nl = 0  # its raw length

    def close(self, delimited: bool, outline: MimeOutline, depth: int,
              budget: Budget) -> None:
        """The part ends (at a delimiter, whose newline is not the part's, or at the end)."""
        nl = self.nl if delimited else 0
        outline.parts.append(sized(self.part, max(self.size - nl, 0)))
        if self.keep is not None:
            body = b"".join(self.keep)
            if delimited and self.raw_nl:
                body = body[:-self.raw_nl]
            outline.defects.extend(embedded_defects(body, depth, budget))

    def add(self, line: bytes, n: int, at_line_start: bool) -> None:
        self.size += n
        ending = len(line) - len(line.rstrip(b"\r\n")) if at_line_start else 0
        self.raw_nl = ending
        self.nl = n - (len(line) - ending) if ending else 0
        if self.keep is not None:
            self.kept += len(line)
            if self.kept - ending > EMBED_MAX:
                self.keep = None
            else:
                self.keep.append(line)


class _Lines:
    """An iterator of lines that takes one back: the line that ended a header block without
    a blank line is the first line of the body."""

    __slots__ = ("it", "back")

    def __init__(self, it: Iterator[bytes]) -> None:
        self.it = it
        self.back: bytes | None = None

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> bytes:
        if self.back is not None:
            line, self.back = self.back, None
            return line
        return next(self.it)

    def push(self, line: bytes | None) -> None:
        self.back = line


def _drain(lines: Iterator[bytes], budget: Budget) -> int:
    size = 0
    for line in lines:
        budget.tick()
        size += crlf_len(line)
    return size


def _top(top_ph: PartHeaders, outline: MimeOutline) -> tuple[Stack, _Leaf | None]:
    """The stack of a multipart message, or the leaf of a single-part one."""
    stack = Stack()
    if top_ph.maintype() == "multipart":
        b0 = top_boundary(top_ph, outline)
        if b0 is not None:
            stack.push(b0, top_ph.ctype.split("/", 1)[1])
    return stack, None if stack else _Leaf(top_ph.part(), top_ph, EMBED_DEPTH)


def read_message(lines: Iterator[bytes], *, _depth: int = 0,
                 _budget: Budget | None = None) -> ParsedMessage:
    """Parse one message from an iterator of raw lines (chunks of at most CHUNK bytes)."""
    budget = _budget or Budget()
    defects: list[str] = []
    lines = _Lines(_strip_bom(iter(lines), defects))
    header_bytes, size, ended, first = _read_headers(lines, defects, budget)
    lines.push(first)
    top = parse_header_block(header_bytes)
    outline = MimeOutline(defects=defects)
    if ended:
        outline.defects.append("no_body")
    stack, leaf = _top(PartHeaders.of(top), outline)

    def close(delimited: bool) -> None:
        if leaf is not None:
            leaf.close(delimited, outline, _depth, budget)

    at_line_start = True
    for line in lines:
        budget.tick()
        n = crlf_len(line)
        size += n
        starts = at_line_start
        at_line_start = line.endswith(b"\n")
        text = delimiter_text(line) if starts and stack else None
        level, closing = stack.match(text) if text is not None else (-1, False)
        if level < 0:
            if leaf is not None:
                leaf.add(line, n, at_line_start)
            continue
        close(True)
        leaf = None
        if budget.full(outline, stack):
            size += _drain(lines, budget)  # the outline is cut; the size counts every byte
            break
        if level < len(stack) - 1:
            outline.defects.append("missing_close_boundary")
            del stack.frames[level + 1:]
        if closing:
            stack.frames.pop()
            continue
        ph_size, leaf, ended = _next_part(lines, stack, outline, budget, _depth)
        size += ph_size
        at_line_start = True
        if ended:
            break
    _finish(leaf, stack, outline, budget, _depth)
    return ParsedMessage(top, outline, size, header_identity(header_bytes))


def _next_part(lines: _Lines, stack: Stack, outline: MimeOutline, budget: Budget,
               depth: int) -> tuple[int, _Leaf | None, bool]:
    """After a delimiter: read the new part's headers. (their size, the part's leaf or None
    for a multipart, whether the message ended inside the headers)."""
    ph_bytes, ph_size, ended, first = _read_headers(lines, outline.defects, budget)
    lines.push(first)
    if ended:
        outline.defects.append("truncated_part")
        return ph_size, None, True
    ph, part = open_part(ph_bytes, stack, outline)
    return ph_size, (_Leaf(part, ph, depth) if part is not None else None), False


def _finish(leaf: _Leaf | None, stack: Stack, outline: MimeOutline, budget: Budget,
            depth: int) -> None:
    """The end of the message: close the part still open and say what was left unclosed."""
    if leaf is not None:
        # a single-part body, or a part cut short: its size runs to the end
        # a part cut short by the end of a multipart message loses its last newline, as if
        # its delimiter followed (as the stdlib reads it); a single-part body keeps it
        if stack:
            outline.defects.append("missing_close_boundary")
        leaf.close(bool(stack), outline, depth, budget)
        budget.full(outline, stack)
    elif stack and "too_many_parts" not in outline.defects:
        outline.defects.append("missing_close_boundary")
    budget.check()


_HEADER_END = re.compile(rb"\n\r?\n")  # a literal first: searched at memchr speed


def _span(data: bytes, a: int, b: int, crlf: bool = True) -> int:
    """CRLF-normalised length of data[a:b]; ``crlf`` False says the data holds no CR at all
    (most Maildir files), which spares a second scan."""
    if b <= a:
        return 0
    n = (b - a) + data.count(b"\n", a, b)
    return n - data.count(b"\r\n", a, b) if crlf else n


def _header_split(data: bytes, start: int, defects: list[str]) -> tuple[int, int]:
    """(end of the header block, start of the body) of a message or part beginning at
    ``start``, with the streamed reader's rule: a blank line, or a line that is no header."""
    if data.startswith((b"\n", b"\r\n"), start):
        return start, start + (1 if data[start:start + 1] == b"\n" else 2)
    m = _HEADER_END.search(data, start)
    hdr_end, body = (len(data), len(data)) if m is None else (m.start() + 1, m.end())
    if _ends_headers(data, start):
        bad = start
    else:
        n = _NOT_HEADER.search(data, start, hdr_end)
        bad = -1 if n is None else n.start() + 1
    if bad >= 0:
        defects.append("header_without_separator")
        return bad, bad
    return hdr_end, body


def read_message_bytes(data: bytes, *, _depth: int = 0,
                       _budget: Budget | None = None) -> ParsedMessage:
    """The same result as :func:`read_message`, for a message held in memory.

    Boundary lines are found with ``bytes.find``, so the Python work grows with the number of
    MIME parts, not with the number of lines (base64 attachments have many). Collectors use
    it for messages up to ``IN_MEMORY_MAX`` bytes and stream larger ones.
    """
    budget = _budget or Budget()
    defects: list[str] = []
    start = 0
    if data.startswith(BOM):
        defects.append("byte_order_mark")
        start = len(BOM)
    hdr_end, body_start = _header_split(data, start, defects)
    header_bytes = data[start:min(hdr_end, start + MAX_HEADER)]
    if hdr_end - start > MAX_HEADER:
        defects.append("header_truncated")
    top = parse_header_block(header_bytes)
    outline = MimeOutline(defects=defects)
    crlf = b"\r" in data
    size = _span(data, start, len(data), crlf)
    if body_start >= len(data) and hdr_end == len(data):
        outline.defects.append("no_body")
    digest = header_identity(header_bytes)
    top_ph = PartHeaders.of(top)
    b0 = top_boundary(top_ph, outline) if top_ph.maintype() == "multipart" else None
    if b0 is None:
        outline.parts.append(sized(top_ph.part(), _span(data, body_start, len(data), crlf)))
    else:
        stack = Stack()
        stack.push(b0, top_ph.ctype.split("/", 1)[1])
        _walk(data, body_start, stack, outline, crlf, _depth, budget)
    budget.check()
    return ParsedMessage(top, outline, size, digest)


def _walk(data: bytes, pos: int, stack: Stack, outline: MimeOutline, crlf: bool, depth: int,
          budget: Budget) -> None:
    """The parts of a multipart body held in memory, from ``pos`` to the end."""
    finder = Delimiters(data, budget)
    leaf: tuple[Part, PartHeaders, int] | None = None  # the open leaf and where its body starts

    def close(end: int) -> None:
        part, ph, begin = leaf  # type: ignore[misc]
        outline.parts.append(sized(part, _span(data, begin, end, crlf)))
        if ph.embedded() and depth < EMBED_DEPTH and end - begin <= EMBED_MAX:
            outline.defects.extend(embedded_defects(data[begin:end], depth, budget))

    while stack:
        found = finder.find(pos, stack)
        if found is None:
            break
        at, line_end, text = found
        level, closing = stack.match(text)
        if line_end < len(data):
            line_end += 1  # past the newline
        if leaf is not None:
            # the newline before the delimiter belongs to it
            nl = 2 if data[at - 2:at] == b"\r\n" else (1 if data[at - 1:at] == b"\n" else 0)
            close(at - nl)
            leaf = None
        if budget.full(outline, stack):
            return  # the outline is cut here (the size was counted on the whole)
        if level < len(stack) - 1:
            outline.defects.append("missing_close_boundary")
            del stack.frames[level + 1:]
        pos = line_end
        if closing:
            stack.frames.pop()
            continue
        hdr_end, body = _header_split(data, pos, outline.defects)
        if hdr_end == len(data) and body == len(data) and not data.startswith(
                (b"\n", b"\r\n"), pos):
            outline.defects.append("truncated_part")
            break
        ph, part = open_part(data[pos:hdr_end], stack, outline)
        if part is not None:
            leaf = (part, ph, body)
        pos = body
    if leaf is not None:  # cut short: its last newline goes, as if a delimiter followed
        end = len(data)
        end -= 2 if data.endswith(b"\r\n") else (1 if data.endswith(b"\n") else 0)
        close(max(end, leaf[2]))
        budget.full(outline, stack)
    if stack:
        outline.defects.append("missing_close_boundary")


def iter_lines(f) -> Iterator[bytes]:  # f: a binary file object
    """Lines of a binary stream, in chunks of at most CHUNK bytes."""
    read = f.readline
    while True:
        line = read(CHUNK)
        if not line:
            return
        yield line
