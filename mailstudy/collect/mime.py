"""Streaming reader of one raw message: header block plus MIME outline, bodies skipped.

Why not ``email.parser``: it keeps the whole message (and every attachment) in memory and
decodes bodies we never need. Here lines are read in chunks of at most ``CHUNK`` bytes, only
part headers are parsed, and body lines are merely counted, so memory does not grow with
attachment size. Sizes are counted with CRLF line endings, the way IMAP servers report
RFC822.SIZE and BODYSTRUCTURE sizes, so file and IMAP collection agree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message

from mailstudy.collect.headers import MimeOutline, Part, extension_of, parse_header_block

CHUNK = 65536
MAX_HEADER = 1 << 20  # a header block larger than this is truncated (and counted)
MAX_DEPTH = 20


def _crlf_len(line: bytes) -> int:
    if line.endswith(b"\r\n"):
        return len(line)
    if line.endswith(b"\n"):
        return len(line) + 1
    return len(line)


@dataclass
class ParsedMessage:
    headers: Message
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


def _part_from_headers(h: Message, size: int = 0) -> Part:
    ctype = h.get_content_type()
    disp_raw = h.get("Content-Disposition")
    disposition = ""
    if disp_raw is not None:
        disposition = str(disp_raw).split(";", 1)[0].strip().lower()
        if disposition not in ("attachment", "inline"):
            disposition = "attachment" if disposition else ""
    try:
        filename = h.get_param("filename", header="content-disposition") or h.get_param("name")
    except Exception:
        filename = None
    if isinstance(filename, tuple):  # RFC 2231 (charset, lang, value)
        filename = filename[2]
    fn = str(filename) if filename else None
    return Part(ctype, disposition, bool(fn), extension_of(fn), size)


def _boundary(h: Message) -> bytes | None:
    try:
        b = h.get_param("boundary")
    except Exception:
        return None
    if isinstance(b, tuple):
        b = b[2]
    if not b:
        return None
    try:
        return str(b).strip().encode("ascii")
    except UnicodeEncodeError:
        return str(b).strip().encode("utf-8", "replace")


def read_message(lines: Iterator[bytes]) -> ParsedMessage:
    """Parse one message from an iterator of raw lines (chunks of at most CHUNK bytes)."""
    defects: list[str] = []
    header_bytes, size, ended = _read_headers(lines, defects)
    top = parse_header_block(header_bytes)
    outline = MimeOutline(defects=defects)
    if ended:
        outline.defects.append("no_body")
    top_boundary = _boundary(top) if top.get_content_maintype() == "multipart" else None
    if top.get_content_maintype() == "multipart" and top_boundary is None:
        outline.defects.append("multipart_without_boundary")

    # stack of open multipart boundaries; `leaf` is the part whose body we are counting
    stack: list[bytes] = [top_boundary] if top_boundary else []
    leaf: Part | None = None if stack else _part_from_headers(top)
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
                ph = parse_header_block(ph_bytes)
                at_line_start = True
                if ended:
                    outline.defects.append("truncated_part")
                    break
                if ph.get_content_maintype() == "multipart":
                    b = _boundary(ph)
                    if b is None:
                        outline.defects.append("multipart_without_boundary")
                        leaf = _part_from_headers(ph)
                    elif len(stack) >= MAX_DEPTH:
                        outline.defects.append("mime_too_deep")
                        leaf = _part_from_headers(ph)
                    else:
                        stack.append(b)
                else:
                    leaf = _part_from_headers(ph)
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
    return ParsedMessage(top, outline, size, hashlib.sha256(header_bytes).hexdigest())


def iter_lines(f) -> Iterator[bytes]:  # f: a binary file object
    """Lines of a binary stream, in chunks of at most CHUNK bytes."""
    read = f.readline
    while True:
        line = read(CHUNK)
        if not line:
            return
        yield line
