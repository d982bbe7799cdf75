"""Folder paths: one spelling for every source, their role (inbox, sent, archive...) from
SPECIAL-USE or their names in English and French, and the matcher of personal folders."""

from __future__ import annotations

import re
from collections.abc import Iterable

from mailstudy.collect.headers import fold

FOLDER_NAMES: dict[str, str] = {}
for _role, _names in {
    "inbox": ["inbox", "boite de reception", "courrier entrant", "reception", "boite aux lettres"],
    "sent": ["sent", "sent items", "sent messages", "sent mail", "elements envoyes", "envoyes",
             "messages envoyes", "courrier envoye", "envoye"],
    "drafts": ["drafts", "draft", "brouillons", "brouillon"],
    "trash": ["trash", "deleted items", "deleted messages", "deleted", "elements supprimes",
              "corbeille", "bin", "supprimes"],
    "junk": ["junk", "spam", "junk e-mail", "junk email", "courrier indesirable",
             "indesirables", "pourriel", "pourriels", "bulk mail"],
    "archive": ["archive", "archives", "archivage", "archived"],
}.items():
    for _n in _names:
        FOLDER_NAMES[_n] = _role

SPECIAL_USE = {"\\sent": "sent", "\\drafts": "drafts", "\\trash": "trash", "\\junk": "junk",
               "\\archive": "archive", "\\all": "archive"}


def normalise_folder(parts: tuple[str, ...]) -> tuple[str, ...]:
    """One spelling of a folder path for every source: the inbox is ``INBOX`` (any case, as
    IMAP says), its subfolders keep it as their first component."""
    parts = tuple(p for p in parts if p)
    if not parts:
        return ("INBOX",)
    if parts[0].upper() == "INBOX":
        return ("INBOX", *parts[1:])
    return parts


def folder_role(folder: tuple[str, ...], special_use: str | None = None) -> str:
    """Role from SPECIAL-USE when given, else from the last name, else inherited from an
    archive ancestor; the top of a mailbox is the inbox."""
    if special_use:
        r = SPECIAL_USE.get(special_use.lower())
        if r:
            return r
    if not folder:
        return "inbox"
    r = FOLDER_NAMES.get(fold(folder[-1]))
    if r:
        return r
    if any(FOLDER_NAMES.get(fold(f)) == "archive" for f in folder[:-1]):
        return "archive"
    return "other"


def personal_matcher(patterns: Iterable[str]):  # -> Callable[[tuple[str, ...]], bool]
    """A folder is personal when one of its path components starts with a pattern word."""
    regs = [re.compile(rf"^{re.escape(fold(p))}(\b|$)") for p in patterns if p.strip()]

    def is_personal(folder: tuple[str, ...]) -> bool:
        return any(r.match(fold(c)) for c in folder for r in regs)

    return is_personal
