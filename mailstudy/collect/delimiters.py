"""Finding the delimiter lines of a multipart message held in memory, in linear time.

Why a module of its own: this is where the quadratic reader of issue 14 lived (every part
rescanned the rest of the message for every open boundary: 466 KB took 17.5 s). Ordinary
messages are searched with ``bytes.find``, boundary by boundary, each boundary's next
delimiter remembered; a message that shows many lines that only look like delimiters is
searched with one compiled pattern for its set of boundaries (a trie, no backtracking).
"""

from __future__ import annotations

import functools
import itertools
import re

from mailstudy.collect.mimeshared import MAX_DELIMITER_LINE, Budget, Stack, delimiter_text


class Delimiters:
    """Finds the next delimiter line of an open boundary, in time linear in the message.

    One regular expression per set of open boundaries: anchored on the literal ``\n--`` (the
    engine skips base64 at memchr speed), then the boundaries as a trie (a line is compared
    with each boundary character once, however many boundaries share a prefix, the longest
    boundary taken possessively), then the tail, tried once; where boundaries are prefixes
    of one another a guard (one run of boundary bytes, then the tail) turns most near misses
    away before the trie is entered (see _boundary_pattern). A line that only looks like a
    boundary fails in C, and the search only moves forward, so an unclosed outer boundary or
    a flood of near-miss lines costs one pass over the message in all.
    """

    # Most messages never show a line that merely looks like a delimiter: their boundaries
    # are found with bytes.find (no pattern to compile per message, each boundary unique).
    # After MISSES near-miss lines the message is treated as hostile and the trie pattern
    # takes over, so that near misses fail in C.
    MISSES = 64

    def __init__(self, data: bytes, budget: Budget) -> None:
        self.data = data
        self.budget = budget
        self.patterns: dict[tuple[bytes, ...], re.Pattern[bytes]] = {}
        self.misses = 0
        self.next: dict[bytes, tuple[int, int]] = {}  # boundary -> (searched from, found)

    def _literal(self, b: bytes, at: int) -> int | None:
        """The newline before the next delimiter of ``b`` at or after ``at``, -1 if none,
        None once the message has shown too many near misses."""
        hit = self.next.get(b)
        if hit is not None and hit[0] <= at and (hit[1] < 0 or hit[1] >= at):
            return hit[1]
        data, needle = self.data, b"\n--" + b
        i = data.find(needle, at)
        while i >= 0:
            m = _TAIL_RE.match(data, i + len(needle))
            if m is not None and m.end() - i - 1 <= MAX_DELIMITER_LINE:
                break
            self.misses += 1
            if self.misses > self.MISSES:
                return None
            i = data.find(needle, i + 1)
        self.budget.scanned += (i + len(needle) if i >= 0 else len(data)) - at
        self.next[b] = (at, i)
        return i

    def _by_literals(self, at: int, stack: Stack) -> tuple[int, int, bytes] | None | bool:
        """The next delimiter found boundary by boundary; False to hand over to the trie."""
        best = -1
        for f in stack.frames:
            i = self._literal(f.boundary, at)
            if i is None:
                return False
            if i >= 0 and (best < 0 or i < best):
                best = i
        if best < 0:
            return None
        data = self.data
        end = data.find(b"\n", best + 1)
        end = len(data) if end < 0 else end
        text = delimiter_text(data[best + 1:end])
        if text is None or stack.match(text)[0] < 0:  # cannot happen: checked above
            return False
        return best + 1, end, text

    def _pattern(self, stack: Stack) -> re.Pattern[bytes]:
        key = tuple(f.boundary for f in stack.frames)
        pat = self.patterns.get(key)
        if pat is None:
            pat = self.patterns[key] = _boundary_pattern(frozenset(key))
        return pat

    def find(self, pos: int, stack: Stack) -> tuple[int, int, bytes] | None:
        """(start, end of line, text after ``--``) of the next delimiter line at or after
        ``pos`` (which is at a line start)."""
        data = self.data
        at = pos - 1 if pos > 0 else 0
        if pos == 0:  # a delimiter on the very first line has no newline before it
            pat = self._pattern(stack)
            m = pat.match(b"\n" + data[:MAX_DELIMITER_LINE + 2])
            if m is not None:
                text = delimiter_text(data[:m.end() - 1])
                if text is not None and stack.match(text)[0] >= 0:
                    return 0, m.end() - 1, text
        if self.misses <= self.MISSES:
            found = self._by_literals(at, stack)
            if found is not False:
                self.budget.tick()
                return found  # type: ignore[return-value]
        pat = self._pattern(stack)
        while True:
            self.budget.tick()
            m = pat.search(data, at)
            if m is None:
                self.budget.scanned += len(data) - at
                return None
            start, end = m.start() + 1, m.end()
            self.budget.scanned += end - at
            text = delimiter_text(data[start:end]) if end - start <= MAX_DELIMITER_LINE + 1 \
                else None
            if text is not None and stack.match(text)[0] >= 0:
                return start, end, text
            at = end


@functools.lru_cache(maxsize=4096)
def _boundary_pattern(boundaries: frozenset[bytes]) -> re.Pattern[bytes]:
    """Compiled once per set of boundaries (a mailbox repeats its clients' few shapes).

    ``\n--``, a guard, the boundaries as a trie, the tail. The guard is one possessive run
    of the boundaries' bytes followed by the tail: a tight loop in C that turns away most
    near-miss lines (a suffix, a stray byte) before the trie is entered. It is sound: a
    delimiter line is a boundary (its bytes, at most the longest boundary's length) then the
    tail, and the run, allowed two bytes more for a closing ``--`` it may swallow, cannot
    stop inside that ``--``.
    """
    words = sorted(boundaries)
    return re.compile(b"\n--" + _guard(words) + _trie(words) + _TAIL, re.MULTILINE)


def _guard(words: list[bytes]) -> bytes:
    """The guard, where it pays: only when a boundary is a prefix of another (sorted, such a
    pair is adjacent), the trie's one deep case. Elsewhere the trie alone turns a near miss
    away within a few bytes, and the guard's lookahead would cost more than it saves."""
    if not any(b.startswith(a) for a, b in itertools.pairwise(words)):
        return b""
    run = b"[" + b"".join(re.escape(bytes([c])) for c in sorted(set(b"".join(words)))) + b"]"
    lo, hi = (0 if not words[0] else 1), max(map(len, words)) + 2
    return b"(?=" + run + b"{%d,%d}+" % (lo, hi) + _TAIL + b")"


# The delimiter's tail (``--``, blanks, carriage returns, then the line's end), as
# alternatives that each open with a literal, a class or ``$`` (MULTILINE: at a newline or
# the end), never with a repeat: the engine rejects such an alternative on its first byte.
_TAIL_ALTS = (rb"--[ \t]*+\r*+$", rb"[ \t]++\r*+$", rb"\r++$", rb"$")
_TAIL = b"(?:" + b"|".join(_TAIL_ALTS) + b")"
_TAIL_RE = re.compile(_TAIL, re.MULTILINE)
_TAIL_FIRST = frozenset(b"- \t\r\n")  # the bytes a tail can open with


def _common_prefix(group: list[bytes]) -> bytes:
    common = group[0]
    for w in group[1:]:
        n = 0
        while n < min(len(common), len(w)) and common[n] == w[n]:
            n += 1
        common = common[:n]
    return common


def _trie(words: list[bytes]) -> bytes:
    """A regular expression matching exactly ``words`` (the tail is matched once, after it),
    written as a trie with single-child chains collapsed.

    Why possessive: where a boundary is a prefix of others (a, aa, aaa...), the node is
    ``(?:children)?+``: the longest boundary the line spells is taken and the tail tried once.
    A trie that tried the tail at every depth on its way back out of a near-miss line cost
    issue 14's prefix shape 35x the time of an ordinary message. Taking the longest is right
    when no child opens with a byte a tail can open with (then the tail could not have
    matched at the shorter one); otherwise that node, and every node around it (a possessive
    group would freeze its choice), keeps a backtracking ``?``.
    """
    return _node(words)[0]


def _node(words: list[bytes]) -> tuple[bytes, bool]:
    """(pattern, whether taking the longest word is always right) of a trie node."""
    firsts: dict[int, list[bytes]] = {}
    for w in words:
        if w:
            firsts.setdefault(w[0], []).append(w)
    alts, safe = [], True
    for group in firsts.values():
        common = _common_prefix(group)
        sub, sub_safe = _node([w[len(common):] for w in group])
        alts.append(re.escape(common) + sub)
        safe = safe and sub_safe
    if not alts:
        return b"", True
    body = alts[0] if len(alts) == 1 else b"(?:" + b"|".join(alts) + b")"
    if b"" not in words:
        return body, safe
    safe = safe and not _TAIL_FIRST & set(firsts)
    return b"(?:" + body + (b")?+" if safe else b")?"), safe
