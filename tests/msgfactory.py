"""Real Outlook .msg files for tests, written from scratch.

An .msg is an OLE Compound File (MS-CFB) holding MAPI property streams (MS-OXMSG). Neither
format has a writer on PyPI worth a dependency: ``cfb`` 0.9.3 only reads, and ``cfbwrite``
1.0.1 writes correct files but is AGPL-3.0 and a one-release, one-author package. The part of
MS-CFB a test needs is small (version 3, 512-byte sectors, one FAT without DIFAT, a mini stream
for streams under 4096 bytes), so it is written here and checked by two independent readers:
``olefile`` in its strictest mode and ``extract_msg`` (see tests/test_msg.py).

Only test code imports this module. The MAPI layout follows MS-OXMSG 2.4: a top-level
``__properties_version1.0`` stream (32-byte header, then 16-byte property entries), one
``__substg1.0_XXXXTTTT`` stream per variable-length property, recipient and attachment
storages with their own property streams (8-byte header), and a ``__nameid_version1.0``
storage for named properties (used here for ``X-Mailer`` in PS_INTERNET_HEADERS).
"""

from __future__ import annotations

import datetime as dt
import struct
import uuid
from pathlib import Path
from typing import Any

# ---------------------------------------------------------------------------------------------
# MS-CFB version 3

SECTOR = 512
MINI_SECTOR = 64
MINI_CUTOFF = 4096
FREESECT = 0xFFFFFFFF
ENDOFCHAIN = 0xFFFFFFFE
FATSECT = 0xFFFFFFFD
NOSTREAM = 0xFFFFFFFF
SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
#: CLSID Outlook gives the root storage of a .msg (readers do not require it).
MSG_CLSID = uuid.UUID("00020d0b-0000-0000-c000-000000000046").bytes_le

Tree = dict[str, "bytes | Tree"]  # a storage: name -> stream bytes or sub-storage


class _Node:
    def __init__(self, name: str, data: bytes | None, children: list[_Node]) -> None:
        self.name = name
        self.data = data  # None for a storage
        self.children = children
        self.sid = -1
        self.left = self.right = self.child = NOSTREAM
        self.red = False
        self.start = ENDOFCHAIN
        self.size = 0


def _nodes(tree: Tree) -> list[_Node]:
    out = []
    for name, val in tree.items():
        if len(name) > 31:
            raise ValueError("CFB names are at most 31 characters")
        if isinstance(val, dict):
            out.append(_Node(name, None, _nodes(val)))
        else:
            out.append(_Node(name, bytes(val), []))
    return out


def _sibling_tree(children: list[_Node]) -> int:
    """Link siblings as a balanced binary tree in CFB order; return the root's id.

    CFB orders names by UTF-16 length, then by upper-cased value. A midpoint-built tree has all
    its leaves on the last two levels, so painting the deepest level red (the rest black) is a
    valid red-black colouring.
    """
    ordered = sorted(children, key=lambda n: (len(n.name), n.name.upper()))
    depth: dict[int, int] = {}

    def build(lo: int, hi: int, d: int) -> int:
        if lo > hi:
            return NOSTREAM
        mid = (lo + hi) // 2
        node = ordered[mid]
        depth[id(node)] = d
        node.left = build(lo, mid - 1, d + 1)
        node.right = build(mid + 1, hi, d + 1)
        return node.sid

    root = build(0, len(ordered) - 1, 0)
    deepest = max(depth.values(), default=0)
    for n in ordered:
        n.red = deepest > 0 and depth[id(n)] == deepest
    return root


def _dir_entry(name: str, etype: int, n: _Node, clsid: bytes = b"\x00" * 16) -> bytes:
    raw = name.encode("utf-16-le") + b"\x00\x00"
    return (raw.ljust(64, b"\x00") + struct.pack("<HBB", len(raw), etype, 0 if n.red else 1)
            + struct.pack("<III", n.left, n.right, n.child) + clsid + b"\x00" * 20
            + struct.pack("<IQ", n.start, n.size))


def write_cfb(tree: Tree, root_clsid: bytes = b"\x00" * 16) -> bytes:
    """Serialise a storage tree as a version 3 compound file (up to ~7 MB, no DIFAT)."""
    root = _Node("Root Entry", None, _nodes(tree))
    flat: list[_Node] = [root]

    def number(nodes: list[_Node]) -> None:
        for n in nodes:
            n.sid = len(flat)
            flat.append(n)
            number(n.children)

    number(root.children)
    for n in flat:
        if n.data is None:
            n.child = _sibling_tree(n.children)

    # small streams go to the mini stream, the others to sectors of their own
    mini = bytearray()
    minifat: list[int] = []
    big: list[_Node] = []
    for n in flat[1:]:
        if n.data is None:
            continue
        n.size = len(n.data)
        if n.size == 0:
            continue
        if n.size < MINI_CUTOFF:
            count = -(-n.size // MINI_SECTOR)
            n.start = len(minifat)
            minifat.extend(range(n.start + 1, n.start + count))
            minifat.append(ENDOFCHAIN)
            mini += n.data.ljust(count * MINI_SECTOR, b"\x00")
        else:
            big.append(n)

    def sectors(nbytes: int) -> int:
        return -(-nbytes // SECTOR)

    n_dir = sectors(len(flat) * 128)
    n_minifat = sectors(len(minifat) * 4)
    n_mini = sectors(len(mini))
    n_big = sum(sectors(n.size) for n in big)
    n_data = n_dir + n_minifat + n_mini + n_big
    n_fat = 1
    while n_fat * (SECTOR // 4) < n_data + n_fat:
        n_fat += 1
    if n_fat > 109:
        raise ValueError("file too large for this writer (no DIFAT)")

    fat: list[int] = [FATSECT] * n_fat  # FAT first, as Outlook writes it

    def chain(count: int) -> int:
        start = len(fat)
        fat.extend(range(start + 1, start + count))
        if count:
            fat.append(ENDOFCHAIN)
        return start if count else ENDOFCHAIN

    dir_start = chain(n_dir)
    minifat_start = chain(n_minifat)
    mini_start = chain(n_mini)
    for n in big:
        n.start = chain(sectors(n.size))
    fat.extend([FREESECT] * (n_fat * (SECTOR // 4) - len(fat)))

    root.start, root.size = (mini_start, len(mini)) if mini else (ENDOFCHAIN, 0)
    dir_bytes = bytearray()
    for n in flat:
        if n is root:
            dir_bytes += _dir_entry(n.name, 5, n, root_clsid)
        else:
            dir_bytes += _dir_entry(n.name, 1 if n.data is None else 2, n)
    unused = b"\x00" * 68 + struct.pack("<III", NOSTREAM, NOSTREAM, NOSTREAM) + b"\x00" * 48
    while len(dir_bytes) % SECTOR:
        dir_bytes += unused

    difat = list(range(n_fat)) + [FREESECT] * (109 - n_fat)
    header = (SIGNATURE + b"\x00" * 16 + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)
              + b"\x00" * 6 + struct.pack("<IIII", 0, n_fat, dir_start, 0)
              + struct.pack("<IIIII", MINI_CUTOFF,
                            minifat_start if minifat else ENDOFCHAIN, n_minifat,
                            ENDOFCHAIN, 0)
              + struct.pack("<109I", *difat))
    assert len(header) == SECTOR

    def pad(b: bytes | bytearray) -> bytes:
        return bytes(b) + b"\x00" * (-len(b) % SECTOR)

    minifat_bytes = struct.pack(f"<{len(minifat)}I", *minifat)
    minifat_bytes += struct.pack("<I", FREESECT) * (-len(minifat) % (SECTOR // 4))
    body = [struct.pack(f"<{len(fat)}I", *fat), bytes(dir_bytes), minifat_bytes, pad(mini)]
    body += [pad(n.data or b"") for n in big]
    out = header + b"".join(body)
    assert len(out) == SECTOR * (1 + n_data + n_fat)
    return out


# ---------------------------------------------------------------------------------------------
# MS-OXMSG

PT_INT32, PT_BOOL, PT_OBJECT, PT_TIME = 0x0003, 0x000B, 0x000D, 0x0040
PT_STRING8, PT_UNICODE, PT_BINARY = 0x001E, 0x001F, 0x0102
PS_INTERNET_HEADERS = uuid.UUID("00020386-0000-0000-c000-000000000046")
_FLAGS = 0x00000006  # readable | writable
_FILETIME_EPOCH = dt.datetime(1601, 1, 1, tzinfo=dt.UTC)

MSGFLAG_READ, MSGFLAG_UNSENT = 0x01, 0x08


def filetime(d: dt.datetime) -> int:
    if d.tzinfo is None:
        raise ValueError("aware datetime expected")
    return (d - _FILETIME_EPOCH) // dt.timedelta(microseconds=1) * 10


class _Props:
    """One property stream plus the ``__substg1.0_`` streams of its variable-length values.

    Strings are PT_UNICODE (UTF-16LE) or, for ``unicode=False``, PT_STRING8 in cp1252 as
    Outlook 97-2002 wrote them.
    """

    def __init__(self, unicode: bool = True) -> None:
        self.unicode = unicode
        self.entries: list[bytes] = []
        self.streams: dict[str, Tree | bytes] = {}

    def _entry(self, pid: int, ptype: int, value: bytes) -> None:
        self.entries.append(struct.pack("<II", (pid << 16) | ptype, _FLAGS) + value)

    def int32(self, pid: int, v: int) -> None:
        self._entry(pid, PT_INT32, struct.pack("<iI", v, 0))

    def boolean(self, pid: int, v: bool) -> None:
        self._entry(pid, PT_BOOL, struct.pack("<HHI", int(v), 0, 0))

    def time(self, pid: int, d: dt.datetime) -> None:
        self._entry(pid, PT_TIME, struct.pack("<Q", filetime(d)))

    def text(self, pid: int, s: str | None) -> None:
        if s is None:
            return
        ptype, raw, nul = ((PT_UNICODE, s.encode("utf-16-le"), 2) if self.unicode
                           else (PT_STRING8, s.encode("cp1252"), 1))
        self.streams[f"__substg1.0_{pid:04X}{ptype:04X}"] = raw
        self._entry(pid, ptype, struct.pack("<II", len(raw) + nul, 0))

    def binary(self, pid: int, b: bytes) -> None:
        self.streams[f"__substg1.0_{pid:04X}{PT_BINARY:04X}"] = b
        self._entry(pid, PT_BINARY, struct.pack("<II", len(b), 0))

    def embedded(self, pid: int, tree: Tree) -> None:
        self.streams[f"__substg1.0_{pid:04X}{PT_OBJECT:04X}"] = tree
        self._entry(pid, PT_OBJECT, struct.pack("<II", 0xFFFFFFFF, 0))

    def storage(self, header: bytes) -> Tree:
        tree: Tree = {"__properties_version1.0": header + b"".join(self.entries)}
        tree.update(self.streams)
        return tree


def _recipient(name: str, address: str, rtype: int, unicode: bool) -> Tree:
    p = _Props(unicode)
    p.int32(0x0C15, rtype)  # PR_RECIPIENT_TYPE
    p.text(0x3001, name)  # PR_DISPLAY_NAME
    p.text(0x3002, "SMTP")  # PR_ADDRTYPE
    p.text(0x3003, address)  # PR_EMAIL_ADDRESS
    p.text(0x39FE, address)  # PR_SMTP_ADDRESS
    return p.storage(b"\x00" * 8)


def _attachment(filename: str, mimetype: str | None, data: bytes, hidden: bool,
                unicode: bool) -> Tree:
    p = _Props(unicode)
    p.int32(0x3705, 1)  # PR_ATTACH_METHOD: by value
    p.int32(0x0E20, len(data))  # PR_ATTACH_SIZE
    p.int32(0x370B, -1)  # PR_RENDERING_POSITION
    p.text(0x3001, filename)  # PR_DISPLAY_NAME
    p.text(0x3707, filename)  # PR_ATTACH_LONG_FILENAME
    if "." in filename:
        p.text(0x3703, "." + filename.rsplit(".", 1)[1])  # PR_ATTACH_EXTENSION
    if mimetype:
        p.text(0x370E, mimetype)  # PR_ATTACH_MIME_TAG
    if hidden:
        p.boolean(0x7FFE, True)  # PR_ATTACHMENT_HIDDEN
    p.binary(0x3701, data)  # PR_ATTACH_DATA_BIN
    return p.storage(b"\x00" * 8)


def _nameid(names: list[str]) -> Tree:
    """Named-property map with string names in PS_INTERNET_HEADERS (property ids 0x8000+i)."""
    guids = PS_INTERNET_HEADERS.bytes_le if names else b""
    entries = bytearray()
    strings = bytearray()
    for i, name in enumerate(names):
        entries += struct.pack("<IHH", len(strings), (3 << 1) | 1, i)  # guid index 3, string
        raw = name.encode("utf-16-le")
        strings += struct.pack("<I", len(raw)) + raw
        strings += b"\x00" * (-len(strings) % 4)
    return {"__substg1.0_00020102": guids, "__substg1.0_00030102": bytes(entries),
            "__substg1.0_00040102": bytes(strings)}


def build_msg(**kw: Any) -> bytes:
    """The bytes of a .msg file; see :func:`write_msg` and :func:`message_tree`."""
    return write_cfb(message_tree(**kw), MSG_CLSID)


def message_tree(*, subject: str, sender_name: str, sender_email: str,
                 to: list[tuple[str, str]], cc: list[tuple[str, str]] | None = None,
                 bcc: list[tuple[str, str]] | None = None, date: dt.datetime | None,
                 message_id: str | None, in_reply_to: str | None = None,
                 body_text: str | None = "", body_html: bytes | None = None,
                 attachments: list[tuple[str, str | None, bytes]] | None = None,
                 hidden_attachments: list[tuple[str, str | None, bytes]] | None = None,
                 embedded: list[dict[str, Any]] | None = None,
                 transport_headers: str | None = None, x_mailer: str | None = None,
                 references: str | None = None, importance: int | None = None,
                 read: bool = True, unsent: bool = False,
                 delivery_time: dt.datetime | None = None, message_class: str = "IPM.Note",
                 unicode: bool = True, top: bool = True) -> Tree:
    """The storage tree of one message: the whole file (``top``) or an embedded message.

    ``embedded`` holds keyword arguments of messages attached as Outlook items (attach
    method 5, forwarded "as attachment"); an embedded message shares the top-level
    named-property map, so it cannot carry ``x_mailer`` itself.
    """
    cc = cc or []
    bcc = bcc or []
    p = _Props(unicode)
    p.text(0x001A, message_class)  # PR_MESSAGE_CLASS
    p.text(0x0037, subject)  # PR_SUBJECT
    p.text(0x0C1A, sender_name)  # PR_SENDER_NAME
    p.text(0x0C1E, "SMTP")  # PR_SENDER_ADDRTYPE
    p.text(0x0C1F, sender_email)  # PR_SENDER_EMAIL_ADDRESS
    p.text(0x5D01, sender_email)  # PR_SENDER_SMTP_ADDRESS
    p.text(0x0042, sender_name)  # PR_SENT_REPRESENTING_NAME
    p.text(0x0064, "SMTP")  # PR_SENT_REPRESENTING_ADDRTYPE
    p.text(0x0065, sender_email)  # PR_SENT_REPRESENTING_EMAIL_ADDRESS
    p.text(0x5D02, sender_email)  # PR_SENT_REPRESENTING_SMTP_ADDRESS
    p.text(0x0E04, "; ".join(n for n, _ in to))  # PR_DISPLAY_TO
    p.text(0x0E03, "; ".join(n for n, _ in cc))  # PR_DISPLAY_CC
    p.text(0x1000, body_text)  # PR_BODY
    if body_html is not None:
        p.binary(0x1013, body_html)  # PR_HTML
    p.text(0x1035, message_id)  # PR_INTERNET_MESSAGE_ID
    p.text(0x1042, in_reply_to)  # PR_IN_REPLY_TO_ID
    p.text(0x1039, references)  # PR_INTERNET_REFERENCES
    p.text(0x007D, transport_headers)  # PR_TRANSPORT_MESSAGE_HEADERS
    if date is not None:
        p.time(0x0039, date)  # PR_CLIENT_SUBMIT_TIME
    if delivery_time is not None:
        p.time(0x0E06, delivery_time)  # PR_MESSAGE_DELIVERY_TIME
    if importance is not None:
        p.int32(0x0017, importance)  # PR_IMPORTANCE: 0 low, 1 normal, 2 high
    p.int32(0x0E07, (MSGFLAG_READ if read else 0) | (MSGFLAG_UNSENT if unsent else 0))
    # PR_STORE_SUPPORT_MASK: STORE_UNICODE_OK tells readers which string type to expect
    p.int32(0x340D, 0x00040000 if unicode else 0)
    if not unicode:
        p.int32(0x3FFD, 1252)  # PR_MESSAGE_CODEPAGE
    named = []
    if x_mailer is not None:
        if not top:
            raise ValueError("an embedded message has no named-property map of its own")
        named.append("x-mailer")
        p.text(0x8000, x_mailer)
    recips = [(n, a, 1) for n, a in to] + [(n, a, 2) for n, a in cc] + [(n, a, 3) for n, a in bcc]
    atts = [_attachment(f, m, d, False, unicode) for f, m, d in attachments or []]
    atts += [_attachment(f, m, d, True, unicode) for f, m, d in hidden_attachments or []]
    for kw in embedded or []:
        a = _Props(unicode)
        a.int32(0x3705, 5)  # PR_ATTACH_METHOD: embedded message
        a.int32(0x370B, -1)  # PR_RENDERING_POSITION
        a.text(0x3001, kw["subject"])  # PR_DISPLAY_NAME: Outlook shows the subject
        a.embedded(0x3701, message_tree(**{"unicode": unicode, **kw, "top": False}))
        atts.append(a.storage(b"\x00" * 8))

    counts = (len(recips), len(atts), len(recips), len(atts))
    header = struct.pack("<8xIIII8x" if top else "<8xIIII", *counts)
    tree = p.storage(header)
    if top:
        tree["__nameid_version1.0"] = _nameid(named)
    for i, (n, a, t) in enumerate(recips):
        tree[f"__recip_version1.0_#{i:08X}"] = _recipient(n, a, t, unicode)
    for i, att in enumerate(atts):
        tree[f"__attach_version1.0_#{i:08X}"] = att
    return tree


def write_msg(path: Path | str, *, subject: str, sender_name: str, sender_email: str,
              to: list[tuple[str, str]], cc: list[tuple[str, str]] | None = None,
              date: dt.datetime | None, message_id: str | None, in_reply_to: str | None = None,
              body_text: str | None = "",
              attachments: list[tuple[str, str | None, bytes]] | None = None,
              transport_headers: str | None = None, x_mailer: str | None = None,
              **more: object) -> Path:
    """Write a real Outlook .msg and return its path.

    ``to``/``cc`` are (display name, SMTP address) pairs; ``attachments`` are (file name,
    MIME type or None, data). ``date`` is the client submit time (aware). ``x_mailer`` is stored
    as the named property ``x-mailer`` of PS_INTERNET_HEADERS, where Outlook keeps Internet
    headers it has no MAPI property for. ``more`` goes to :func:`message_tree` (bcc, body_html,
    hidden_attachments, embedded, references, importance, read, unsent, delivery_time,
    message_class, unicode).
    """
    path = Path(path)
    path.write_bytes(build_msg(subject=subject, sender_name=sender_name,
                               sender_email=sender_email, to=to, cc=cc, date=date,
                               message_id=message_id, in_reply_to=in_reply_to,
                               body_text=body_text, attachments=attachments,
                               transport_headers=transport_headers, x_mailer=x_mailer,
                               **more))  # type: ignore[arg-type]
    return path
