"""Finding the delimiter lines of a multipart message held in memory, in linear time.

Why a module of its own: this is where the quadratic reader of issue 14 lived (every part
rescanned the rest of the message for every open boundary: 466 KB took 17.5 s). Ordinary
messages are searched with ``bytes.find``, boundary by boundary, each boundary's next
delimiter remembered; a message that shows many lines that only look like delimiters is
searched with one RE2 automaton for its set of boundaries (google-re2: linear time by
construction, each byte read once, whatever the boundaries or the lines look like).
"""

from __future__ import annotations

import functools
import re

import re2

from mailstudy.collect.mimeshared import MAX_DELIMITER_LINE, Budget, Stack, delimiter_text


class Delimiters:
    """Finds the next delimiter line of an open boundary, in time linear in the message.

    Two ways, both moving only forward: boundary by boundary with ``bytes.find`` while the
    message looks ordinary, then, once it has shown many near misses, one RE2 automaton per
    set of open boundaries (see _boundary_pattern). A line that only looks like a delimiter
    is turned away inside the automaton, so an unclosed outer boundary or a flood of
    near-miss lines costs one pass over the message in all.
    """

    # Most messages never show a line that merely looks like a delimiter: their boundaries
    # are found with bytes.find (no pattern to compile per message, each boundary unique).
    # After MISSES near-miss lines the message is treated as hostile and the automaton
    # takes over, so that near misses fail in C.
    MISSES = 64

    def __init__(self, data: bytes, budget: Budget) -> None:
        self.data = data
        self.budget = budget
        self.patterns: dict[tuple[bytes, ...], re2._Regexp] = {}
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
        """The next delimiter found boundary by boundary; False to hand over to the automaton."""
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

    def _pattern(self, stack: Stack) -> re2._Regexp:
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


@functools.lru_cache(maxsize=64)
def _boundary_pattern(boundaries: frozenset[bytes]) -> re2._Regexp:
    """Compiled once per set of boundaries (a mailbox repeats its clients' few shapes; few
    are kept: each automaton holds up to ``max_mem`` of states, 2 MiB, past which RE2 runs
    its NFA, slower but still linear).

    ``\n--``, the boundaries, the tail (``--``, blanks, carriage returns, the line's end), for
    RE2: an automaton, so a line is read once whatever the boundaries share, and no near miss
    re-enters an engine (Python's own ``re`` restarts per ``--`` line, about 45 ns each: a
    flood of such lines cost 6x an ordinary message). Bytes are Latin-1 to RE2: a boundary
    or a body is bytes, not UTF-8.
    """
    words = b"|".join(re2.escape(b) for b in sorted(boundaries, key=len, reverse=True))
    return re2.compile(b"(?m)\n--(?:" + words + b")" + _TAIL, _RE2_OPTIONS)


_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.encoding = re2.Options.Encoding.LATIN1
_RE2_OPTIONS.never_capture = True
_RE2_OPTIONS.max_mem = 2 << 20

# The delimiter's tail (RFC 2046: an optional closing ``--``, then transport padding), up to
# the line's end (MULTILINE: at a newline or the end of the message).
_TAIL = rb"(?:--)?[ \t]*\r*$"
# the same tail for Python's engine, possessive (exact: the three pieces open with different
# bytes), so a long run of blanks that does not end the line is read once
_TAIL_RE = re.compile(rb"(?:--)?+[ \t]*+\r*+$", re.MULTILINE)
