"""IMAP collection against a real Dovecot: same rows as file collection, incremental re-runs,
UIDVALIDITY changes, master-user access to several mailboxes, refused logins, TLS."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
from studykit import keyed_studies, make_study

from mailstudy import schema
from mailstudy.collect.imap import Account, Auth, ImapError, Server, collect_imap
from mailstudy.collect.run import collect_files
from mailstudy.demo.council import generate_council
from mailstudy.demo.dovecot import DovecotServer
from mailstudy.store import read_messages

DOMAIN = "region.test"
COMPARED = [c for c in schema.names("messages") if c not in schema.MESSAGES_SOURCE_COLUMNS]
SYNTH_SPECIAL_USE = {"Éléments envoyés": r"\Sent", "Éléments supprimés": r"\Trash",
                     "Brouillons": r"\Drafts", "Archives": r"\Archive"}


def canonical(df: pd.DataFrame) -> pd.DataFrame:
    """Rows in a stable order, without the source columns, NaN/None unified."""
    out = df[COMPARED].copy()
    out["mailbox"] = out["mailbox"].astype(str)
    for c in ("to", "cc", "bcc", "attachment_kinds", "defects"):
        out[c] = out[c].map(lambda v: tuple(v) if v is not None else None)
    out = out.astype(object).where(out.notna(), None)
    key = ["mailbox", "folder_id", "message_id", "date_utc", "size_bytes", "seen"]
    return out.sort_values(key, key=lambda s: s.astype(str)).reset_index(drop=True)


def tls(srv: DovecotServer, **kw: object) -> Server:
    return Server(srv.host, srv.imaps_port, ca_file=str(srv.ca_file), **kw)  # type: ignore


# ---------------------------------------------------------------------------------------------
# a hand-written corpus of MIME shapes where a structure walker and BODYSTRUCTURE could differ

def _mime(head: str, body: str, nl: str = "\r\n") -> bytes:
    return (head.strip("\n").replace("\n", nl) + nl + nl + body.replace("\n", nl)).encode()


HEAD = """From: Marie Curie <marie.curie@region.test>
To: Jean Dupont <jean.dupont@region.test>, ext@ailleurs.test
Subject: {subject}
Date: Tue, 08 Sep 2026 09:{minute:02d}:00 +0200
Message-ID: <edge{minute}@region.test>
MIME-Version: 1.0"""


def edge_corpus() -> list[tuple[bytes, str]]:
    """(raw message, Maildir flags): LF and CRLF files, RFC 2231 names, nested parts..."""
    out: list[tuple[bytes, str]] = []

    def h(i: int, subject: str = "Point budget", extra: str = "") -> str:
        return HEAD.format(subject=subject, minute=i) + ("\n" + extra if extra else "")

    out.append((_mime(h(1, "Un sujet long\n  replié sur deux lignes",
                      "Content-Type: text/plain; charset=utf-8"),
                      "Bonjour,\nune ligne.\n", nl="\n"), "S"))
    out.append((_mime(h(2, "RE: pièce", 'Content-Type: multipart/mixed; boundary="b2"'),
                      "preamble\n--b2\nContent-Type: text/plain\n\ntexte\n--b2\n"
                      "Content-Type: application/pdf\nContent-Disposition: attachment; "
                      "filename*=utf-8''rapport%20final.pdf\nContent-Transfer-Encoding: base64"
                      "\n\nQUJD\n--b2--\nepilogue\n"), "RS"))
    out.append((_mime(h(3, "TR: suite", 'Content-Type: multipart/mixed; boundary="b3"'),
                      "--b3\nContent-Type: text/html\n\n<p>x</p>\n--b3\n"
                      'Content-Type: application/octet-stream\nContent-Disposition: attachment;'
                      ' filename*0="tableau-"; filename*1="budget.xlsx"\n\nAAAA\n--b3--\n',
                      nl="\n"), "F"))
    out.append((_mime(h(4, "message joint", 'Content-Type: multipart/mixed; boundary="b4"'),
                      "--b4\nContent-Type: text/plain\n\nvoir ci-joint\n--b4\n"
                      "Content-Type: message/rfc822\n\nFrom: a@b.test\nSubject: inner\n\n"
                      "inner body\n--b4--\n"), ""))
    out.append((_mime(h(5, "alternative", 'Content-Type: multipart/related; boundary="b5"'),
                      '--b5\nContent-Type: multipart/alternative; boundary="b5a"\n\n'
                      "--b5a\nContent-Type: text/plain; charset=utf-8\n\nplain part\n"
                      "--b5a\nContent-Type: text/html\n\n<b>html part</b>\n--b5a--\n"
                      "--b5\nContent-Type: image/png; name=logo.png\nContent-Disposition: "
                      "inline; filename=logo.png\n\niVBO\n--b5\n\npart without a type\n--b5--"
                      "\n"), "S"))
    out.append((_mime(h(6, "html seul", 'Content-Type: multipart/mixed; boundary="b6"'),
                      "--b6\nContent-Type: text/html\n\n<p>a</p>\n\n--b6\nContent-Type: "
                      'application/vnd.ms-excel; name="t.xls"\nContent-Disposition: attachement'
                      "\n\nxx\n--b6--", nl="\n"), "S"))
    out.append((_mime(h(7, "sans fin de ligne", "Content-Type: text/plain"), "pas de fin"), "S"))
    nodate = HEAD.format(subject="sans date", minute=8).replace(
        "Date: Tue, 08 Sep 2026 09:08:00 +0200\n", "")
    out.append((_mime(nodate, "x\n"), ""))
    out.append((_mime(h(9, "=?utf-8?q?R=C3=A9union_de_service?=",
                      "Bcc: chef@region.test\nX-Mailer: Microsoft Outlook 16.0\n"
                      "In-Reply-To: <edge1@region.test>\nList-Id: <liste.region.test>"),
                      "corps\n"), "S"))
    raw8 = ("From: Système <robot@region.test>\nTo: marie.curie@region.test\n"
            "Subject: R\xe9sum\xe9 brut\nDate: Wed, 09 Sep 2026 10:00:00 +0200\n"
            "Message-ID: <edge10@region.test>\n\ncorps 8 bits \xe9\n").encode("latin-1")
    out.append((raw8, "S"))
    return out


def report_and_alternative_corpus() -> list[tuple[bytes, str]]:
    """Where the enclosing multipart decides the figures: a delivery report (its parts are
    never attachments, not even the returned message) and one multipart/alternative with two
    text/plain parts (one text written twice: counted once)."""
    report = _mime(HEAD.format(subject="Non remis", minute=11) + "\n"
                   'Content-Type: multipart/report; report-type=delivery-status; boundary="r"',
                   "--r\nContent-Type: text/plain\n\nVotre message n'a pas pu être remis.\n"
                   "--r\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; "
                   "mx.region.test\n\nFinal-Recipient: rfc822; x@ailleurs.test\nAction: "
                   "failed\nStatus: 5.1.1\n--r\nContent-Type: message/rfc822\n\nFrom: "
                   "marie.curie@region.test\nSubject: envoi\n\ncorps renvoyé\n--r--\n")
    twice = _mime(HEAD.format(subject="deux textes", minute=12) + "\n"
                  'Content-Type: multipart/mixed; boundary="m"',
                  '--m\nContent-Type: multipart/alternative; boundary="a"\n\n'
                  "--a\nContent-Type: text/plain\n\nle texte, une première fois\n"
                  "--a\nContent-Type: text/plain; format=flowed\n\nle texte, une seconde "
                  "fois, plus longue\n--a\nContent-Type: text/html\n\n<p>le texte</p>\n"
                  "--a--\n--m\nContent-Type: text/plain\n\npost-scriptum\n--m--\n")
    return [(report, "S"), (twice, "S")]


def write_maildir(root: Path, folders: dict[str, list[tuple[bytes, str]]]) -> Path:
    """Maildir++ with names and mtimes as a delivery agent leaves them."""
    stamp = 1788000000
    for name, msgs in folders.items():
        d = root / name if name else root
        for sub in ("cur", "new", "tmp"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        for i, (raw, flags) in enumerate(msgs):
            stamp += 1
            p = d / "cur" / f"{stamp}.M{i}P1.host:2,{flags}"
            p.write_bytes(raw)
            os.utime(p, (stamp, stamp))
    return root


# ---------------------------------------------------------------------------------------------


def test_same_mailboxes_read_both_ways_give_equal_rows(tmp_path: Path, make_dovecot) -> None:
    files_study, imap_study = keyed_studies(tmp_path)
    council = generate_council(tmp_path / "council", n_agents=14, weeks=2, seed=5,
                               domain=DOMAIN)
    boxes = sorted(council.mailboxes.iterdir())[:3]
    edge = write_maildir(tmp_path / "marie.curie@region.test",
                         {"": edge_corpus()[:6],
                          ".Sent": edge_corpus()[6:] + report_and_alternative_corpus()})
    sources = [*boxes, edge]
    r = collect_files(files_study, sources, workers=1)
    assert not r.failures

    srv = make_dovecot(special_use=SYNTH_SPECIAL_USE)
    accounts = []
    for i, src in enumerate(sources):
        srv.add_user(f"u{i}", f"pw{i}")
        srv.load_maildir(f"u{i}", src)
        accounts.append(Account(src.name, srv.login_as(f"u{i}")))  # master user for all
    srv.start()
    s = collect_imap(imap_study, tls(srv), accounts, Auth(password=srv.master[1]), workers=1)
    assert [m.error for m in s.mailboxes] == [None] * len(sources)

    a = read_messages(files_study.messages_dir)
    b = read_messages(imap_study.messages_dir)
    assert (b["source"] == "imap").all() and b["imap_uid"].notna().all()
    assert len(a) == len(b) > 80
    pd.testing.assert_frame_equal(canonical(a), canonical(b))
    # the corpus really exercises the interesting paths
    marie = b[b["n_attachments"] > 0]
    assert {"pdf", "spreadsheet", "message"} <= {k for ks in marie["attachment_kinds"]
                                                 for k in ks}
    assert b["defects"].map(lambda d: "date_from_source" in d).sum() >= 1
    assert {"sent", "inbox", "trash"} <= set(b["folder_role"])
    at = b["date_utc"].astype(str)  # 09:11 and 09:12 +0200, the two messages above
    report, twice = (b[at.str.contains(f"2026-09-08 07:{m}:00")].iloc[0] for m in (11, 12))
    assert report["n_attachments"] == 0 and report["text_bytes"] > 0
    # one text of the alternative (the first plain) and the post-scriptum, each without the
    # line break before the next delimiter (RFC 2046: it belongs to the delimiter)
    assert twice["n_attachments"] == 0
    assert twice["text_bytes"] == len("le texte, une première fois".encode()) + len(
        b"post-scriptum")


def test_one_large_mailbox_shared_by_workers_gives_the_rows_of_one_worker(
        tmp_path: Path, make_dovecot) -> None:
    """With several workers a large mailbox is cut into about two units per worker, and its
    small folders are fetched by a unit of their own beside them: same rows, same counts."""
    one, many = keyed_studies(tmp_path)
    council = generate_council(tmp_path / "council", n_agents=10, weeks=3, seed=2,
                               domain=DOMAIN)
    box = max(sorted(council.mailboxes.iterdir()),
              key=lambda b: sum(1 for _ in b.rglob("cur/*")))
    srv = make_dovecot({"big": "pw"}, special_use=SYNTH_SPECIAL_USE)
    n = srv.load_maildir("big", box)
    srv.start()
    acc = [Account(box.name, "big")]
    a = collect_imap(one, tls(srv), acc, Auth(password="pw"), workers=1, batch_size=10)
    b = collect_imap(many, tls(srv), acc, Auth(password="pw"), workers=2, batch_size=10)
    ma, mb = a.mailboxes[0], b.mailboxes[0]
    assert ma.error is None and mb.error is None
    assert (mb.messages_seen, mb.messages_written, mb.folders) == (ma.messages_seen,
                                                                    ma.messages_written,
                                                                    ma.folders)
    assert mb.messages_written >= n - 20 and mb.messages_written > 60  # personal left out
    sizes = [len(list(d.iterdir())) for d in box.rglob("cur")]
    assert max(sizes) > 40 and any(0 < k <= 10 for k in sizes)  # chunks and small folders
    # what the planner hands out, seen directly: a unit for the small folders, and the large
    # ones cut into about two units per worker
    from mailstudy.collect.imap.units import ChunkJob, GapsJob, PlanJob, WorkerConfig
    from mailstudy.collect.imap.worker import Worker

    fresh, _ = make_study(tmp_path / "plan-only")
    w = Worker(WorkerConfig(fresh.root, tls(srv), Auth(password="pw"), batch_size=10,
                             workers=2), None)
    try:
        plan = w.plan(PlanJob(0, acc[0]))
    finally:
        w.close_all()
    assert isinstance(plan.chunks[0], GapsJob) and plan.inline is None
    chunks = [c for c in plan.chunks if isinstance(c, ChunkJob)]
    assert 4 <= len(chunks) <= 5 and max(c.n for c in chunks) - min(c.n for c in chunks) <= 10
    assert sum(c.n for c in plan.chunks) == ma.messages_written
    pd.testing.assert_frame_equal(canonical(read_messages(one.messages_dir)),
                                  canonical(read_messages(many.messages_dir)))
    # new mail in a large folder and in a small one: both kinds of unit again, and the small
    # folder's older messages are counted as present, not fetched
    small = next(d.parent.name[1:].replace(".", "/") for d in sorted(box.rglob("cur"))
                 if d.parent.name.isascii() and 0 < len(list(d.iterdir())) <= 8
                 and d.parent.name != ".Personnel")
    srv.add_messages("big", "INBOX", [edge_corpus()[0][0]])
    srv.add_messages("big", small, [edge_corpus()[1][0]])
    again = collect_imap(many, tls(srv), acc, Auth(password="pw"), workers=2, batch_size=10)
    m = again.mailboxes[0]
    assert m.error is None and not m.skipped
    assert (m.messages_written, m.already_present) == (2, mb.messages_written)


def test_incremental_rerun_fetches_only_new_mail(tmp_path: Path, make_dovecot) -> None:
    study, _ = make_study(tmp_path)
    srv = make_dovecot({"jean": "jean-pw"})
    corpus = edge_corpus()
    srv.add_messages("jean", "INBOX", [m for m, _ in corpus[:5]])
    srv.start()
    acc = [Account("jean.dupont@region.test", "jean")]
    s1 = collect_imap(study, tls(srv), acc, Auth(password="jean-pw"), workers=1, batch_size=2)
    assert s1.mailboxes[0].messages_written == 5
    first = read_messages(study.messages_dir)

    s2 = collect_imap(study, tls(srv), acc, Auth(password="jean-pw"), workers=1)
    assert (s2.mailboxes[0].messages_written, s2.mailboxes[0].already_present) == (0, 5)

    srv.add_messages("jean", "INBOX", [m for m, _ in corpus[5:8]])
    srv.add_messages("jean", "Archive", [m for m, _ in corpus[8:]])
    s3 = collect_imap(study, tls(srv), acc, Auth(password="jean-pw"), workers=1)
    m = s3.mailboxes[0]
    assert (m.messages_written, m.already_present) == (len(corpus) - 5, 5)
    after = read_messages(study.messages_dir)
    assert len(after) == len(corpus) and after["item_id"].is_unique
    assert set(first["item_id"]) <= set(after["item_id"])
    assert set(after.loc[after["imap_uid"] > 5, "folder_role"]) <= {"inbox", "archive"}
    assert (after.groupby("folder_id")["imap_uid"].max() >= 1).all()


def test_rerun_fills_holes_in_the_store_exactly(tmp_path: Path, make_dovecot) -> None:
    """Planning uses STATUS and fetches the UID ranges the store lacks (no SEARCH): a store
    with holes (as several workers killed mid-run may leave) is completed, nothing doubled."""
    study, _ = make_study(tmp_path)
    srv = make_dovecot({"jean": "jean-pw"})
    corpus = [m for m, _ in edge_corpus()]
    srv.add_messages("jean", "INBOX", corpus[:6])
    srv.add_messages("jean", "Sent", corpus[6:])
    srv.start()
    acc = [Account("jean.dupont@region.test", "jean")]
    collect_imap(study, tls(srv), acc, Auth(password="jean-pw"), workers=1, batch_size=2)
    full = read_messages(study.messages_dir)
    files = sorted(study.messages_dir.rglob("*.parquet"))
    assert len(files) >= 3
    lost = sum(len(pd.read_parquet(f)) for f in files[1::2])
    for f in files[1::2]:  # every other committed batch disappears
        f.unlink()
    s = collect_imap(study, tls(srv), acc, Auth(password="jean-pw"), workers=1)
    m = s.mailboxes[0]
    assert (m.messages_written, m.already_present) == (lost, len(corpus) - lost)
    after = read_messages(study.messages_dir)
    assert after["item_id"].is_unique and set(after["item_id"]) == set(full["item_id"])
    pd.testing.assert_frame_equal(canonical(full), canonical(after))


def test_changed_uidvalidity_recollects_and_replaces_the_folder(tmp_path: Path,
                                                              make_dovecot) -> None:
    study, _ = make_study(tmp_path)
    srv = make_dovecot({"jean": "jean-pw"})
    corpus = [m for m, _ in edge_corpus()]
    srv.add_messages("jean", "INBOX", corpus[:4])
    srv.add_messages("jean", "Sent", corpus[4:])
    srv.start()
    acc = [Account("jean.dupont@region.test", "jean")]
    collect_imap(study, tls(srv), acc, Auth(password="jean-pw"), workers=1)
    before = read_messages(study.messages_dir)
    srv.change_uidvalidity("jean", "Sent")
    s = collect_imap(study, tls(srv), acc, Auth(password="jean-pw"), workers=1)
    m = s.mailboxes[0]
    assert m.skipped["rows_replaced_uidvalidity"] == len(corpus) - 4
    assert (m.messages_written, m.already_present) == (len(corpus) - 4, 4)
    after = read_messages(study.messages_dir)
    assert len(after) == len(before) and after["item_id"].is_unique
    sent = after["folder_role"] == "sent"
    old_v = before.loc[before["folder_role"] == "sent", "imap_uidvalidity"].iloc[0]
    assert (after.loc[sent, "imap_uidvalidity"] > old_v).all()
    # the message rows themselves are unchanged
    pd.testing.assert_frame_equal(canonical(before), canonical(after))


@pytest.mark.parametrize("workers", [1, 2])
def test_uidvalidity_changing_mid_run_is_replanned_once_without_duplicates(
        tmp_path: Path, make_dovecot, workers: int) -> None:
    """A folder's UIDVALIDITY changes while several units of its mailbox are in flight: the
    mailbox is planned again only once they are all done, so nothing is fetched twice."""
    ref, study = keyed_studies(tmp_path)
    corpus = [m for m, _ in edge_corpus()]
    srv = make_dovecot({"jean": "jean-pw"})
    srv.add_messages("jean", "INBOX", (corpus * 30)[:240])
    srv.add_messages("jean", "Sent", (corpus * 30)[:240])
    srv.add_messages("jean", "Small", corpus[:3])
    srv.start()
    acc = [Account("jean.dupont@region.test", "jean")]
    changed: list[int] = []

    def on_progress(done: int, planned: int, boxes: int, total: int) -> None:
        if done and not changed:
            changed.append(done)
            srv.change_uidvalidity("jean", "Sent")  # restarts the server: units reconnect

    s = collect_imap(study, tls(srv), acc, Auth(password="jean-pw"), workers=workers,
                     batch_size=20, chunk_size=60, backoff=0.05, on_progress=on_progress)
    m = s.mailboxes[0]
    assert changed and m.error is None
    df = read_messages(study.messages_dir)
    assert df["item_id"].is_unique and len(df) == 483
    assert m.messages_seen == 483
    assert m.messages_written - m.skipped["rows_replaced_uidvalidity"] == 483
    collect_imap(ref, tls(srv), acc, Auth(password="jean-pw"), workers=1)
    pd.testing.assert_frame_equal(canonical(df), canonical(read_messages(ref.messages_dir)))
    again = collect_imap(study, tls(srv), acc, Auth(password="jean-pw"), workers=workers)
    assert (again.mailboxes[0].messages_written, again.mailboxes[0].already_present) == (0, 483)


def test_master_user_several_mailboxes_and_refused_logins(tmp_path: Path,
                                                          make_dovecot) -> None:
    study, _ = make_study(tmp_path)
    srv = make_dovecot({"alice": "a-pw", "bob": "b-pw", "carol": "c-pw", "dan": "d-pw"})
    corpus = [m for m, _ in edge_corpus()]
    for u in ("alice", "bob", "carol", "dan"):
        srv.add_messages(u, "INBOX", corpus[:3])
    srv.set_locked("carol")
    srv.start()
    accounts = [
        Account("alice.martin@region.test", srv.login_as("alice")),
        Account("bob.durand@region.test", "bob"),  # own login, but the master password: wrong
        Account("carol.petit@region.test", srv.login_as("carol")),  # locked
        Account("dan.roux@region.test", srv.login_as("dan")),
    ]
    s = collect_imap(study, tls(srv), accounts, Auth(password=srv.master[1]), workers=2)
    errors = [m.error for m in s.mailboxes]
    assert errors[0] is None and errors[3] is None
    assert errors[1] == "authentication failed (wrong login or password)"
    assert errors[2] == "account locked or disabled"
    assert [m.messages_written for m in s.mailboxes] == [3, 0, 0, 3]
    assert len(read_messages(study.messages_dir)) == 6
    saved = s.path.read_text()
    assert json.loads(saved)["totals"]["mailboxes_failed"] == 2
    rates = [m["messages_per_second"] for m in json.loads(saved)["mailboxes"]]
    assert rates[0] > 0 and rates[3] > 0 and rates[1] in (0, None)  # per mailbox pseudonym
    for secret in ("alice", "bob", "carol", "dan", "region.test", srv.master[1], "INBOX"):
        assert secret not in saved


def test_tls_is_verified_starttls_works_and_plaintext_is_guarded(tmp_path: Path,
                                                                 dovecot: DovecotServer) -> None:
    study, _ = make_study(tmp_path)
    dovecot.add_messages("bob", "Tls", [m for m, _ in edge_corpus()[:2]])
    acc = [Account("bob.durand@region.test", "bob")]
    auth = Auth(password="bob-pw")
    with pytest.raises(ImapError, match="not trusted"):
        collect_imap(study, Server(dovecot.host, dovecot.imaps_port), acc, auth, workers=1)
    s = collect_imap(study, Server(dovecot.host, dovecot.imap_port, starttls=True,
                                   ca_file=str(dovecot.ca_file)), acc, auth, workers=1,
                     include=["tls"])
    assert s.mailboxes[0].messages_written == 2
    assert s.mailboxes[0].skipped["excluded_folders"] >= 1
    warnings: list[str] = []
    s = collect_imap(study, Server(dovecot.host, dovecot.imap_port, plaintext=True), acc, auth,
                     workers=1, include=["Tls"], warn=warnings.append)
    assert s.mailboxes[0].already_present == 2 and warnings
    with pytest.raises(ImapError, match="loopback"):
        Server("imap.example.org", plaintext=True).check()
    assert "UNENCRYPTED" in Server("imap.example.org", plaintext=True,
                                   allow_plaintext=True).check()[0]


def test_folders_noselect_personal_and_exclude(tmp_path: Path, make_dovecot) -> None:
    study, _ = make_study(tmp_path)
    srv = make_dovecot({"eve": "e-pw"})
    one = [edge_corpus()[0][0]]
    for folder in ("INBOX", "Archives/2024", "Personnel", "Personnel/Sante", "Junk",
                   "Projets/Vieux"):
        srv.add_messages("eve", folder, one)
    srv.start()
    s = collect_imap(study, tls(srv), [Account("eve.blanc@region.test", "eve")],
                     Auth(password="e-pw"), workers=1, exclude=["projets/vieux"])
    m = s.mailboxes[0]
    assert m.error is None
    assert m.skipped["personal_folders"] == 2
    assert m.skipped["noselect_folders"] == 2  # virtual parents Archives and Projets
    assert m.skipped["excluded_folders"] == 1
    df = read_messages(study.messages_dir)
    assert sorted(df["folder_role"]) == ["archive", "inbox", "junk"]
    assert set(df["folder_depth"]) == {0, 1}


def test_opted_out_mailbox_is_never_opened(tmp_path: Path, dovecot: DovecotServer) -> None:
    from mailstudy.optout import add_optouts

    study, _ = make_study(tmp_path)
    add_optouts(study, ["alice.martin@region.test"])
    # a wrong password would fail the run if the mailbox were opened
    s = collect_imap(study, tls(dovecot), [Account("alice.martin@region.test", "alice")],
                     Auth(password="wrong"), workers=1)
    assert s.mailboxes[0].error is None and s.mailboxes[0].skipped["owner_opted_out"] == 1
    assert read_messages(study.messages_dir).empty
    shutil.rmtree(study.root)


def test_cli_reports_failures_by_pseudonym_only(tmp_path: Path, dovecot: DovecotServer) -> None:
    from typer.testing import CliRunner

    from mailstudy.cli import app

    study, _ = make_study(tmp_path)
    dovecot.add_messages("bob", "Cli", [m for m, _ in edge_corpus()[:2]])
    base = ["collect", "imap", "--host", dovecot.host, "--port", str(dovecot.imaps_port),
            "--ca-file", str(dovecot.ca_file), "--workers", "1", "--include", "Cli",
            "--study", str(study.root)]
    csv = tmp_path / "accounts.csv"
    csv.write_text("# mailbox, login\nbob.durand@region.test,bob\n"
                   "alice.martin@region.test,alice\n")
    runner = CliRunner()
    r = runner.invoke(app, [*base, "--accounts", str(csv), "--password-env", "PW_T"],
                      env={"PW_T": "bob-pw"})
    assert r.exit_code == 1, r.output
    assert "authentication failed" in r.output and "messages written: 2" in r.output
    assert "msg/s" in r.output
    for secret in ("alice", "bob", "bob-pw", "Cli"):
        assert secret not in r.output
    r = runner.invoke(app, [*base, "--user", "bob", "--mailbox", "bob.durand@region.test",
                            "--password-env", "UNSET_PW_VAR"])
    assert r.exit_code == 2 and "UNSET_PW_VAR is not set" in r.output
    r = runner.invoke(app, [*base, "--user", "bob"], env={"PW_T": "x"})
    assert r.exit_code == 2 and "--mailbox" in r.output
