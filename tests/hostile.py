"""A generator of hostile messages: the shapes that break mail readers (deep nesting, unclosed
boundaries, boundary floods, giant header lines, long single-line bodies, mixed encodings,
byte-order marks), each at any size, seeded. Used by tests/test_collect_robustness.py and
benchmarks/bench_robustness.py.

Each generator takes a target size in bytes and a ``random.Random`` and returns the raw
message; sizes are approximate (within a few hundred bytes).
"""

from __future__ import annotations

import base64
import random
from collections.abc import Callable

HEAD = ("From: Marie Curie <marie.curie@region.test>\nTo: Jean Dupont <jean.dupont@region.test>"
        "\nSubject: {subject}\nDate: Mon, 07 Sep 2026 10:00:00 +0200\nMessage-ID: <{mid}"
        "@region.test>\nMIME-Version: 1.0\n")


def _head(name: str, ctype: str, rng: random.Random, extra: str = "") -> bytes:
    return (HEAD.format(subject=name, mid=f"{name}.{rng.randrange(10**9)}") + extra
            + f"Content-Type: {ctype}\n\n").encode()


def ordinary(size: int, rng: random.Random) -> bytes:
    """A plain message with a base64 PDF: what most large mail is."""
    head = _head("ordinary", 'multipart/mixed; boundary="=_b"', rng)
    raw = rng.randbytes(max(size * 3 // 4 - 600, 0))
    att = base64.encodebytes(raw)
    return (head + b"--=_b\nContent-Type: text/plain; charset=utf-8\n\nBonjour,\nci-joint.\n"
            b"--=_b\nContent-Type: application/pdf; name=a.pdf\nContent-Disposition: "
            b"attachment; filename=a.pdf\nContent-Transfer-Encoding: base64\n\n" + att
            + b"--=_b--\n")


def boundary_flood(size: int, rng: random.Random) -> bytes:
    """An outer boundary never seen again (unclosed) around an inner multipart whose
    delimiter repeats on nearly every line: the shape that made the in-memory reader rescan
    the rest of the message for every part (466 KB: 17.5 s)."""
    out = bytearray(_head("flood", 'multipart/mixed; boundary="outer"', rng))
    out += b"--outer\nContent-Type: multipart/alternative; boundary=\"in\"\n\n"
    line = b"--in\n\nx\n--inx\n-- in\n"
    out += line * max((size - len(out)) // len(line), 1)
    return bytes(out)


def near_miss_flood(size: int, rng: random.Random) -> bytes:
    """Lines that start like a delimiter of the open boundaries but are none (a suffix, a
    space, a prefix), under an outer boundary never closed: no part is ever opened, so no
    part limit helps; only a reader that never rescans stays linear."""
    out = bytearray(_head("nearmiss", 'multipart/mixed; boundary="outer"', rng))
    out += b"--outer\nContent-Type: multipart/alternative; boundary=\"in\"\n\n"
    out += b"--in\nContent-Type: text/plain\n\n"
    line = b"--inx\n-- in\n--outerz\n--in -\n--i\n"
    out += line * max((size - len(out)) // len(line), 1)
    return bytes(out)


def literal_near_miss_flood(size: int, rng: random.Random) -> bytes:
    """The shortest lines that spell an open boundary in full and fail only in the tail
    (``--in -``, ``--in--x``, ``--in\rx``): every line passes any test on the boundary's
    bytes, so each one must be turned away by the tail, at no more than a byte's cost."""
    out = bytearray(_head("literal", 'multipart/mixed; boundary="in"', rng))
    out += b"--in\nContent-Type: text/plain\n\n"
    line = b"--in -\n--in--x\n--in\rx\n--in\t.\n"
    out += line * max((size - len(out)) // len(line), 1)
    return bytes(out)


def unclosed_boundaries(size: int, rng: random.Random) -> bytes:
    """Twenty nested multiparts, none closed, then parts of the innermost only."""
    out = bytearray(_head("unclosed", 'multipart/mixed; boundary="b0"', rng))
    for i in range(1, 20):
        out += f"--b{i - 1}\nContent-Type: multipart/mixed; boundary=\"b{i}\"\n\n".encode()
    part = b"--b19\nContent-Type: text/plain\n\n" + b"texte " * 10 + b"\n"
    out += part * max((size - len(out)) // len(part), 1)
    return bytes(out)


def deep_nesting(size: int, rng: random.Random) -> bytes:
    """Multiparts nested 200 deep (beyond any reader's limit), closed, with padding."""
    depth = 200
    out = bytearray(_head("deep", 'multipart/mixed; boundary="d0"', rng))
    for i in range(1, depth):
        out += f"--d{i - 1}\nContent-Type: multipart/mixed; boundary=\"d{i}\"\n\n".encode()
    pad = max(size - len(out) - depth * 12, 0)
    out += f"--d{depth - 1}\nContent-Type: text/plain\n\n".encode() + b"y" * pad + b"\n"
    for i in range(depth - 1, -1, -1):
        out += f"--d{i}--\n".encode()
    return bytes(out)


def prefix_boundaries(size: int, rng: random.Random) -> bytes:
    """Boundaries that are prefixes of one another, and lines that start like each."""
    out = bytearray(_head("prefix", 'multipart/mixed; boundary="a"', rng))
    for i in range(2, 12):
        out += b"--" + b"a" * (i - 1) + f"\nContent-Type: multipart/mixed; boundary=\"{'a' * i}\""\
            .encode() + b"\n\n"
    line = b"".join(b"--" + b"a" * k + b"b\n" for k in range(1, 12))
    body = b"--" + b"a" * 11 + b"\nContent-Type: text/plain\n\n"
    out += body + line * max((size - len(out)) // len(line), 1)
    return bytes(out)


def giant_header_line(size: int, rng: random.Random) -> bytes:
    """One Subject line of ``size`` bytes, no fold."""
    return _head("giant", "text/plain", rng, extra="X-Junk: " + "z" * size + "\n") + b"hi\n"


def folded_header(size: int, rng: random.Random) -> bytes:
    """A To header folded over tens of thousands of continuation lines."""
    line = " \"Agent\" <agent@region.test>,\n"
    n = max(size // len(line), 1)
    return (HEAD.format(subject="folded", mid=f"f{rng.randrange(10**9)}")
            + "Cc: x@region.test,\n" + line * n + " last@region.test\n"
            + "Content-Type: text/plain\n\nhi\n").encode()


def long_single_line(size: int, rng: random.Random) -> bytes:
    """A body of one line of ``size`` bytes, no newline at all."""
    return _head("oneline", "text/plain", rng) + b"w" * size


def long_line_in_parts(size: int, rng: random.Random) -> bytes:
    """A multipart whose text part is one giant line starting like a delimiter."""
    head = _head("longpart", 'multipart/mixed; boundary="p"', rng)
    return head + b"--p\nContent-Type: text/plain\n\n--p" + b" " * size + b"x\n--p--\n"


def mixed_encodings(size: int, rng: random.Random) -> bytes:
    """Headers in several charsets (declared, undeclared, unknown, broken encoded words),
    raw 8-bit, quoted-printable and base64 parts, CR-only and CRLF line ends mixed."""
    extra = ("Subject2: =?iso-8859-1?q?r=E9union?= =?utf-8?b?w6l0w6k=?= =?x-unknown?q?a?=\n"
             "Comments: =?utf-8?q?=FF=FE?= \udce9t\udce9\n"
             "Reply-To: =?utf-8?b?TWFyaWUgPG1hcmllQHJlZ2lvbi50ZXN0Pg==?=\n")
    head = _head("mixed", 'multipart/mixed; boundary="m"', rng, extra=extra.encode(
        "utf-8", "surrogateescape").decode("latin-1"))
    part = (b"--m\r\nContent-Type: text/plain; charset=koi8-r\r\nContent-Transfer-Encoding: "
            b"quoted-printable\r\n\r\n=D0=F2 \xe9\xe8 caf\xc3\xa9\r\n--m\nContent-Type: text/html;"
            b" charset=\"utf-7\"\nContent-Transfer-Encoding: base64\n\n"
            + base64.encodebytes(rng.randbytes(300)) + b"\r--m\r\n\r\nno headers at all\r\n")
    return head + part * max((size - len(head)) // len(part), 1) + b"--m--\n"


def with_bom(size: int, rng: random.Random) -> bytes:
    return b"\xef\xbb\xbf" + ordinary(size, rng)


GENERATORS: dict[str, Callable[[int, random.Random], bytes]] = {
    "boundary_flood": boundary_flood, "near_miss_flood": near_miss_flood,
    "literal_near_miss_flood": literal_near_miss_flood,
    "unclosed_boundaries": unclosed_boundaries,
    "deep_nesting": deep_nesting, "prefix_boundaries": prefix_boundaries,
    "giant_header_line": giant_header_line, "folded_header": folded_header,
    "long_single_line": long_single_line, "long_line_in_parts": long_line_in_parts,
    "mixed_encodings": mixed_encodings, "with_bom": with_bom,
}
