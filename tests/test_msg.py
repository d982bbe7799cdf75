"""Outlook .msg: real files written by tests/msgfactory.py, read back by mailstudy.collect.msg.

The writer is checked against two independent readers (olefile in strict mode, extract_msg);
the reader is checked against the .eml route: the same message must give the same row.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import random
import struct
import urllib.parse
from email.header import Header
from email.utils import formataddr
from io import BytesIO
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import extract_msg
import olefile
import pytest
from msgfactory import build_msg, write_cfb, write_msg

from anonymise.pseudonym import Pseudonymiser
from mailstudy.collect.addresses import Identities
from mailstudy.collect.headers import decode_text
from mailstudy.collect.mime import iter_lines, read_message
from mailstudy.collect.msg import MsgError, MsgMessage, read_msg
from mailstudy.collect.rows import Context, RowBuilder
from mailstudy.schema import MARK_EXTERNAL, MARK_INVALID

UTC = dt.UTC
OWNER = "elodie.lefevre@x.test"
PEOPLE = {
    "owner": ("Élodie Lefèvre, DGA", OWNER),
    "jean": ("Jean-François Müller", "jf.muller@x.test"),
    "zoe": ("Zoé Ñúñez", "zoe.nunez@services.x.test"),
    "ext": ("Ana Pereira", "ana.pereira@example.org"),
    "bcc": ("Hervé Le Goff", "herve.legoff@x.test"),
}
SUBJECT = "RE: Réunion « été » — budget prévisionnel"
PDF = b"%PDF-1.4\n" + random.Random(7).randbytes(6000)
XLSX = b"PK\x03\x04" + random.Random(8).randbytes(300)
BODY = "Bonjour Jean-François,\r\nvoici le budget révisé.\r\nCordialement,\r\nÉlodie\r\n"
WHEN = dt.datetime(2026, 3, 3, 9, 15, tzinfo=UTC)


@pytest.fixture
def builder() -> RowBuilder:
    ids = Identities(Pseudonymiser(b"k" * 32), ["x.test"])
    return RowBuilder(ids, ZoneInfo("Europe/Paris"), now=dt.datetime(2026, 6, 1, tzinfo=UTC))


def ctx(builder: RowBuilder, size: int, role: str = "sent", **kw: Any) -> Context:
    return Context(mailbox=builder.p.person(OWNER), source="msg", item_key="k",
                   folder=("Éléments envoyés",), folder_role=role, size_bytes=size, **kw)


def sent_reply(path: Path, **kw: Any) -> Path:
    """A reply the owner sent: accents everywhere, To, Cc, Bcc, two attachments."""
    args: dict[str, Any] = dict(
        subject=SUBJECT, sender_name=PEOPLE["owner"][0], sender_email=OWNER,
        to=[PEOPLE["jean"], PEOPLE["ext"]], cc=[PEOPLE["zoe"]], bcc=[PEOPLE["bcc"]],
        date=WHEN, message_id="<reply-1@x.test>", in_reply_to="<orig-1@x.test>",
        references="<root-1@x.test> <orig-1@x.test>", body_text=BODY,
        attachments=[("Budget été 2026.pdf", "application/pdf", PDF),
                     ("Annexe Müller.xlsx", None, XLSX)],
        x_mailer="Microsoft Outlook 16.0", importance=2)
    args.update(kw)
    return write_msg(path, **args)


def eml_of_sent_reply() -> bytes:
    """The same message as an .eml, the way a client would send it (CRLF, 8bit text)."""
    def addrs(keys: list[str]) -> str:
        return ", ".join(formataddr(PEOPLE[k]) for k in keys)

    h = [f"From: {formataddr(PEOPLE['owner'])}", f"To: {addrs(['jean', 'ext'])}",
         f"Cc: {addrs(['zoe'])}", f"Bcc: {addrs(['bcc'])}",
         f"Subject: {Header(SUBJECT, 'utf-8').encode()}",
         "Date: Tue, 03 Mar 2026 10:15:00 +0100", "Message-ID: <reply-1@x.test>",
         "In-Reply-To: <orig-1@x.test>", "References: <root-1@x.test> <orig-1@x.test>",
         "X-Mailer: Microsoft Outlook 16.0", "Importance: high", "MIME-Version: 1.0",
         'Content-Type: multipart/mixed; boundary="b1"']
    parts = ["Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
             + BODY]
    for name, ctype, data in (("Budget été 2026.pdf", "application/pdf", PDF),
                              ("Annexe Müller.xlsx", "application/octet-stream", XLSX)):
        fn = urllib.parse.quote(name)
        b64 = base64.encodebytes(data).decode().replace("\n", "\r\n")
        parts.append(f"Content-Type: {ctype}\r\nContent-Transfer-Encoding: base64\r\n"
                     f"Content-Disposition: attachment; filename*=utf-8''{fn}\r\n\r\n{b64}")
    body = "".join(f"--b1\r\n{p}\r\n" for p in parts) + "--b1--\r\n"
    return ("\r\n".join(h) + "\r\n\r\n" + body).encode("utf-8")


def sensitive_strings() -> list[str]:
    out = []
    for name, addr in PEOPLE.values():
        out += [name, addr, addr.split("@")[0]] + [w for w in name.split() if len(w) > 3]
    out += ["Réunion", "budget prévisionnel", "Budget été", "Annexe Müller", "Müller"]
    return out


def assert_no_leak(row: dict[str, Any]) -> None:
    text = repr(sorted(row.items())).lower()
    for s in sensitive_strings():
        assert s.lower() not in text, s


# ---------------------------------------------------------------------------------------------
# the writer: real files for two independent readers


def _cfb_tree_is_valid(ole: olefile.OleFileIO) -> None:
    """Every sibling tree is a binary search tree in CFB order and a valid red-black tree."""
    RED, BLACK = 0, 1  # MS-CFB 2.6.1 node colours
    def key(e: Any) -> tuple[int, str]:
        return (len(e.name), e.name.upper())

    def check(sid: int, lo: Any, hi: Any) -> int:  # -> black height
        if sid == olefile.NOSTREAM:
            return 1
        e = ole.direntries[sid]
        assert (lo is None or key(lo) < key(e)) and (hi is None or key(e) < key(hi))
        red = e.color == RED
        for child in (e.sid_left, e.sid_right):
            if red and child != olefile.NOSTREAM:
                assert ole.direntries[child].color == BLACK, "red node with red child"
        left = check(e.sid_left, lo, e)
        right = check(e.sid_right, e, hi)
        assert left == right, "unequal black heights"
        return left + (0 if red else 1)

    for e in ole.direntries:
        if e is not None and e.entry_type in (olefile.STGTY_ROOT, olefile.STGTY_STORAGE):
            check(e.sid_child, None, None)


def test_written_files_open_in_olefile_strict_and_extract_msg(tmp_path: Path) -> None:
    big = random.Random(3).randbytes(150_000)  # > 128 sectors: two FAT sectors
    many = [(f"Personne {i}", f"p{i}@x.test") for i in range(13)]  # deep sibling trees
    cases = [
        sent_reply(tmp_path / "a.msg"),
        write_msg(tmp_path / "b.msg", subject="Grand fichier", sender_name="A B",
                  sender_email="a.b@x.test", to=many, cc=[], date=WHEN,
                  message_id="<b@x.test>", body_text="é" * 5000,  # a regular-sector string
                  attachments=[("gros.bin", "application/octet-stream", big)]),
        write_msg(tmp_path / "c.msg", subject="", sender_name="", sender_email="c@x.test",
                  to=[], date=None, message_id=None, body_text=None),
    ]
    for path in cases:
        ole = olefile.OleFileIO(str(path), raise_defects=olefile.DEFECT_INCORRECT)
        _cfb_tree_is_valid(ole)
        ole.close()
    m = extract_msg.openMsg(str(cases[0]))
    try:
        assert m.subject == SUBJECT
        assert m.sender == f"{PEOPLE['owner'][0]} <{OWNER}>"
        assert [(r.name, r.email, int(r.type)) for r in m.recipients] == [
            (*PEOPLE["jean"], 1), (*PEOPLE["ext"], 1), (*PEOPLE["zoe"], 2), (*PEOPLE["bcc"], 3)]
        assert m.date == WHEN and m.messageId == "<reply-1@x.test>"
        assert m.inReplyTo == "<orig-1@x.test>" and m.body == BODY
        assert [(a.longFilename, a.data) for a in m.attachments] == [
            ("Budget été 2026.pdf", PDF), ("Annexe Müller.xlsx", XLSX)]
        assert m.attachments[0].mimetype == "application/pdf"
    finally:
        m.close()
    m = extract_msg.openMsg(str(cases[1]))
    try:
        assert len(m.recipients) == 13 and m.attachments[0].data == big
        assert m.body == "é" * 5000
    finally:
        m.close()


def test_reader_is_independent_of_the_writer_layout(tmp_path: Path,
                                                     builder: RowBuilder) -> None:
    """extract_msg's own OLE writer lays sectors out differently: same row, same cut check."""
    ours = sent_reply(tmp_path / "ours.msg")
    ole = olefile.OleFileIO(str(ours))
    w = extract_msg.OleWriter()
    w.fromOleFile(ole)
    ole.close()
    theirs = tmp_path / "theirs.msg"
    w.write(str(theirs))
    assert theirs.read_bytes() != ours.read_bytes()
    rows = []
    for path in (ours, theirs):
        parsed = read_msg(path)
        rows.append(builder.build(parsed.headers, parsed.outline, ctx(builder, 1)))
    assert rows[0] == rows[1]
    raw = theirs.read_bytes()
    for cut in (len(raw) // 3, len(raw) - 1024):
        theirs.write_bytes(raw[:cut])
        with pytest.raises(MsgError, match="truncated"):
            read_msg(theirs)


def test_cfb_writer_sizes_are_exact() -> None:
    out = write_cfb({"s": b"x" * 10, "big": b"y" * 5000, "st": {"e": b""}})
    # header + FAT + directory (5 entries -> 2 sectors) + miniFAT + mini stream + 10 big
    assert len(out) == 512 * (1 + 1 + 2 + 1 + 1 + 10)
    assert out[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    assert struct.unpack_from("<I", out, 44)[0] == 1  # one FAT sector


# ---------------------------------------------------------------------------------------------
# the reader: same row as the .eml route


def test_sent_msg_gives_the_same_row_as_its_eml(tmp_path: Path, builder: RowBuilder) -> None:
    parsed = read_msg(sent_reply(tmp_path / "Élodie - RE Réunion.msg"))
    eml = read_message(iter_lines(BytesIO(eml_of_sent_reply())))
    c = ctx(builder, 1234)
    row_msg = builder.build(parsed.headers, parsed.outline, c)
    row_eml = builder.build(eml.headers, eml.outline, c)
    assert row_msg == row_eml
    p = builder.p
    assert row_msg["subject_len"] == len("Réunion « été » — budget prévisionnel")
    assert row_msg["n_prefixes"] == 1 and row_msg["is_reply"] and not row_msg["is_forward"]
    assert row_msg["n_attachments"] == 2
    assert row_msg["attachment_kinds"] == ["pdf", "spreadsheet"]
    assert row_msg["sender"] == p.person(OWNER) and row_msg["direction"] == "sent"
    assert row_msg["to"] == [p.person(PEOPLE["jean"][1]), MARK_EXTERNAL]
    assert row_msg["cc"] == [p.person(PEOPLE["zoe"][1])]
    assert row_msg["bcc"] == [p.person(PEOPLE["bcc"][1])]
    assert (row_msg["n_internal"], row_msg["n_external"]) == (3, 1)
    assert row_msg["in_reply_to"] == p.digest("message", "orig-1@x.test")
    assert row_msg["thread_root"] == p.digest("message", "root-1@x.test")
    assert row_msg["date_utc"] == WHEN
    assert row_msg["text_bytes"] == len(BODY.encode("utf-8"))
    assert row_msg["client_family"] == "outlook" and row_msg["importance"] == "high"
    assert row_msg["defects"] == []
    assert_no_leak(row_msg)


def test_ansi_msg_gives_the_same_row_as_unicode(tmp_path: Path, builder: RowBuilder) -> None:
    """Outlook 97-2002 wrote PT_STRING8 strings in the message's code page."""
    ansi = read_msg(sent_reply(tmp_path / "ansi.msg", unicode=False))
    uni = read_msg(sent_reply(tmp_path / "uni.msg"))
    assert decode_text(ansi.headers.get("Subject")) == SUBJECT
    c = ctx(builder, 1)
    assert builder.build(ansi.headers, ansi.outline, c) == \
        builder.build(uni.headers, uni.outline, c)


def test_forwarded_item_counts_as_a_message_attachment(tmp_path: Path,
                                                       builder: RowBuilder) -> None:
    inner = dict(subject="Convocation Müller", sender_name="Zoé", sender_email="z@x.test",
                 to=[PEOPLE["jean"]], date=WHEN, message_id="<inner@x.test>",
                 attachments=[("ordre du jour.docx", None, b"PK" * 40)])
    path = write_msg(tmp_path / "fw.msg", subject="TR: Convocation Müller",
                     sender_name=PEOPLE["owner"][0], sender_email=OWNER, to=[PEOPLE["zoe"]],
                     date=WHEN, message_id="<fw@x.test>", embedded=[inner],
                     attachments=[("note.pdf", "application/pdf", PDF)])
    ole = olefile.OleFileIO(str(path), raise_defects=olefile.DEFECT_INCORRECT)
    _cfb_tree_is_valid(ole)
    ole.close()
    m = extract_msg.openMsg(str(path))
    try:
        assert m.attachments[1].data.subject == "Convocation Müller"
    finally:
        m.close()
    parsed = read_msg(path)
    row = builder.build(parsed.headers, parsed.outline, ctx(builder, 1))
    assert row["is_forward"] and row["n_attachments"] == 2
    assert row["attachment_kinds"] == ["message", "pdf"]  # the inner .docx is not counted
    assert row["message_id"] == builder.p.digest("message", "fw@x.test")
    assert_no_leak(row)


def test_transport_headers_win_and_give_the_eml_row(tmp_path: Path,
                                                    builder: RowBuilder) -> None:
    raw = eml_of_sent_reply()
    block = raw.split(b"\r\n\r\n", 1)[0].decode("ascii") + "\r\n\r\n"
    path = sent_reply(tmp_path / "r.msg", transport_headers=block,
                      subject="Autre sujet", message_id="<other@x.test>", x_mailer=None,
                      importance=None)
    parsed = read_msg(path)
    eml = read_message(iter_lines(BytesIO(raw)))
    c = ctx(builder, parsed.size, role="inbox")
    assert builder.build(parsed.headers, parsed.outline, c) == \
        builder.build(eml.headers, eml.outline, c)
    assert parsed.header_digest and parsed.size == path.stat().st_size


def test_missing_transport_fields_are_completed_from_mapi(tmp_path: Path,
                                                          builder: RowBuilder) -> None:
    headers = ("Received: from mx.x.test by mbx.x.test; Tue, 3 Mar 2026 09:16:00 +0000\r\n"
               "X-Mailer: Mozilla Thunderbird\r\n\r\n")
    parsed = read_msg(sent_reply(tmp_path / "h.msg", transport_headers=headers))
    row = builder.build(parsed.headers, parsed.outline, ctx(builder, 1, role="inbox"))
    assert row["sender"] == builder.p.person(OWNER)
    assert row["client_family"] == "thunderbird"  # from the transport headers, not MAPI
    assert row["n_to"] == 2 and row["date_utc"] == WHEN
    assert row["bcc"] == []  # Bcc is not completed: received mail never shows it
    assert row["defects"] == ["msg_headers_completed"]


def test_inline_pictures_html_body_flags_and_exchange_addresses(tmp_path: Path,
                                                                builder: RowBuilder) -> None:
    ex_dn = "/O=EXCHANGELABS/OU=EXCHANGE ADMINISTRATIVE GROUP/CN=RECIPIENTS/CN=JDUPONT"
    html = "<p>Bonjour é</p>".encode()
    path = write_msg(tmp_path / "i.msg", subject="TR: photo", sender_name="Jean Dupont",
                     sender_email=ex_dn, to=[("Moi", OWNER)], date=None,
                     message_id=None, body_text=None, body_html=html,
                     hidden_attachments=[("image001.png", "image/png", b"\x89PNG" * 10)],
                     attachments=[("photo.JPG", "image/jpeg", b"\xff\xd8" * 10)],
                     read=False, unsent=True)
    parsed = read_msg(path)
    assert isinstance(parsed, MsgMessage)
    assert parsed.seen is False and parsed.draft is True
    c = ctx(builder, parsed.size, role="drafts",
            fallback_date=dt.datetime(2026, 2, 1, tzinfo=UTC))
    row = builder.build(parsed.headers, parsed.outline, c)
    assert row["sender"] == MARK_INVALID and row["is_forward"]
    # a picture shown in the body still has a file name: an attachment, as the same
    # message read as MIME (an inline part with a file name) counts it
    assert row["n_attachments"] == 2 and row["attachment_kinds"] == ["image", "image"]
    assert row["text_bytes"] == len(html)
    assert row["date_utc"] == dt.datetime(2026, 2, 1, tzinfo=UTC)
    assert {"msg_no_smtp_address", "missing_message_id", "date_from_source"} <= set(
        row["defects"])
    assert_no_leak(row)
    assert "JDUPONT" not in repr(row)


def test_line_breaks_in_mapi_values_cannot_forge_headers(tmp_path: Path,
                                                         builder: RowBuilder) -> None:
    path = sent_reply(tmp_path / "x.msg", subject="Bonjour\r\nBcc: intrus@x.test",
                      to=[("Jean\r\nCc: autre@x.test", PEOPLE["jean"][1])], cc=[], bcc=[])
    parsed = read_msg(path)
    row = builder.build(parsed.headers, parsed.outline, ctx(builder, 1))
    assert row["to"] == [builder.p.person(PEOPLE["jean"][1])]
    assert row["cc"] == [] and row["bcc"] == []
    assert row["subject_len"] == len("Bonjour Bcc: intrus@x.test")


@pytest.mark.parametrize("submit", [None, dt.datetime(1601, 1, 1, tzinfo=UTC),
                                    dt.datetime(4500, 8, 31, 23, 59, tzinfo=UTC)],
                         ids=["absent", "zero_filetime", "null_filetime"])
def test_delivery_time_is_used_without_submit_time(tmp_path: Path, builder: RowBuilder,
                                                   submit: dt.datetime | None) -> None:
    later = dt.datetime(2026, 4, 1, 8, 0, tzinfo=UTC)
    parsed = read_msg(sent_reply(tmp_path / "d.msg", date=submit, delivery_time=later))
    assert builder.build(parsed.headers, parsed.outline, ctx(builder, 1))["date_utc"] == later


# ---------------------------------------------------------------------------------------------
# failures: one clear exception, nothing personal in it, nothing logged


def _corrupt_cases(tmp: Path) -> dict[str, bytes]:
    good = build_msg(subject="Sujet", sender_name="Jean Dupont", sender_email="jd@x.test",
                     to=[("Zoé", "z@x.test")], date=WHEN, message_id="<m@x.test>",
                     body_text="x" * 5000,
                     attachments=[("a.pdf", "application/pdf", random.Random(1).randbytes(9000))])
    n_fat = struct.unpack_from("<I", good, 44)[0]
    no_dir = bytearray(good)
    no_dir[512 * (1 + n_fat): 512 * (2 + n_fat)] = b"\xff" * 512
    cases = {f"cut_{n}": good[:n] for n in (0, 7, 511, 512, 1500, len(good) // 2,
                                            len(good) - 512)}
    cases["directory_overwritten"] = bytes(no_dir)
    cases["random"] = random.Random(5).randbytes(4096)
    cases["text"] = b"namespace eval ::msgcat {\n  mcset fr Yes Oui\n}\n" * 20
    cases["cfb_not_msg"] = write_cfb({"WordDocument": b"x" * 100})
    cases["contact"] = build_msg(subject="Jean Dupont", sender_name="", sender_email="",
                                 to=[], date=None, message_id=None,
                                 message_class="IPM.Contact")
    return cases


def test_corrupt_files_raise_msgerror_without_path_or_name(tmp_path: Path,
                                                           caplog: pytest.LogCaptureFixture
                                                           ) -> None:
    folder = tmp_path / "Jean Dupont"
    folder.mkdir()
    caplog.set_level(logging.DEBUG)
    reasons = {}
    for label, data in _corrupt_cases(tmp_path).items():
        path = folder / f"RE Réunion {label}.msg"
        path.write_bytes(data)
        with pytest.raises(MsgError) as err:
            read_msg(path)
        msg = str(err.value)
        assert msg == err.value.reason and "Jean" not in msg and "Réunion" not in msg
        assert str(tmp_path) not in msg and err.value.__cause__ is None
        reasons[label] = msg
    assert reasons["cut_0"] == "not an OLE compound file, or truncated"
    assert reasons["contact"] == "not a mail item"
    assert all("truncated" in r for k, r in reasons.items() if k.startswith("cut_"))
    with pytest.raises(MsgError, match="file unreadable"):
        read_msg(folder / "absent.msg")
    for rec in caplog.records:
        assert "Jean" not in rec.getMessage() and "Réunion" not in rec.getMessage()
    assert not [r for r in caplog.records if r.name.split(".")[0] in ("extract_msg", "olefile")]


# ---------------------------------------------------------------------------------------------
# end to end through the file collector


def test_collecting_msg_files_matches_collecting_their_eml(tmp_path: Path) -> None:
    from studykit import make_study

    from anonymise.escrow import load_identity, open_escrow
    from mailstudy.collect.run import collect_files
    from mailstudy.store import read_messages

    study, ident = make_study(tmp_path, domains=("x.test",))
    msg_root = tmp_path / "msg" / OWNER
    eml_root = tmp_path / "eml" / OWNER
    for root in (msg_root, eml_root):
        (root / "Sent Items").mkdir(parents=True)
    sent_reply(msg_root / "Sent Items" / "RE Réunion.msg")
    (eml_root / "Sent Items" / "RE Réunion.eml").write_bytes(eml_of_sent_reply())
    (msg_root / "Sent Items" / "cut.msg").write_bytes(
        (msg_root / "Sent Items" / "RE Réunion.msg").read_bytes()[:2000])
    s_msg = collect_files(study, [msg_root], workers=1)
    # names reach the key holder's escrow decoded, from the .msg route alone
    ps = study.pseudonymiser()
    opened = open_escrow(study.escrow_dir, load_identity(ident))
    for key in ("jean", "zoe", "bcc"):
        got = opened[ps.person(PEOPLE[key][1])]
        assert (got["address"], got["name"]) == (PEOPLE[key][1], PEOPLE[key][0])
    s_eml = collect_files(study, [eml_root], workers=1)
    assert s_msg.mailboxes[0].format == "msg" and s_msg.messages_written == 1
    assert sum(s_msg.mailboxes[0].skipped.values()) == 1  # the cut file, counted
    assert s_eml.messages_written == 1
    df = read_messages(study.messages_dir)
    rows = {r["source"]: r for r in df.to_dict("records")}
    assert set(rows) == {"msg", "eml"}
    differ = {k for k in rows["msg"] if repr(rows["msg"][k]) != repr(rows["eml"][k])}
    # .eml files carry no read flag; Outlook's is kept
    assert differ == {"source", "item_id", "size_bytes", "seen"}
    assert rows["eml"]["seen"] is None and rows["msg"]["seen"] is not None
    assert_no_leak(rows["msg"])
