"""The IMAP commands that bypass imapclient: the bulk ``UID FETCH`` (its generic parser is
slow) and the pipelined bursts of STATUS and of EXAMINE + UID FETCH (imapclient waits for
each answer), all sent through its imaplib connection."""

from __future__ import annotations

import contextlib
import imaplib
from collections.abc import Sequence
from typing import TYPE_CHECKING

from imapclient import IMAPClient

from mailstudy.collect.imap.errors import TransientError, kind_of
from mailstudy.collect.imap.folders import Folder
from mailstudy.collect.imap.parser import Fetched, fetched_from, parse_status
from mailstudy.collect.imap.uids import in_ranges, ranges_spec, uid_set

if TYPE_CHECKING:
    from mailstudy.collect.imap.units import FolderGaps

PIPELINE = 50  # commands sent before reading answers: small enough never to fill TCP buffers
FETCH_ITEMS = "(UID FLAGS RFC822.SIZE INTERNALDATE BODYSTRUCTURE BODY.PEEK[HEADER])"


def fetch_batch(client: IMAPClient, uids: Sequence[int]) -> list[Fetched]:
    """One ``UID FETCH`` of metadata for ``uids``; bodies are never requested."""
    imap = client._imap  # noqa: SLF001 - the bulk path bypasses imapclient's slow parser
    try:
        typ, data = imap.uid("FETCH", uid_set(uids), FETCH_ITEMS)
    except (imaplib.IMAP4.abort, OSError) as exc:
        raise TransientError("connection lost during {command} ({kind})", command="FETCH",
                             kind=kind_of(exc)) from None
    except imaplib.IMAP4.error:
        raise TransientError("the server rejected the FETCH") from None
    if typ != "OK":
        raise TransientError("the server refused the FETCH")
    wanted = set(uids)
    return fetched_from(data or [], wanted.__contains__)


def pipelined_statuses(client: IMAPClient, folders: Sequence[Folder]
                       ) -> list[tuple[int, int, int] | None]:
    """STATUS (MESSAGES UIDNEXT UIDVALIDITY) of every folder, all commands sent before
    the first answer is read. None for a folder the server refuses to STATUS."""
    imap = client._imap  # noqa: SLF001 - imapclient cannot pipeline
    try:
        tags = [imap._command("STATUS", client._normalise_folder(f.name),  # noqa: SLF001
                              "(MESSAGES UIDNEXT UIDVALIDITY)") for f in folders]
        out: list[tuple[int, int, int] | None] = []
        for tag in tags:
            imap.untagged_responses.pop("STATUS", None)
            typ, _ = imap._command_complete("STATUS", tag)  # noqa: SLF001
            data = imap.untagged_responses.pop("STATUS", None)
            out.append(parse_status(data) if typ == "OK" else None)
        return out
    except (imaplib.IMAP4.abort, OSError) as exc:
        raise TransientError("connection lost during {command} ({kind})", command="STATUS",
                             kind=kind_of(exc)) from None
    except imaplib.IMAP4.error:
        raise TransientError("the server rejected STATUS") from None


REFUSED: list[Fetched] = []  # the answer for a folder the server refused to open (by identity)


def pipelined_gap_fetch(client: IMAPClient, group: Sequence[FolderGaps]
                        ) -> tuple[list[list[Fetched] | None], bool]:
    """EXAMINE then UID FETCH of the missing ranges, for every folder of ``group``, all
    pipelined (one round trip): per folder its messages, or None when its UIDVALIDITY
    changed; and whether the server refused to open a folder."""
    imap = client._imap  # noqa: SLF001
    try:
        imap.is_readonly = True
        tags = []
        for g in group:
            t1 = imap._command("EXAMINE", client._normalise_folder(g.folder.name))  # noqa: SLF001
            imap.state = "SELECTED"  # imaplib allows UID commands only once selected
            t2 = imap._command("UID", "FETCH", ranges_spec(g.ranges), FETCH_ITEMS)  # noqa: SLF001
            tags.append((t1, t2))
        out: list[list[Fetched] | None] = []
        refused = False
        for g, (t1, t2) in zip(group, tags, strict=True):
            for k in ("UIDVALIDITY", "FETCH"):
                imap.untagged_responses.pop(k, None)
            typ1, _ = imap._command_complete("EXAMINE", t1)  # noqa: SLF001
            uv = imap.untagged_responses.pop("UIDVALIDITY", [None])[-1]
            imap.untagged_responses.pop("FETCH", None)
            if typ1 != "OK":
                # one folder the server will not open: its FETCH fails too (no folder
                # selected); the folder is counted and skipped, the others go on
                with contextlib.suppress(imaplib.IMAP4.error):
                    imap._command_complete("UID", t2)  # noqa: SLF001
                imap.untagged_responses.pop("FETCH", None)
                refused = True
                out.append(REFUSED)
                continue
            typ2, _ = imap._command_complete("UID", t2)  # noqa: SLF001
            data = imap.untagged_responses.pop("FETCH", None) or []
            if uv is None or int(uv) != g.uidvalidity:
                out.append(None)
                continue
            if typ2 != "OK":
                raise TransientError("the server refused the FETCH")
            out.append(fetched_from(data, lambda u, r=g.ranges: in_ranges(u, r)))
    except (imaplib.IMAP4.abort, OSError) as exc:
        raise TransientError("connection lost during {command} ({kind})", command="FETCH",
                             kind=kind_of(exc)) from None
    except imaplib.IMAP4.error:
        raise TransientError("the server rejected the FETCH") from None
    return out, refused
