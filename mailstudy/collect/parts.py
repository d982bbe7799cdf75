"""The MIME outline of a message (its leaves, described only by what the metadata needs) and
the attachment and text figures both collectors (files and IMAP) derive from it: one definition
for both routes, so that the same message gives the same figures either way."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Part:
    """One leaf of the MIME tree, described only by what the metadata needs."""

    content_type: str  # lower case "type/subtype"
    disposition: str  # "attachment", "inline" or ""
    has_filename: bool
    extension: str  # lower-case extension of the file name, "" if none (never the name)
    size: int  # encoded octets of the part body, CRLF line endings (as IMAP reports it)
    parent: str = ""  # subtype of the enclosing multipart ("mixed", "report"...), "" if none
    alternative: int = 0  # which multipart/alternative the leaf is inside (0: none)


@dataclass
class MimeOutline:
    parts: list[Part] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# MIME outline -> attachment and text figures (the one definition both routes share)

_KIND_BY_TYPE = {
    "application/pdf": "pdf",
    "application/msword": "word",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "word",
    "application/vnd.oasis.opendocument.text": "word",
    "application/rtf": "word",
    "application/vnd.ms-excel": "spreadsheet",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "spreadsheet",
    "application/vnd.oasis.opendocument.spreadsheet": "spreadsheet",
    "text/csv": "spreadsheet",
    "application/vnd.ms-powerpoint": "presentation",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "presentation",
    "application/vnd.oasis.opendocument.presentation": "presentation",
    "application/zip": "archive", "application/x-zip-compressed": "archive",
    "application/x-7z-compressed": "archive", "application/x-rar-compressed": "archive",
    "application/gzip": "archive", "application/x-tar": "archive",
    "text/calendar": "calendar", "application/ics": "calendar",
    "message/rfc822": "message", "application/vnd.ms-outlook": "message",
}
_KIND_BY_EXT = {
    "pdf": "pdf", "doc": "word", "docx": "word", "odt": "word", "rtf": "word",
    "xls": "spreadsheet", "xlsx": "spreadsheet", "ods": "spreadsheet", "csv": "spreadsheet",
    "ppt": "presentation", "pptx": "presentation", "odp": "presentation",
    "zip": "archive", "7z": "archive", "rar": "archive", "gz": "archive", "tar": "archive",
    "ics": "calendar", "eml": "message", "msg": "message", "txt": "text",
    "png": "image", "jpg": "image", "jpeg": "image", "gif": "image", "bmp": "image",
    "tif": "image", "tiff": "image", "heic": "image", "svg": "image",
    "mp3": "audio_video", "mp4": "audio_video", "wav": "audio_video", "mov": "audio_video",
}


# never a file the user attached: signatures, the PGP/MIME control part, report parts
_NOT_ATTACHMENTS = frozenset({
    "application/pkcs7-signature", "application/x-pkcs7-signature",
    "application/pgp-signature", "application/pgp-encrypted",
    "message/delivery-status", "message/global-delivery-status",
    "message/disposition-notification", "message/global-disposition-notification",
    "message/feedback-report", "text/rfc822-headers", "message/global-headers",
})
_ENCRYPTED = frozenset({"application/pkcs7-mime", "application/x-pkcs7-mime"})


def is_attachment(p: Part) -> bool:
    """The definition users expect (written in :mod:`mailstudy.schema`, ``n_attachments``).

    Not attachments: signature parts, the PGP/MIME control part and every part of a delivery
    or read report. Attachments: a part declared so, any part with a file name (inline
    images and PDFs of Apple Mail, iOS Mail and Thunderbird, a text file), and a part without
    a name that is neither text nor inline (a bare image). An encrypted message counts its
    encrypted content once.
    """
    if (p.content_type in _NOT_ATTACHMENTS or p.parent == "report"
            or p.content_type.startswith("multipart/")):  # a broken container is no file
        return False
    if p.content_type in _ENCRYPTED or p.parent == "encrypted":
        return True
    if p.disposition == "attachment" or p.has_filename:
        return True
    if p.disposition == "inline":
        return False
    return not p.content_type.startswith("text/")


def attachment_kind(p: Part) -> str:
    if p.content_type in _ENCRYPTED or p.parent == "encrypted":
        return "encrypted"
    kind = _KIND_BY_EXT.get(p.extension) or _KIND_BY_TYPE.get(p.content_type)
    if kind:
        return kind
    major = p.content_type.split("/", 1)[0]
    return {"image": "image", "audio": "audio_video", "video": "audio_video",
            "text": "text"}.get(major, "other")


def summarise_parts(parts: Iterable[Part]) -> tuple[int, int, list[str]]:
    """(text_bytes, n_attachments, sorted attachment kinds).

    text_bytes counts the body's text/plain parts; a message with none (HTML only) counts
    its text/html parts instead, so that a plain+HTML alternative is not counted twice. The
    parts of one multipart/alternative are one text written several ways: only its first
    text/plain (or text/html) part counts.
    """
    plain = html = 0
    kinds: list[str] = []
    seen: set[tuple[str, int]] = set()
    for p in parts:
        if is_attachment(p):
            kinds.append(attachment_kind(p))
            continue
        if p.content_type not in ("text/plain", "text/html"):
            continue
        if p.alternative:
            if (p.content_type, p.alternative) in seen:
                continue
            seen.add((p.content_type, p.alternative))
        if p.content_type == "text/plain":
            plain += p.size
        else:
            html += p.size
    return (plain if plain else html), len(kinds), sorted(kinds)


def extension_of(filename: str | None) -> str:
    if not filename or "." not in filename:
        return ""
    ext = filename.rsplit(".", 1)[1].strip().strip('"').lower()
    return ext if ext.isalnum() and len(ext) <= 5 else ""
