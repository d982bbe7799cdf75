"""The folders of a mailbox: server names to the path components file collection uses, and
the selection (SPECIAL-USE roles, include/exclude patterns, personal folders) of those to
collect."""

from __future__ import annotations

import fnmatch
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from mailstudy.collect.folders import folder_role, personal_matcher
from mailstudy.collect.headers import fold


@dataclass(frozen=True)
class Folder:
    name: str  # server name (never logged)
    path: tuple[str, ...]  # components, as file collection names them
    role: str

    def __repr__(self) -> str:
        return f"Folder(<hidden>, role={self.role})"


def folder_path(name: str, delimiter: str | None) -> tuple[str, ...]:
    """Path components of a server folder name, aligned with the Maildir walker: INBOX is
    ('INBOX',) and an 'INBOX' prefix (Cyrus style 'INBOX.Sent') is dropped."""
    parts = tuple(p for p in (name.split(delimiter) if delimiter else [name]) if p)
    if not parts:
        return ("INBOX",)
    if fold(parts[0]) == "inbox":
        parts = parts[1:] or ("INBOX",)
    return parts


def _pattern_matcher(patterns: Iterable[str]) -> Callable[[tuple[str, ...]], bool]:
    pats = [fold(p).replace("\\", "/") for p in patterns if p.strip()]

    def match(path: tuple[str, ...]) -> bool:
        s = fold("/".join(path))
        return any(fnmatch.fnmatchcase(s, p) or fnmatch.fnmatchcase(s, p + "/*") for p in pats)

    return match


def select_folders(listing: Iterable[tuple[Sequence[bytes], bytes | None, str]],
                   include: Sequence[str] = (), exclude: Sequence[str] = (),
                   personal: Sequence[str] = ()) -> tuple[list[Folder], Counter[str]]:
    """Folders to collect from a LIST answer, and counts of those skipped and why.

    Role from the SPECIAL-USE attribute when the server gives one, else from the name.
    ``include``/``exclude`` are shell patterns on the path ('Archives/*'), case and accents
    ignored; a pattern also covers the folder's subfolders.
    """
    inc = _pattern_matcher(include) if include else None
    exc = _pattern_matcher(exclude)
    is_personal = personal_matcher(personal)
    out: list[Folder] = []
    skipped: Counter[str] = Counter()
    seen: set[tuple[str, ...]] = set()
    for flags, delim, name in listing:
        fl = {f.decode("ascii", "replace").lower() if isinstance(f, bytes) else str(f).lower()
              for f in flags}
        if "\\noselect" in fl or "\\nonexistent" in fl:
            skipped["noselect_folders"] += 1
            continue
        d = delim.decode("ascii", "replace") if isinstance(delim, bytes) else delim
        path = folder_path(name if isinstance(name, str) else name.decode("utf-8", "replace"), d)
        if is_personal(path):
            skipped["personal_folders"] += 1
            continue
        if (inc is not None and not inc(path)) or exc(path):
            skipped["excluded_folders"] += 1
            continue
        if path in seen:  # two server names mapping to one path: keep the first
            skipped["duplicate_folder_paths"] += 1
            continue
        seen.add(path)
        special = next((f for f in fl if f in ("\\sent", "\\drafts", "\\trash", "\\junk",
                                               "\\archive", "\\all")), None)
        out.append(Folder(name if isinstance(name, str) else name.decode(), path,
                          folder_role(path, special)))
    return out, skipped

