"""The delimiter pattern of hostile mode (collect/delimiters.py) against the RFC 2046 rule it
stands for: a line is a delimiter of a boundary b iff it reads ``--`` b, an optional ``--``,
blanks, carriage returns. The pattern (an RE2 automaton over an alternation of the
boundaries) must stay exact where boundaries are prefixes of one another and continue with
the bytes a tail is made of (``-``, blanks)."""

from __future__ import annotations

import io
import itertools
import random
import re

from mailstudy.collect.delimiters import _boundary_pattern
from mailstudy.collect.mime import iter_lines, read_message, read_message_bytes

RULE_TAIL = re.compile(rb"(?:--)?[ \t]*\r*")


def is_delimiter(line: bytes, boundaries: set[bytes]) -> bool:
    """The rule, spelled out: every way of cutting the line into boundary and tail."""
    if not line.startswith(b"--"):
        return False
    text = line[2:]
    return any(text[:n] in boundaries and RULE_TAIL.fullmatch(text[n:])
               for n in range(len(text) + 1))


def test_pattern_matches_exactly_the_delimiter_lines() -> None:
    rng = random.Random(14)
    alphabet = b"ab-"
    for _ in range(300):
        stem = bytes(rng.choice(alphabet) for _ in range(rng.randint(1, 3)))
        # a chain of prefixes, some extended by tail bytes ("b", "b-", "b--a"...), and others
        boundaries = {stem + bytes(rng.choice(alphabet) for _ in range(k))
                      for k in range(rng.randint(1, 5))}
        boundaries |= {bytes(rng.choice(alphabet) for _ in range(rng.randint(1, 5)))
                       for _ in range(rng.randint(0, 3))}
        pattern = _boundary_pattern(frozenset(boundaries))
        for _ in range(60):
            base = rng.choice(sorted(boundaries))
            tail = bytes(rng.choice(b"ab- \t\r") for _ in range(rng.randint(0, 4)))
            line = b"--" + base[:rng.randint(0, len(base))] + tail
            got = pattern.match(b"\n" + line) is not None
            assert got == is_delimiter(line, boundaries), (sorted(boundaries), line)


def nested_message(boundaries: list[bytes], misses: int) -> bytes:
    """Multiparts nested on ``boundaries`` (each a prefix of the next, continued by ``-``),
    a flood of near-miss lines in the innermost part, then every level closed."""
    out = [b"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"%s\"\n\n" %
           boundaries[0]]
    for outer, inner in itertools.pairwise(boundaries):
        out.append(b"--%s\nContent-Type: multipart/mixed; boundary=\"%s\"\n\n" % (outer, inner))
    out.append(b"--%s\nContent-Type: text/plain\n\ntexte\n" % boundaries[-1])
    out += [b"--%sy\n--%s-y\n" % (b, b) for b in boundaries] * misses
    for b in reversed(boundaries):
        out.append(b"--%s\nContent-Type: text/plain\n\nfin\n--%s--  \r\n" % (b, b))
    return b"".join(out)


def test_readers_agree_where_boundaries_continue_with_a_dash() -> None:
    # enough near misses for the in-memory reader to switch to the pattern (hostile mode)
    raw = nested_message([b"b", b"b-", b"b--", b"b--x"], misses=40)
    a = read_message(iter_lines(io.BytesIO(raw)))
    b = read_message_bytes(raw)
    assert a.outline.parts == b.outline.parts
    assert sorted(set(a.outline.defects)) == sorted(set(b.outline.defects))
    assert sum(p.content_type == "text/plain" for p in b.outline.parts) == 5
