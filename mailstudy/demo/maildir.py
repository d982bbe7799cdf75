"""Maildir++ folder naming, shared by the council writer and the test Dovecot."""

from __future__ import annotations

from imapclient import imap_utf7


def folder_dirname(folder: str) -> str:
    """Maildir++ directory of an IMAP folder name: 'INBOX' -> '', 'A/B' or 'A.B' -> '.A.B'.

    Non-ASCII names are stored in IMAP modified UTF-7, as Dovecot's Maildir++ layout does
    ('Éléments envoyés' -> '.&AMk-l&AOk-ments envoy&AOk-s').
    """
    if folder.upper() == "INBOX":
        return ""
    return "." + imap_utf7.encode(folder.replace("/", ".")).decode("ascii")
