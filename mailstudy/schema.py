"""Column contracts of every table mailstudy writes, in one place.

Each table is a list of :class:`Column` (name, Arrow type, one-line definition). Stages call
:func:`check` on what they read and write so that a drifting column fails loudly at the
boundary instead of silently downstream. The definitions here are the ones the docs and the
report annex print (``describe``), so a feature has exactly one written definition.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyarrow as pa

from mailstudy.errors import StageError

if TYPE_CHECKING:  # pandas is imported by the stages that use it: collection does not
    import pandas as pd


class SchemaError(StageError, ValueError):
    """A table does not match its contract."""


@dataclass(frozen=True)
class Column:
    name: str
    type: pa.DataType
    doc: str
    nullable: bool = True


LIST_STR = pa.list_(pa.string())
TS_UTC = pa.timestamp("us", tz="UTC")
TS_NAIVE = pa.timestamp("us")

# Values of the categorical columns; collectors must emit only these.
SOURCES = ("imap", "maildir", "mbox", "eml", "msg", "pst")
FOLDER_ROLES = ("inbox", "sent", "drafts", "trash", "archive", "junk", "other")
DIRECTIONS = ("sent", "received")
CLIENT_FAMILIES = (
    "outlook", "thunderbird", "apple_mail", "mobile_ios", "mobile_android", "mobile", "webmail",
    "other",
)
ATTACHMENT_KINDS = (
    "pdf", "word", "spreadsheet", "presentation", "image", "archive", "calendar", "message",
    "text", "audio_video", "encrypted", "other",
)
#: "Messages distincts" (distinct messages), one definition everywhere (the profile summary,
#: the report, the scope file): distinct ``message_id`` over the rows outside these folder
#: roles (a draft was never exchanged, junk never wanted). tests/test_report_figures.py
#: checks that the report and the profile summary agree.
UNCOUNTED_FOLDER_ROLES = ("drafts", "junk")
# Markers that stand in an address list instead of a pseudonym: identities we never keep.
MARK_EXTERNAL = "ext"  # outside the organisation and its partners
MARK_PARTNER = "partner"  # a partner domain declared in study.toml
MARK_OPTOUT = "optout"  # an opted-out person: one anonymous bucket
MARK_INVALID = "invalid"  # an address that does not parse
MARKERS = (MARK_EXTERNAL, MARK_PARTNER, MARK_OPTOUT, MARK_INVALID)

MESSAGES: list[Column] = [
    Column("mailbox", pa.string(), "Pseudonym of the mailbox owner (partition key).", False),
    Column("source", pa.string(), f"Where the message was read: one of {', '.join(SOURCES)}.",
           False),
    Column("item_id", pa.string(),
           "Keyed hash of the message's identity in its mailbox: folder + header block (+ copy "
           "number) for files, folder + UIDVALIDITY + UID for IMAP. The idempotence key that "
           "makes a re-run add nothing.", False),
    Column("folder_id", pa.string(), "Keyed hash of the folder path (folder names carry names).",
           False),
    Column("folder_role", pa.string(),
           f"Role of the folder, from SPECIAL-USE or its French/English name: "
           f"{', '.join(FOLDER_ROLES)}.", False),
    Column("folder_depth", pa.int16(), "Nesting depth of the folder (top level = 0).", False),
    Column("message_id", pa.string(),
           "Pseudonym of the normalised Message-ID; a missing or empty one gets a deterministic "
           "substitute from Date, From, To and Subject, so copies in several mailboxes still link.",
           False),
    Column("direction", pa.string(),
           "sent when the mailbox owner is the sender (or the folder is Sent/Drafts), else "
           "received.", False),
    Column("sender", pa.string(),
           "Pseudonym of the From address, or a marker (ext, partner, optout, invalid)."),
    Column("to", LIST_STR, "To recipients: pseudonyms or markers."),
    Column("cc", LIST_STR, "Cc recipients: pseudonyms or markers."),
    Column("bcc", LIST_STR, "Bcc recipients (seen only on the sender's copy)."),
    Column("n_to", pa.int32(), "Number of To recipients.", False),
    Column("n_cc", pa.int32(), "Number of Cc recipients.", False),
    Column("n_bcc", pa.int32(), "Number of Bcc recipients.", False),
    Column("n_internal", pa.int32(),
           "Recipients (To+Cc+Bcc) inside the organisation's domains.", False),
    Column("n_external", pa.int32(), "Recipients outside them (partners included).", False),
    Column("date_utc", TS_UTC,
           "Send date in UTC: the Date header when sane (1990 to collection day + 1), else the "
           "newest Received date, else the server/file date (each fallback counted as a defect)."),
    Column("date_local", TS_NAIVE, "date_utc in the study's time zone (wall-clock time)."),
    Column("size_bytes", pa.int64(), "Size of the raw message in bytes (RFC822.SIZE).", False),
    Column("text_bytes", pa.int64(),
           "Encoded size of the body text: the text/plain parts that are not attachments (an "
           "HTML-only message counts its text/html parts instead). The parts of one "
           "multipart/alternative are one text written several ways: only the first counts. "
           "The length of what was written, quotes included.", False),
    Column("n_attachments", pa.int32(),
           "Files the user sees attached. A MIME leaf is an attachment when it has "
           "Content-Disposition attachment or a file name, whatever its type or disposition "
           "(inline images and PDFs of Apple Mail, iOS Mail and Thunderbird count; a text part "
           "with a file name is an attachment, not body text), or when it is neither text nor "
           "inline (a bare image part). Never attachments: S/MIME and PGP signature parts, the "
           "PGP/MIME control part, a multipart whose parts cannot be found (no boundary), and "
           "every part of a delivery or read report "
           "(multipart/report, message/delivery-status, text/rfc822-headers; a bounce carries "
           "no attachment of its sender). An encrypted message (multipart/encrypted, S/MIME "
           "application/pkcs7-mime) counts its encrypted content as one attachment of kind "
           "encrypted. An attached message (message/rfc822, and every part of a "
           "multipart/digest, whose untyped parts are messages, RFC 2046) is one attachment: "
           "its own attachments are not counted.", False),
    Column("attachment_kinds", LIST_STR,
           f"Coarse kinds of the attachments, from MIME type and extension only: "
           f"{', '.join(ATTACHMENT_KINDS)} (never a file name)."),
    Column("is_reply", pa.bool_(),
           "Subject starts with RE/AW/SV (RÉP, RÉF), or In-Reply-To is present and the message "
           "is not a forward: a forward keeps the In-Reply-To of the message it forwards in "
           "some clients, and stays a forward.", False),
    Column("is_forward", pa.bool_(),
           "Subject starts with TR/FW/FWD/WG (an attached message alone does not make a "
           "forward).", False),
    Column("in_reply_to", pa.string(), "Pseudonym of the In-Reply-To Message-ID."),
    Column("thread_root", pa.string(),
           "Pseudonym of the first References Message-ID, else In-Reply-To, else the message's "
           "own: links the messages of one thread across mailboxes.", False),
    Column("subject_len", pa.int32(),
           "Length in characters of the decoded subject without its prefixes (text never kept).",
           False),
    Column("n_prefixes", pa.int16(), "Number of RE/TR/FW-like prefixes in the subject.", False),
    Column("is_bulk", pa.bool_(),
           "Mailing list or automatic mail: List-Id, Precedence bulk/list/junk, or Auto-Submitted "
           "other than no.", False),
    Column("client_family", pa.string(),
           f"Mail client from X-Mailer (else User-Agent): {', '.join(CLIENT_FAMILIES)}; null "
           "when both are absent. Decided by the first matching rule of the table "
           "mailstudy/collect/data/clients.toml (mobile apps first, Outlook on the web is "
           "webmail, only Thunderbird and its rebrands are thunderbird, a browser's own "
           "User-Agent is webmail, mobile is a mobile app that does not say its platform)."),
    Column("importance", pa.string(), "high, normal or low (Importance/X-Priority).", False),
    Column("seen", pa.bool_(),
           "Read flag (Maildir S, mbox Status R, IMAP \\Seen); null if unknown."),
    Column("answered", pa.bool_(), "Answered flag (Maildir R, mbox A, IMAP \\Answered)."),
    Column("flagged", pa.bool_(), "Flagged flag (Maildir F, mbox F, IMAP \\Flagged)."),
    Column("defects", LIST_STR,
           "Kinds of defects found while reading (bad date, broken MIME, undecodable header...).",
           False),
    Column("imap_uidvalidity", pa.int64(), "IMAP UIDVALIDITY of the folder (imap source only)."),
    Column("imap_uid", pa.int64(), "IMAP UID of the message (imap source only)."),
]

# Columns that describe where a row was read from rather than the message itself: they may
# differ between two collections of the same mailbox by two routes (IMAP vs files).
MESSAGES_SOURCE_COLUMNS = ("source", "item_id", "imap_uidvalidity", "imap_uid")

DIRECTORY: list[Column] = [
    Column("person", pa.string(), "Pseudonym of the person's normalised address.", False),
    Column("title", pa.string(), "Job title or grade as written in the directory."),
    Column("category", pa.string(), "Civil-service category (A, B, C) when given."),
    Column("level", pa.string(), "Hierarchical level from the ladder, or 'non renseigné'.", False),
    Column("level_rank", pa.int16(), "Rank of the level on the ladder (0 = top; -1 unknown).",
           False),
    Column("direction", pa.string(), "Direction (department)."),
    Column("service", pa.string(), "Service within the direction."),
    Column("roles", LIST_STR, "Workshop-relevant roles (juridique, informatique, expert...)."),
    Column("manager", pa.string(), "Pseudonym of the manager's address."),
    Column("fte", pa.float64(), "Working-time ratio (1.0 = full time)."),
]

# Per-person features computed by `profile` from the person's own mailbox. Definitions reuse
# Viva Insights' where one exists (emails sent, after-hours, workweek span). "Working time" is
# study.toml's workdays and hours in its time zone, public holidays excluded.
FEATURES: list[Column] = [
    Column("sent_per_day", pa.float64(),
           "Messages the person sent, per working day of the observed period (Viva: emails "
           "sent)."),
    Column("received_per_day", pa.float64(),
           "Messages the person received (bulk excluded), per working day of the period."),
    Column("after_hours_share", pa.float64(),
           "Share of sent messages outside working hours, non-working days included (Viva: "
           "after-hours email)."),
    Column("weekend_share", pa.float64(),
           "Share of sent messages on non-working days (weekends and public holidays)."),
    Column("workday_span_h", pa.float64(),
           "Median, over days with mail sent, of hours between the first and last message sent "
           "(Viva: workweek span, per day)."),
    Column("reply_delay_h", pa.float64(),
           "Median hours between receiving a message and the person's reply to it."),
    Column("reply_rate", pa.float64(),
           "Share of non-bulk received messages addressed To the person that they replied to."),
    Column("cc_share", pa.float64(), "Share of received messages where the person is only in Cc."),
    Column("recipients_per_sent", pa.float64(), "Mean recipients (To+Cc+Bcc) per sent message."),
    Column("reply_all_rate", pa.float64(),
           "Share of the person's replies sent to more than one recipient."),
    Column("external_share", pa.float64(),
           "Share of recipients of sent messages outside the organisation (partners included)."),
    Column("attachment_rate", pa.float64(), "Share of sent messages with an attachment."),
    Column("sent_text_kb", pa.float64(), "Median text size of sent messages, in KB."),
    Column("unread_share", pa.float64(),
           "Share of received messages still unread at collection (the backlog)."),
    Column("filing_rate", pa.float64(),
           "Share of received messages kept in a folder other than the inbox (filed)."),
    Column("folder_count", pa.float64(), "Number of distinct folders holding messages."),
    Column("bulk_share", pa.float64(), "Share of received messages that are bulk (lists, robots)."),
    Column("mobile_share", pa.float64(), "Share of sent messages written on a mobile client."),
    Column("forward_rate", pa.float64(), "Share of sent messages that are forwards."),
]
FEATURE_NAMES = [c.name for c in FEATURES]

PEOPLE: list[Column] = [
    Column("person", pa.string(), "Pseudonym of the person.", False),
    Column("level", pa.string(), "Hierarchical level (directory), or 'non renseigné'.", False),
    Column("level_rank", pa.int16(), "Rank of the level (0 = top; -1 unknown).", False),
    Column("direction", pa.string(), "Direction, or 'non renseigné'.", False),
    Column("service", pa.string(), "Service, or 'non renseigné'.", False),
    Column("roles", LIST_STR, "Roles from the directory."),
    Column("n_messages", pa.int64(), "Messages in the person's mailbox over the period.", False),
    Column("active_days", pa.int64(), "Days with at least one message sent or received.", False),
    *FEATURES,
    Column("habits", LIST_STR, "Digital-habit labels from the documented rules."),
    Column("work_pattern", pa.string(),
           "Viva working-pattern class: absent, extended_morning, extended_evening, overnight, "
           "standard, always_on."),
]

PERSONAS: list[Column] = [
    Column("person", pa.string(), "Pseudonym of the person.", False),
    Column("persona", pa.int16(), "Persona id, 1 = largest persona.", False),
    Column("persona_name", pa.string(), "Persona name and epithet, as on the sheets.", False),
]

TABLES: dict[str, list[Column]] = {"messages": MESSAGES, "directory": DIRECTORY,
                                  "people": PEOPLE}
TABLES["personas"] = PERSONAS

# Workshop invitations (mailstudy/invite/). Availability has one bool column per session id
# besides person; only person is fixed.
VOLUNTEERS: list[Column] = [
    Column("person", pa.string(), "Pseudonym of a person who asked to take part.", False),
]
AVAILABILITY: list[Column] = [
    Column("person", pa.string(), "Pseudonym of the person who answered.", False),
]
PANEL: list[Column] = [
    Column("person", pa.string(), "Pseudonym of the invitee.", False),
    Column("seat", pa.string(), "Seat id (S01...).", False),
    Column("role", pa.string(), "Role seat family, or 'usagers'.", False),
]
RESERVES: list[Column] = [*PANEL, Column("rank", pa.int16(), "Rank among the seat's alternates.",
                                         False)]
TABLES.update({"volunteers": VOLUNTEERS, "availability": AVAILABILITY, "panel": PANEL,
               "reserves": RESERVES})


def arrow_schema(table: str) -> pa.Schema:
    """The Arrow schema of a table, used to write Parquet with stable types."""
    return pa.schema([pa.field(c.name, c.type, nullable=c.nullable) for c in TABLES[table]])


def names(table: str) -> list[str]:
    return [c.name for c in TABLES[table]]


def describe(table: str) -> dict[str, str]:
    """Column name -> definition, for docs and report annexes."""
    return {c.name: c.doc for c in TABLES[table]}


def check(df: pd.DataFrame, table: str, *, extra_ok: bool = True) -> pd.DataFrame:
    """Fail with a clear message when ``df`` lacks a contract column or has a null where none
    is allowed. Extra columns are tolerated unless ``extra_ok`` is False."""
    cols = TABLES[table]
    missing = [c.name for c in cols if c.name not in df.columns]
    if missing:
        raise SchemaError("table {table!r} lacks column(s): {missing}",
                          table=table, missing=", ".join(missing))
    if not extra_ok:
        extra = [c for c in df.columns if c not in {x.name for x in cols}]
        if extra:
            raise SchemaError("table {table!r} has unexpected column(s): {extra}",
                              table=table, extra=", ".join(extra))
    for c in cols:
        if not c.nullable and len(df) and df[c.name].isna().any():
            raise SchemaError("table {table!r}: column {name!r} has missing values",
                              table=table, name=c.name)
    return df



def markdown(tables: list[str] | None = None) -> str:
    """The column definitions as Markdown: docs/columns.md is this text, checked by a test."""
    out = ["# Column definitions", "",
           "Generated from `mailstudy/schema.py` by `mailstudy columns`; do not edit by hand.",
           ""]
    for t in tables or list(TABLES):
        out += [f"## `{t}`", "", "| column | type | definition |", "| --- | --- | --- |"]
        for c in TABLES[t]:
            doc = c.doc.replace("|", "\\|")
            out.append(f"| `{c.name}` | {c.type} | {doc} |")
        out.append("")
    return "\n".join(out)
