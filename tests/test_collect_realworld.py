"""Shapes of real-world mail that were silently lost or miscounted, each written to disk in
the shape that failed and collected."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from msgfactory import write_msg
from studykit import DOMAIN, make_study, message, write_maildir

from mailstudy.collect import mimeshared
from mailstudy.collect.run import collect_files
from mailstudy.store import read_messages

OWNER = f"jean.dupont@{DOMAIN}"


def envelope(i: int) -> bytes:
    return f"From sender{i}@example.org Mon Sep  7 10:{i % 60:02d}:00 2026\n".encode()


def collect(tmp_path: Path, source: Path, **kw):
    study, _ = make_study(tmp_path / "s")
    s = collect_files(study, [source], workers=1, owner=OWNER, **kw)
    assert not s.failures, s.failures
    return s, read_messages(study.messages_dir), study


def accounted(s) -> int:
    t = s.totals()
    return t["messages_written"] + sum(v for k, v in t["skipped"].items()
                                       if k not in ("personal_folders", "empty_mailbox"))


def test_mbox_without_blank_lines_before_envelopes_keeps_every_message(tmp_path: Path) -> None:
    out = bytearray()
    for i in range(29):
        out += envelope(i) + message(message_id=f"<mb{i}@region.test>",
                                     body=f"ligne {i}\nFrom here on, a body line.\n")
        # no blank line before the next envelope, as some exporters write them
    path = tmp_path / "box.mbox"
    path.write_bytes(bytes(out))
    s, df, _ = collect(tmp_path, path)
    assert s.messages_written == 29 and accounted(s) == 29
    # "From here on" in a body is not an envelope: the body stays with its message
    want = sorted(len(f"ligne {i}\nFrom here on, a body line.\n") + 2 for i in range(29))
    assert sorted(df.text_bytes) == want and df.message_id.nunique() == 29


def test_three_messages_second_body_is_not_the_first_ones_text(tmp_path: Path) -> None:
    a = message(message_id="<a@region.test>", body="court\n")
    b = message(message_id="<b@region.test>", body="x" * 5000 + "\n")
    c = message(message_id="<c@region.test>", body="court\n")
    path = tmp_path / "three.mbox"
    path.write_bytes(envelope(1) + a + envelope(2) + b + envelope(3) + c)
    s, df, _ = collect(tmp_path, path)
    assert s.messages_written == 3
    assert sorted(df.text_bytes) == [7, 7, 5002]  # CRLF sizes


def test_byte_order_marks_at_the_start_of_mbox_and_eml(tmp_path: Path) -> None:
    bom = b"\xef\xbb\xbf"
    mbox = tmp_path / f"{OWNER}.mbox"
    mbox.write_bytes(bom + envelope(1) + message(message_id="<bom1@region.test>") + b"\n"
                     + envelope(2) + message(message_id="<bom2@region.test>"))
    s, df, _ = collect(tmp_path / "a", mbox)
    assert s.messages_written == 2 and df.sender.notna().all()
    eml_dir = tmp_path / "eml"
    eml_dir.mkdir()
    (eml_dir / "1.eml").write_bytes(bom + message(message_id="<bom3@region.test>"))
    s, df, _ = collect(tmp_path / "b", eml_dir)
    assert s.messages_written == 1
    row = df.iloc[0]
    assert row.sender is not None and row.message_id and "byte_order_mark" in row.defects
    assert "malformed_header_line" not in row.defects


def test_folder_mixing_eml_msg_and_mbox_reads_each_by_its_format(tmp_path: Path) -> None:
    root = tmp_path / "export"
    (root / "Inbox").mkdir(parents=True)
    (root / "Inbox" / "a.eml").write_bytes(message(message_id="<e1@region.test>"))
    write_msg(root / "Inbox" / "b.msg", subject="Outlook", sender_name="Marie",
              sender_email=f"marie.curie@{DOMAIN}", to=[("Jean", OWNER)],
              date=dt.datetime(2026, 3, 3, 9, 0, tzinfo=dt.UTC), message_id="<m1@region.test>")
    (root / "Archives").write_bytes(envelope(1) + message(message_id="<x1@region.test>"))
    (root / "Inbox" / "Thumbs.db").write_bytes(b"\x00\x01junk")
    s, df, _ = collect(tmp_path, root)
    assert s.messages_written == 3
    assert sorted(df.source) == ["eml", "mbox", "msg"]
    assert s.totals()["skipped"].get("not_a_message_file") == 1


def mime(ctype: str, parts: list[bytes], boundary: str = "b1", head: str = "") -> bytes:
    body = b"".join(b"--" + boundary.encode() + b"\n" + p + b"\n" for p in parts)
    return (f"From: Marie <marie.curie@{DOMAIN}>\nTo: {OWNER}\nSubject: s\n"
            f"Date: Mon, 07 Sep 2026 10:00:00 +0200\nMessage-ID: <{boundary}{len(parts)}"
            f"{ctype.replace('/', '.')}@region.test>\n{head}MIME-Version: 1.0\n"
            f"Content-Type: {ctype}; boundary=\"{boundary}\"\n\n").encode() + body + \
        f"--{boundary}--\n".encode()


TEXT = b"Content-Type: text/plain\n\nBonjour\n"
T = 9  # "Bonjour" and its line end, CRLF-counted (the next newline belongs to the delimiter)
HTML = b"Content-Type: text/html\n\n<p>Bonjour</p>\n"

SHAPES = {
    # (raw, n_attachments, text_bytes)
    "inline_image_with_name": (mime("multipart/mixed", [
        TEXT, b"Content-Type: image/jpeg; name=\"p.jpg\"\nContent-Disposition: inline; "
        b"filename=\"p.jpg\"\n\nJPEG\n"]), 1, T),
    "inline_pdf_with_name": (mime("multipart/mixed", [
        TEXT, b"Content-Type: application/pdf\nContent-Disposition: inline; filename=a.pdf"
        b"\n\n%PDF\n"]), 1, T),
    "text_part_with_filename": (mime("multipart/mixed", [
        TEXT, b"Content-Type: text/plain; name=notes.txt\nContent-Disposition: inline; "
        b"filename=notes.txt\n\n" + b"n" * 500 + b"\n"]), 1, T),
    "smime_signed": (mime("multipart/signed", [
        TEXT, b"Content-Type: application/pkcs7-signature; name=smime.p7s\n"
        b"Content-Disposition: attachment; filename=smime.p7s\n\nSIG\n"],
        head=""), 0, T),
    "pgp_signed": (mime("multipart/signed", [
        TEXT, b"Content-Type: application/pgp-signature; name=signature.asc\n\nSIG\n"]), 0, T),
    "pgp_encrypted": (mime("multipart/encrypted", [
        b"Content-Type: application/pgp-encrypted\n\nVersion: 1\n",
        b"Content-Type: application/octet-stream; name=encrypted.asc\n\n-----BEGIN PGP\n"]),
        1, 0),
    "smime_encrypted_is_one": (b"From: m@" + DOMAIN.encode() + b"\nSubject: s\nMessage-ID: "
                               b"<enc@x>\nContent-Type: application/pkcs7-mime; smime-type="
                               b"enveloped-data; name=smime.p7m\nContent-Disposition: "
                               b"attachment; filename=smime.p7m\n\nMIAGCSqGSIb3DQEHA\n", 1, 0),
    "delivery_report": (mime("multipart/report", [
        TEXT, b"Content-Type: message/delivery-status\n\nReporting-MTA: dns; mx\n",
        b"Content-Type: message/rfc822\n\nSubject: original\n\nhello\n"]), 0, T),
    "two_plain_alternatives": (mime("multipart/alternative", [TEXT, TEXT, HTML]), 0, T),
    "digest_parts_are_messages": (mime("multipart/digest", [
        b"\nSubject: one\n\nfirst\n", b"\nSubject: two\n\nsecond\n"]), 2, 0),
}


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_attachment_and_text_definitions(tmp_path: Path, name: str) -> None:
    raw, n_att, text = SHAPES[name]
    root = write_maildir(tmp_path / OWNER, {"": [(raw, "S")]})
    s, df, _ = collect(tmp_path, root)
    row = df.iloc[0]
    assert (row.n_attachments, row.text_bytes) == (n_att, text), name
    if name.endswith("encrypted") or name == "smime_encrypted_is_one":
        assert list(row.attachment_kinds) == ["encrypted"]
    if name == "digest_parts_are_messages":
        assert list(row.attachment_kinds) == ["message", "message"]


def test_defects_inside_an_attached_message_are_reported(tmp_path: Path) -> None:
    inner = (b"Subject: inner\nContent-Type: multipart/mixed; boundary=in\n\n--in\n"
             b"Content-Type: text/plain\n\nnever closed\n")
    raw = mime("multipart/mixed", [TEXT, b"Content-Type: message/rfc822\n\n" + inner])
    root = write_maildir(tmp_path / OWNER, {"": [(raw, "S")]})
    s, df, _ = collect(tmp_path, root)
    d = list(df.iloc[0].defects)
    assert "attached_missing_close_boundary" in d and "missing_close_boundary" not in d


def subaddressed_study(tmp_path: Path):
    """A study of two domains (one Unicode) whose server uses ``+tag`` sub-addresses."""
    from mailstudy.study import open_study

    study, _ = make_study(tmp_path / "s", domains=(DOMAIN, "région.test"))
    cfg = study.root / "study.toml"
    cfg.write_text(cfg.read_text(encoding="utf-8").replace(
        "[organisation]\n", "[organisation]\nsubaddress_separator = \"+\"\n", 1),
        encoding="utf-8")
    return open_study(study.root)


def test_addresses_trailing_dot_encoded_idna_and_subaddress(tmp_path: Path) -> None:
    study = subaddressed_study(tmp_path)
    p = study.pseudonymiser()
    marie = f"marie.curie@{DOMAIN}"
    mails = [
        message(message_id="<a1@x>", sender=f"Marie <{marie}.>"),
        message(message_id="<a2@x>", sender="=?utf-8?b?" + __import__("base64").b64encode(
            f"Marie <{marie}>".encode()).decode() + "?="),
        message(message_id="<a3@x>", sender="Luc <luc@région.test>"),
        message(message_id="<a4@x>", sender="Luc <luc@xn--rgion-bsa.test>"),
        message(message_id="<a5@x>", sender=f"Marie <marie.curie+budget@{DOMAIN}>"),
        message(message_id="<a6@x>", sender="Ext <ann+list@example.org>"),
    ]
    root = write_maildir(tmp_path / OWNER, {"": [(m, "S") for m in mails]})
    s = collect_files(study, [root], workers=1)
    assert s.messages_written == len(mails)
    df = read_messages(study.messages_dir).set_index("message_id")
    by = {i: df.loc[p.digest("message", f"a{i}@x")].sender for i in range(1, 7)}
    assert by[1] == by[2] == by[5] == p.person(marie)
    assert by[3] == by[4] and by[3] not in ("ext", "invalid")
    assert by[6] == "ext"


def test_a_message_over_its_budget_is_skipped_and_counted(tmp_path: Path,
                                                         monkeypatch) -> None:
    mails = [(message(message_id=f"<o{i}@x>"), "S") for i in range(3)]
    root = write_maildir(tmp_path / OWNER, {"": mails})
    monkeypatch.setattr(mimeshared, "MAX_SECONDS", -1.0)  # every message is already late
    s, df, _ = collect(tmp_path, root)
    t = s.totals()
    assert t["messages_written"] == 0 and t["skipped"].get("over_budget_time") == 3
    assert accounted(s) == t["messages_seen"] == 3


def test_a_message_with_too_many_parts_keeps_its_row_with_a_defect(tmp_path: Path,
                                                                   monkeypatch) -> None:
    monkeypatch.setattr(mimeshared, "MAX_PARTS", 5)
    # five nodes: the multipart itself, three texts, one image; the rest is not described
    raw = mime("multipart/mixed", [TEXT] * 3 + [b"Content-Type: image/png\n\nPNG\n"] * 6)
    root = write_maildir(tmp_path / OWNER, {"": [(raw, "S"), (message(), "S")]})
    s, df, _ = collect(tmp_path, root)
    assert s.messages_written == 2
    row = df[df.defects.apply(lambda d: "too_many_parts" in d)].iloc[0]
    # the size still counts the whole message
    assert row.n_attachments == 1 and row.size_bytes == len(raw) + raw.count(b"\n")
    assert "missing_close_boundary" not in row.defects


def test_headers_ended_by_a_body_line_without_blank_line(tmp_path: Path) -> None:
    # a broken exporter wrote no blank line: the first line that is no header starts the body
    raw = (f"From: Marie <marie.curie@{DOMAIN}>\nTo: {OWNER}\nSubject: s\nMessage-ID: <nb@x>\n"
           "Date: Mon, 07 Sep 2026 10:00:00 +0200\nBonjour Jean,\nvoici le point.\n").encode()
    part = mime("multipart/mixed", [b"Content-Type: text/plain\nIn article, someone wrote\n"
                                    b"\nhello\n"])
    root = write_maildir(tmp_path / OWNER, {"": [(raw, "S"), (part, "S")]})
    s, df, _ = collect(tmp_path, root)
    assert s.messages_written == 2
    one = df[df.text_bytes == len("Bonjour Jean,\nvoici le point.\n") + 2]
    assert len(one) == 1 and "header_without_separator" in one.iloc[0].defects
    assert one.iloc[0].n_to == 1
    two = df[df.n_attachments == 0].text_bytes.tolist()
    assert len("In article, someone wrote\n\nhello\n") + 3 in two


def test_directory_optouts_and_collection_agree_on_one_spelling(tmp_path: Path) -> None:
    """A sub-addressed, dotted or Unicode-domain spelling names the same person in the HR
    directory, an objection and the collected mail: otherwise an objector written
    "luc@région.test" in the directory would be collected under another pseudonym."""
    from mailstudy.intake.directory import import_directory
    from mailstudy.optout import add_optouts, load_optouts

    study = subaddressed_study(tmp_path)
    hr = tmp_path / "annuaire.csv"
    hr.write_text("courriel;fonction\n"
                  f"marie.curie+rh@{DOMAIN}.;chargée de mission\n"
                  "luc@xn--rgion-bsa.test;chargé de mission\n", encoding="utf-8")
    directory, _ = import_directory(study, hr)
    mails = [message(message_id="<b1@x>", sender=f"Marie <marie.curie@{DOMAIN}>"),
             message(message_id="<b2@x>", sender="Luc <luc@région.test>")]
    root = write_maildir(tmp_path / OWNER, {"": [(m, "S") for m in mails]})
    collect_files(study, [root], workers=1)
    senders = set(read_messages(study.messages_dir)["sender"])
    assert set(directory["person"]) == senders and len(senders) == 2
    add_optouts(study, ["LUC@région.test."])
    assert len(load_optouts(study).filter(list(senders))) == 1
