"""File collection on real Maildir, mbox and .eml files written to disk."""

from __future__ import annotations

import os
import stat
import tracemalloc
from pathlib import Path

import pandas as pd
import pytest
from studykit import DOMAIN, make_study, message, run_cli, write_maildir, write_mbox

from anonymise.escrow import load_identity, open_escrow
from mailstudy import schema
from mailstudy.collect.formats.detect import detect_format
from mailstudy.collect.mime import iter_lines, read_message
from mailstudy.collect.run import collect_files
from mailstudy.optout import add_optouts
from mailstudy.store import read_messages
from mailstudy.study import StudyError, open_study

OWNER = f"jean.dupont@{DOMAIN}"
SENT = ".&AMk-l&AOk-ments envoy&AOk-s"  # "Éléments envoyés" in modified UTF-7


def corpus() -> list[tuple[bytes, str, str]]:
    """(raw, folder, maildir flags) of a small mailbox."""
    return [
        (message(), "", "S"),
        (message(message_id="<m2@region.test>", subject="RE: Réunion de service",
                 in_reply_to="<m0@region.test>",
                 cc="=?iso-8859-1?q?Herv=E9_Le_Goff?= <herve.legoff@region.test>",
                 extra="X-Mailer: Microsoft Outlook 16.0"), "", "RS"),
        (message(message_id="<m3@region.test>", sender="Lettre <info@newsletter.example>",
                 subject="Actualités", extra="List-Id: <news.newsletter.example>\n"
                 "Precedence: bulk"), "", ""),
        (message(message_id="<m4@region.test>", attachment=b"%PDF-1.4 " + b"x" * 3000),
         ".Archives.2026", "SF"),
        (message(message_id="<m5@region.test>", sender=f"Jean Dupont <{OWNER}>",
                 to="Partenaire <contact@partenaire.test>, Ext <a@gmail.example>",
                 subject="TR: Convention", extra="User-Agent: Thunderbird 115"), SENT, "S"),
    ]


def build_sources(tmp: Path) -> dict[str, Path]:
    c = corpus()
    md: dict[str, list[tuple[bytes, str]]] = {}
    for raw, folder, flags in c:
        md.setdefault(folder, []).append((raw, flags))
    maildir = write_maildir(tmp / "maildir" / OWNER, md)
    mbox = write_mbox(tmp / f"{OWNER}.mbox", [raw for raw, _, _ in c])
    eml = tmp / "eml" / OWNER
    for i, (raw, _, _) in enumerate(c):
        (eml / "Inbox").mkdir(parents=True, exist_ok=True)
        (eml / "Inbox" / f"{i}.eml").write_bytes(raw)
    return {"maildir": maildir, "mbox": mbox, "eml": eml}


def test_formats_are_detected(tmp_path: Path) -> None:
    src = build_sources(tmp_path)
    assert {k: detect_format(v) for k, v in src.items()} == {
        "maildir": "maildir", "mbox": "mbox", "eml": "eml"}


def test_maildir_rows_follow_the_contract(tmp_path: Path) -> None:
    study, ident = make_study(tmp_path)
    src = build_sources(tmp_path)
    summary = collect_files(study, [src["maildir"]], workers=1)
    assert summary.messages_written == 5 and not summary.failures
    df = read_messages(study.messages_dir)
    schema.check(df, "messages")
    ps = study.pseudonymiser()
    assert set(df["mailbox"]) == {ps.person(OWNER)}
    by_role = df.groupby("folder_role").size().to_dict()
    assert by_role == {"inbox": 3, "archive": 1, "sent": 1}
    sent = df[df.folder_role == "sent"].iloc[0]
    assert sent.direction == "sent" and sent.is_forward and not sent.is_reply
    assert sorted(sent.to) == ["ext", "partner"] and sent.n_external == 2
    assert sent.client_family == "thunderbird"
    reply = df[df.message_id == ps.digest("message", "m2@region.test")].iloc[0]
    assert reply.is_reply and reply.n_prefixes == 1 and reply.answered and reply.seen
    assert reply.cc[0] == ps.person("herve.legoff@region.test")
    assert reply.subject_len == len("Réunion de service")
    assert reply.client_family == "outlook"
    assert reply.in_reply_to == ps.digest("message", "m0@region.test") == reply.thread_root
    bulk = df[df.is_bulk]
    assert len(bulk) == 1 and bulk.iloc[0].sender == "ext"
    att = df[df.n_attachments > 0].iloc[0]
    assert list(att.attachment_kinds) == ["pdf"] and att.flagged and att.folder_depth == 1
    assert att.text_bytes == len(b"Bonjour,\r\nvoici le point.")
    assert (df.date_utc.dt.tz is not None) and df.date_local.iloc[0].hour == 10
    # identities were sealed for the key holder, and only the key holder opens them
    opened = open_escrow(study.escrow_dir, load_identity(ident))
    assert opened[ps.person("herve.legoff@region.test")]["name"] == "Hervé Le Goff"
    assert opened[ps.person(OWNER)]["address"] == OWNER


def test_same_messages_same_rows_across_formats(tmp_path: Path) -> None:
    src = build_sources(tmp_path)
    frames = []
    key = None
    for fmt in ("maildir", "mbox", "eml"):  # one study each, one key
        study, _ = make_study(tmp_path / fmt)
        if key is None:
            key = study.key_path.read_bytes()
        study.key_path.write_bytes(key)
        collect_files(study, [src[fmt]], workers=1)
        frames.append(read_messages(study.messages_dir))
    df = pd.concat(frames, ignore_index=True)
    keep = ["message_id", "sender", "n_to", "n_cc", "n_internal", "n_external", "date_utc",
            "size_bytes", "text_bytes", "n_attachments", "is_reply", "is_forward",
            "thread_root", "subject_len", "n_prefixes", "is_bulk", "client_family"]
    per = {s: df[df.source == s][keep].sort_values("message_id").reset_index(drop=True)
           for s in ("maildir", "mbox", "eml")}
    assert len(per["maildir"]) == 5
    pd.testing.assert_frame_equal(per["maildir"], per["mbox"])
    pd.testing.assert_frame_equal(per["maildir"], per["eml"])


def test_mboxo_and_mboxrd_keep_from_lines_in_bodies(tmp_path: Path) -> None:
    study, _ = make_study(tmp_path)
    raw = message(body="Hello\nFrom the start of a line\n>From quoted\n")
    o = write_mbox(tmp_path / "o.mbox", [raw, raw.replace(b"<m1@", b"<m9@")])
    rd = write_mbox(tmp_path / "rd.mbox", [raw, raw.replace(b"<m1@", b"<m9@")], rd=True)
    assert o.read_bytes() != rd.read_bytes()
    s = collect_files(study, [o], owner=OWNER, workers=1)
    # escaped body lines neither split a message nor leave a defect
    assert s.messages_written == 2 and not s.totals()["defects"]
    # the same mailbox exported as mboxrd is recognised message by message
    s = collect_files(study, [rd], owner=OWNER, workers=1)
    assert s.messages_written == 0 and s.totals()["already_present"] == 2
    df = read_messages(study.messages_dir)
    assert df.size_bytes.nunique() == 1 and len(df) == 2


def test_rerun_adds_nothing(tmp_path: Path) -> None:
    study, _ = make_study(tmp_path)
    src = build_sources(tmp_path)
    collect_files(study, [src["maildir"]], workers=1)
    before = read_messages(study.messages_dir)
    again = collect_files(study, [src["maildir"]], workers=1)
    assert again.messages_written == 0 and again.totals()["already_present"] == 5
    after = read_messages(study.messages_dir)
    assert len(after) == len(before) == 5


def test_parallel_collection_equals_sequential(tmp_path: Path) -> None:
    src = build_sources(tmp_path)
    s1, _ = make_study(tmp_path / "a")
    s2, _ = make_study(tmp_path / "b")
    key = s1.key_path.read_bytes()
    s2.key_path.write_bytes(key)
    collect_files(s1, [src["maildir"], src["mbox"]], workers=1)
    collect_files(s2, [src["maildir"], src["mbox"]], workers=2)
    cols = [c for c in schema.names("messages")]
    a = read_messages(s1.messages_dir)[cols].sort_values(["source", "item_id"])
    b = read_messages(s2.messages_dir)[cols].sort_values(["source", "item_id"])
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))


def test_personal_folders_are_skipped_and_counted(tmp_path: Path) -> None:
    study, _ = make_study(tmp_path)
    root = write_maildir(tmp_path / OWNER, {
        "": [(message(), "S")],
        ".Personnel": [(message(message_id="<p1@x>"), "S"), (message(message_id="<p2@x>"), "")],
        ".Priv&AOk-.Famille": [(message(message_id="<p3@x>"), "S")],
    })
    s = collect_files(study, [root], workers=1)
    t = s.totals()
    assert t["messages_written"] == 1
    assert t["skipped"] == {"personal_folder_messages": 3, "personal_folders": 2}


def test_opted_out_owner_is_never_read_and_becomes_a_marker(tmp_path: Path) -> None:
    study, _ = make_study(tmp_path)
    marie = f"marie.curie@{DOMAIN}"
    add_optouts(study, [marie.upper()])
    box_marie = write_maildir(tmp_path / marie, {"": [(message(), "S")]})
    box_jean = write_maildir(tmp_path / OWNER, {"": [(message(), "S")]})
    s = collect_files(study, [box_marie, box_jean], workers=1)
    assert s.mailboxes[0].skipped["owner_opted_out"] == 1
    assert s.mailboxes[0].messages_written == 0
    df = read_messages(study.messages_dir)
    assert len(df) == 1 and df.iloc[0].sender == "optout"
    # The list holds a keyed hash in its own namespace: neither the address nor the
    # pseudonym that labels her rows elsewhere.
    listed = (study.data / "optouts.txt").read_text()
    ps = study.pseudonymiser()
    assert ps.person(marie) not in listed and marie not in listed
    assert listed.split() == [ps.digest("optout", ps.person(marie))]


def test_owner_is_inferred_from_sent_mail(tmp_path: Path) -> None:
    study, _ = make_study(tmp_path)
    root = write_maildir(tmp_path / "export-7", {
        "": [(message(), "S")],
        SENT: [(message(message_id=f"<s{i}@x>", sender=f"J <{OWNER}>"), "S") for i in range(3)],
    })
    s = collect_files(study, [root], workers=1)
    m = s.mailboxes[0]
    assert m.owner_from == "inferred" and m.mailbox == study.pseudonymiser().person(OWNER)


def test_bad_input_yields_rows_with_defects_or_counted_skips(tmp_path: Path) -> None:
    study, _ = make_study(tmp_path)
    bad = [
        message(message_id="<>"),
        message(message_id=None, subject="=?x-unknown?q?abc?= =?utf-8?q?=FF=FE?="),
        message(date="Tue, 32 Foo 2026 99:99:99 +9999", message_id="<d1@x>",
                extra="Received: from a by b; Mon, 07 Sep 2026 09:00:00 +0200"),
        message(date="Mon, 07 Sep 0102 10:00:00 +0200", message_id="<d2@x>"),
        message(date=None, message_id="<d3@x>"),
        message(message_id="<t1@x>", attachment=b"A" * 5000)[:-400],  # truncated
        b"From: \xff\xfe <broken@@>\nSubject: \xe9t\xe9\nContent-Type: multipart/mixed; "
        b"boundary=zz\n\n--zz\nContent-Type: text/plain\n\nhello\n--zz",
        b"",
        b"\x00\x01\x02 binary junk with no header at all",
    ]
    root = write_maildir(tmp_path / OWNER, {"": [(r, "S") for r in bad]})
    # a file that cannot be opened: a dangling link
    os.symlink(tmp_path / "nowhere", root / "cur" / "1788999999.M9P9.host:2,S")
    s = collect_files(study, [root], workers=1)
    t = s.totals()
    assert t["messages_seen"] == len(bad) + 1
    assert t["messages_written"] + sum(t["skipped"].values()) == len(bad) + 1
    assert t["skipped"].get("unreadable_file") == 1
    d = t["defects"]
    for kind in ("missing_message_id", "date_unparsable", "date_from_received", "date_absurd",
                 "date_missing", "missing_close_boundary", "undecodable_header"):
        assert d.get(kind, 0) >= 1, kind
    df = read_messages(study.messages_dir)
    # Message-ID <> and a missing one both get a deterministic substitute
    assert df.message_id.notna().all() and df.message_id.str.startswith("m").all()
    fell_back = df[df.defects.apply(lambda x: "date_from_received" in x)]
    assert fell_back.date_utc.iloc[0].isoformat() == "2026-09-07T07:00:00+00:00"


def test_empty_mailbox_is_counted(tmp_path: Path) -> None:
    study, _ = make_study(tmp_path)
    root = write_maildir(tmp_path / OWNER, {"": []})
    s = collect_files(study, [root], workers=1)
    assert s.totals()["skipped"] == {"empty_mailbox": 1}


def test_memory_does_not_grow_with_attachment_size(tmp_path: Path) -> None:
    peaks = []
    for mb in (1, 16):
        p = tmp_path / f"big{mb}.eml"
        p.write_bytes(message(attachment=os.urandom(mb << 20)))
        tracemalloc.start()
        with open(p, "rb") as f:
            parsed = read_message(iter_lines(f))
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        assert parsed.outline.parts[1].size > (mb << 20)
    assert peaks[1] < 2 * peaks[0] + (256 << 10), peaks
    assert peaks[1] < 2 << 20


def test_loose_key_is_refused(tmp_path: Path) -> None:
    study, _ = make_study(tmp_path)
    os.chmod(study.key_path, 0o644)
    with pytest.raises(StudyError, match="chmod 600"):
        open_study(study.root).key()
    src = build_sources(tmp_path)
    r = run_cli("collect", "files", str(src["maildir"]), study=study.root)
    assert r.returncode == 2 and "chmod 600" in r.stderr and "Traceback" not in r.stderr
    os.chmod(study.key_path, 0o600)
    assert stat.S_IMODE(study.key_path.stat().st_mode) == 0o600
    r = run_cli("collect", "files", str(src["maildir"]), study=study.root)
    assert r.returncode == 0, r.stderr


def test_study_is_found_from_the_environment(tmp_path: Path) -> None:
    study, _ = make_study(tmp_path)
    r = run_cli("pseudonym", "Jean.Dupont@region.test ",
                env={"MAILSTUDY_STUDY": str(study.root)})
    assert r.returncode == 0
    assert r.stdout.strip() == study.pseudonymiser().person(OWNER)


def test_missing_readpst_says_how_to_install(tmp_path: Path) -> None:
    study, _ = make_study(tmp_path)
    pst = tmp_path / f"{OWNER}.pst"
    pst.write_bytes(b"!BDN" + b"\0" * 600)
    r = run_cli("collect", "files", str(pst), study=study.root,
                env={"PATH": str(tmp_path / "empty-bin")})
    assert r.returncode == 1
    assert "apt-get install pst-utils" in r.stderr and "Traceback" not in r.stderr


def test_broken_pst_is_a_clear_failure(tmp_path: Path) -> None:
    if not Path("/usr/bin/readpst").exists():
        pytest.skip("readpst not installed")
    study, _ = make_study(tmp_path)
    pst = tmp_path / f"{OWNER}.pst"
    pst.write_bytes(b"!BDN" + b"\0" * 600)
    s = collect_files(study, [pst], workers=1)
    assert s.failures and "readpst could not convert" in s.failures[0].error


def test_two_exports_of_one_mailbox_in_parallel_are_not_doubled(tmp_path: Path) -> None:
    study, _ = make_study(tmp_path)
    msgs = [(message(message_id=f"<p{i}@x>"), "S") for i in range(300)]
    a = write_maildir(tmp_path / "2025" / OWNER, {"": msgs})
    b = write_maildir(tmp_path / "2026" / OWNER, {"": msgs + [(message(message_id="<new@x>"),
                                                                "S")]})
    s = collect_files(study, [a, b], workers=2, batch_rows=40)
    assert s.messages_written == 301
    df = read_messages(study.messages_dir)
    assert len(df) == 301 and df.message_id.nunique() == 301


def test_same_mailbox_in_two_formats_or_with_new_flags_is_one_row_each(tmp_path: Path) -> None:
    study, _ = make_study(tmp_path)
    src = build_sources(tmp_path)
    # the same five messages, all in the inbox, as an mbox file and as an .eml folder
    assert collect_files(study, [src["mbox"]], workers=1).messages_written == 5
    s = collect_files(study, [src["eml"]], workers=1)
    assert s.messages_written == 0 and s.totals()["already_present"] == 5
    # an mbox whose messages were marked read since: still the same messages
    raws = [message(message_id=f"<f{i}@x>", extra="Status: O") for i in range(3)]
    mb = write_mbox(tmp_path / "flags.mbox", raws)
    assert collect_files(study, [mb], owner=OWNER, workers=1).messages_written == 3
    write_mbox(mb, [r.replace(b"Status: O", b"Status: RO\nX-Status: A") for r in raws])
    s = collect_files(study, [mb], owner=OWNER, workers=1)
    assert s.messages_written == 0 and s.totals()["already_present"] == 3


def test_nested_and_offlineimap_maildir_layouts(tmp_path: Path) -> None:
    study, _ = make_study(tmp_path)
    nested = write_maildir(tmp_path / "nested" / OWNER, {
        "": [(message(), "S")], "Archives/2026": [(message(message_id="<n1@x>"), "S")],
        ".Sent": [(message(message_id="<n2@x>"), "S")]})
    off = tmp_path / "off" / OWNER
    write_maildir(off / "INBOX", {"": [(message(message_id="<o1@x>"), "S")]})
    write_maildir(off / "Sent", {"": [(message(message_id="<o2@x>"), "S")]})
    assert detect_format(off) == "maildir"
    s = collect_files(study, [nested, off], workers=1)
    assert [m.messages_written for m in s.mailboxes] == [3, 2]
    df = read_messages(study.messages_dir)
    assert sorted(df.folder_role) == ["archive", "inbox", "inbox", "sent", "sent"]
    assert sorted(df.folder_depth) == [0, 0, 0, 0, 1]


def test_forced_format_that_finds_nothing_is_an_error(tmp_path: Path) -> None:
    study, _ = make_study(tmp_path)
    src = build_sources(tmp_path)
    s = collect_files(study, [src["eml"]], fmt="maildir", workers=1)
    # the message names the parameter of the Python function, not a command-line flag
    assert s.failures and "(fmt)" in s.failures[0].error and "--" not in s.failures[0].error
    # a tree of message files is read file by file whatever tree format is named
    s = collect_files(study, [src["eml"]], fmt="mbox", workers=1)
    assert not s.failures and s.messages_written == len(corpus())


def test_flags_kept_in_mbox_headers(tmp_path: Path) -> None:
    study, _ = make_study(tmp_path)
    mb = write_mbox(tmp_path / "t.mbox", [
        message(message_id="<a@x>", extra="Status: RO\nX-Status: AF"),
        message(message_id="<b@x>", extra="Status: O"),
        message(message_id="<c@x>", extra="X-Mozilla-Status: 0003"),
        message(message_id="<d@x>")])
    collect_files(study, [mb], owner=OWNER, workers=1)
    df = read_messages(study.messages_dir).set_index("message_id")
    ps = study.pseudonymiser()
    flags = {k: tuple(df.loc[ps.digest("message", f"{k}@x"), ["seen", "answered", "flagged"]])
             for k in "abcd"}
    assert flags["a"] == (True, True, True) and flags["b"] == (False, False, False)
    assert flags["c"] == (True, True, False)
    assert all(pd.isna(v) for v in flags["d"])
