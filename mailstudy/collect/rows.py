"""From a header block and a MIME outline to one pseudonymised ``messages`` row.

Shared by every collector (files and IMAP) so that the same message gives the same row by
either route. Two inputs only: the header block (:mod:`~mailstudy.collect.headers`) and a list
of :class:`~mailstudy.collect.parts.Part` (the leaves of the MIME tree), which the file walker
(:mod:`mailstudy.collect.mime`) reads from the stream and the IMAP collector from
BODYSTRUCTURE. Bodies are never needed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from email.message import Message
from typing import Any
from zoneinfo import ZoneInfo

from mailstudy.collect.addresses import Identities
from mailstudy.collect.headers import (
    FORWARD_PREFIXES,
    REPLY_PREFIXES,
    choose_date,
    client_family,
    decode_text,
    importance,
    is_bulk,
    message_ids,
    subject_features,
)
from mailstudy.collect.parts import MimeOutline, summarise_parts
from mailstudy.schema import MARK_EXTERNAL, MARK_INVALID, MARK_PARTNER


@dataclass
class Context:
    """What a collector knows about the message besides its headers."""

    mailbox: str  # owner pseudonym
    source: str
    item_key: str  # locator within the source; hashed, never stored
    folder: tuple[str, ...]  # folder path components (hashed, never stored)
    folder_role: str
    size_bytes: int
    seen: bool | None = None
    answered: bool | None = None
    flagged: bool | None = None
    fallback_date: dt.datetime | None = None
    imap_uidvalidity: int | None = None
    imap_uid: int | None = None


def item_family(source: str) -> str:
    """Every file format shares one key family (a message exported twice, in two layouts, is
    one row); IMAP keys are UIDs."""
    return "imap" if source == "imap" else "file"


class RowBuilder:
    """Builds ``messages`` rows; one per collector process."""

    def __init__(self, identities: Identities, tz: ZoneInfo,
                 now: dt.datetime | None = None) -> None:
        self.ids = identities
        self.p = identities.p
        self.tz = tz
        self.now = now or dt.datetime.now(dt.UTC)

    def folder_id(self, folder: tuple[str, ...]) -> str:
        return self.p.digest("folder", "/".join(folder))

    def item_id(self, mailbox: str, source_kind: str, key: str) -> str:
        return self.p.digest("item", f"{mailbox}\x00{source_kind}\x00{key}")

    def build(self, msg: Message, outline: MimeOutline, ctx: Context) -> dict[str, Any]:
        defects = list(outline.defects)
        defects.extend(d if isinstance(d, str) else type(d).__name__
                       for d in getattr(msg, "defects", []) or [])
        people = self._people(msg, defects)
        ids = self._thread(msg, defects)
        subject = decode_text(msg.get("Subject"), defects)
        subject_len, n_prefixes, first = subject_features(subject)
        # a forward keeps the In-Reply-To of what it forwards in some clients: still a forward
        is_forward = first in FORWARD_PREFIXES
        is_reply = (first in REPLY_PREFIXES) or (ids["in_reply_to"] is not None
                                                 and not is_forward)
        text_bytes, n_att, kinds = summarise_parts(outline.parts)
        sent = people["sender"] is not None and people["sender"] == ctx.mailbox
        direction = "sent" if sent or ctx.folder_role in ("sent", "drafts") else "received"
        date = choose_date(msg, ctx.fallback_date, defects, self.now)
        return self._row(ctx, people, ids, date, direction, {
            "text_bytes": text_bytes, "n_attachments": n_att, "attachment_kinds": kinds,
            "is_reply": is_reply, "is_forward": is_forward, "subject_len": subject_len,
            "n_prefixes": n_prefixes, "is_bulk": is_bulk(msg),
            "client_family": client_family(msg), "importance": importance(msg),
            "defects": sorted(set(defects))})

    def _people(self, msg: Message, defects: list[str]) -> dict[str, Any]:
        """Sender and recipients as pseudonyms or markers, and their counts."""
        from_ = self.ids.tokens(msg.get_all("From"), defects)
        to = self.ids.tokens(msg.get_all("To"), defects)
        cc = self.ids.tokens(msg.get_all("Cc"), defects)
        bcc = self.ids.tokens(msg.get_all("Bcc"), defects)
        recips = to + cc + bcc
        outside = (MARK_EXTERNAL, MARK_PARTNER)
        return {"sender": from_[0] if from_ else None, "to": to, "cc": cc, "bcc": bcc,
                "n_to": len(to), "n_cc": len(cc), "n_bcc": len(bcc),
                "n_internal": sum(1 for r in recips if r not in outside + (MARK_INVALID,)),
                "n_external": sum(1 for r in recips if r in outside)}

    def _thread(self, msg: Message, defects: list[str]) -> dict[str, Any]:
        """message_id, in_reply_to and thread_root pseudonyms."""
        p = self.p
        mids = message_ids(str(msg.get("Message-ID", "") or ""))
        if mids:
            message_id = p.digest("message", mids[0])
        else:
            defects.append("missing_message_id")
            basis = "\x00".join(str(msg.get(h, "")) for h in ("Date", "From", "To", "Subject"))
            message_id = p.digest("message", "substitute:" + hashlib.sha256(
                basis.encode("utf-8", "replace")).hexdigest())
        irt_ids = message_ids(str(msg.get("In-Reply-To", "") or ""))
        in_reply_to = p.digest("message", irt_ids[-1]) if irt_ids else None
        refs = message_ids(str(msg.get("References", "") or ""))
        thread_root = p.digest("message", refs[0]) if refs else (in_reply_to or message_id)
        return {"message_id": message_id, "in_reply_to": in_reply_to,
                "thread_root": thread_root}

    def _row(self, ctx: Context, people: dict[str, Any], ids: dict[str, Any],
             date: dt.datetime | None, direction: str,
             features: dict[str, Any]) -> dict[str, Any]:
        """The row in the column order of the contract."""
        return {
            "mailbox": ctx.mailbox,
            "source": ctx.source,
            "item_id": self.item_id(ctx.mailbox, item_family(ctx.source), ctx.item_key),
            "folder_id": self.folder_id(ctx.folder),
            "folder_role": ctx.folder_role,
            "folder_depth": max(len(ctx.folder) - 1, 0),
            "message_id": ids["message_id"],
            "direction": direction,
            **people,
            "date_utc": date,
            "date_local": date.astimezone(self.tz).replace(tzinfo=None) if date else None,
            "size_bytes": ctx.size_bytes,
            **{k: features[k] for k in ("text_bytes", "n_attachments", "attachment_kinds",
                                        "is_reply", "is_forward")},
            "in_reply_to": ids["in_reply_to"],
            "thread_root": ids["thread_root"],
            **{k: features[k] for k in ("subject_len", "n_prefixes", "is_bulk",
                                        "client_family", "importance")},
            "seen": ctx.seen,
            "answered": ctx.answered,
            "flagged": ctx.flagged,
            "defects": features["defects"],
            "imap_uidvalidity": ctx.imap_uidvalidity,
            "imap_uid": ctx.imap_uid,
        }
