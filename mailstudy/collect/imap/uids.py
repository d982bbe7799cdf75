"""IMAP sequence sets and UID ranges: what a folder may hold that the store lacks, written
compactly for one ``UID FETCH``."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence


def uid_set(uids: Sequence[int]) -> str:
    """A compact IMAP sequence set ('1:5,9,12:14') of exactly these UIDs."""
    s = sorted(uids)
    out: list[str] = []
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and s[j + 1] == s[j] + 1:
            j += 1
        out.append(str(s[i]) if i == j else f"{s[i]}:{s[j]}")
        i = j + 1
    return ",".join(out)


def uid_gaps(have: Iterable[int], top: int) -> list[tuple[int, int]]:
    """The UID ranges in 1..``top`` that are not in ``have`` (what a folder may hold that the
    store lacks), so one ``UID FETCH`` of them replaces a SEARCH round trip."""
    out: list[tuple[int, int]] = []
    lo = 1
    for u in sorted(u for u in set(have) if 1 <= u <= top):
        if u > lo:
            out.append((lo, u - 1))
        lo = u + 1
    if lo <= top:
        out.append((lo, top))
    return out


def ranges_spec(ranges: Sequence[tuple[int, int]]) -> str:
    """'1:5,9' for [(1, 5), (9, 9)]. Never '*': 'n:*' also matches the last message when n
    is above every UID."""
    return ",".join(str(a) if a == b else f"{a}:{b}" for a, b in ranges)


def in_ranges(uid: int, ranges: Sequence[tuple[int, int]]) -> bool:
    i = bisect.bisect_right(ranges, (uid, float("inf"))) - 1
    return i >= 0 and ranges[i][0] <= uid <= ranges[i][1]

