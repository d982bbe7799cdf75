"""Privacy as a tested property: planted identities never reach any byte the tool writes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from studykit import DOMAIN, make_study, message, run_cli, write_maildir, write_mbox

from anonymise.pseudonym import Pseudonymiser
from mailstudy.collect.addresses import Identities
from mailstudy.collect.mime import read_message
from mailstudy.collect.rows import Context, RowBuilder

CANARY_ADDR = f"zorglub.qwxz@{DOMAIN}"
CANARY_NAME = "Zorglub Qwxzian"
CANARY_SUBJECT = "Projet confidentiel Vrmblx"
CANARY_EXT = "yvonne.kqjt@gmail.example"
CANARIES = ["zorglub", "qwxz", "vrmblx", "kqjt", "yvonne"]


def scan(root: Path, extra: list[str]) -> list[str]:
    """Every canary found in any file under ``root`` (sealed escrow excepted) or in ``extra``."""
    hits = []
    for p in root.rglob("*"):
        if p.is_dir() or p.suffix == ".age":
            continue
        data = p.read_bytes().lower()
        for c in CANARIES:
            if c.encode() in data:
                hits.append(f"{p.relative_to(root)}: {c}")
        for c in CANARIES:  # names of files and folders too
            if c in str(p.relative_to(root)).lower():
                hits.append(f"path {p.relative_to(root)}: {c}")
    for text in extra:
        hits.extend(f"output: {c}" for c in CANARIES if c in text.lower())
    return hits


def test_canaries_appear_nowhere_after_collection(tmp_path: Path) -> None:
    study, ident = make_study(tmp_path)
    canary_mail = [
        message(sender=f"{CANARY_NAME} <{CANARY_ADDR}>", subject=CANARY_SUBJECT,
                to=f"Yvonne <{CANARY_EXT}>, Jean <jean.dupont@{DOMAIN}>",
                message_id="<zorglub-1@region.test>", in_reply_to="<qwxz@region.test>",
                extra="References: <vrmblx@region.test>",
                attachment=b"secret", attachment_name="Zorglub_contrat.pdf"),
        message(to=f"=?utf-8?q?Zorglub_Qwxzian?= <{CANARY_ADDR.upper()}>",
                subject=f"RE: {CANARY_SUBJECT}", message_id="<m7@region.test>",
                date="garbage Zorglub"),
    ]
    # the canary's own mailbox (its name is in the path), a folder named after them
    box = write_maildir(tmp_path / "exports" / CANARY_ADDR, {
        "": [(canary_mail[0], "S")],
        ".Dossier Zorglub": [(canary_mail[1], "")],
    })
    other = write_mbox(tmp_path / "exports" / f"jean.dupont@{DOMAIN}.mbox", canary_mail)
    r = run_cli("collect", "files", str(box), str(other), study=study.root)
    assert r.returncode == 0, r.stderr
    r2 = run_cli("collect", "files", str(tmp_path / "exports" / "missing-zorglub"),
                 study=study.root)
    assert r2.returncode == 1  # a failing source is named by number, not by path
    hits = scan(study.root, [r.stdout, r.stderr, r2.stdout, r2.stderr])
    assert hits == []
    # ...yet the identities were sealed, and the key holder can open them
    from anonymise.escrow import load_identity, open_escrow

    opened = open_escrow(study.escrow_dir, load_identity(ident))
    assert {v.get("name") for v in opened.values()} >= {CANARY_NAME}


_header_names = st.sampled_from([
    "From", "To", "Cc", "Bcc", "Subject", "Date", "Message-ID", "In-Reply-To", "References",
    "Content-Type", "Content-Disposition", "X-Mailer", "User-Agent", "List-Id", "Precedence",
    "Auto-Submitted", "Importance", "X-Priority", "Received", "Status", "MIME-Version"])
_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=60)
_values = st.one_of(
    _text,
    st.just(f"{CANARY_NAME} <{CANARY_ADDR}>"),
    st.just(f"=?utf-8?b?WnlvcmdsdWI=?= <{CANARY_ADDR}>, \"{CANARY_NAME}\" <{CANARY_EXT}>"),
    st.just(CANARY_SUBJECT),
    st.just("multipart/mixed; boundary=\"b\""),
    st.just("<>"), st.just("=?x?q?zz?="), st.just("Mon, 99 Jan 1 00:00:00 +9999"),
    _text.map(lambda t: f"=?utf-8?q?{t.encode('utf-8').hex()}?="),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(headers=st.lists(st.tuples(_header_names, _values), max_size=14),
       body=st.binary(max_size=300), crlf=st.booleans())
def test_mutated_headers_never_crash_and_never_leak(headers: list[tuple[str, str]],
                                                     body: bytes, crlf: bool) -> None:
    nl = b"\r\n" if crlf else b"\n"
    raw = nl.join(f"{k}: {v}".encode("utf-8", "surrogatepass") for k, v in headers)
    raw += nl + nl + body + nl + b"--b" + nl + b"Content-Type: text/plain" + nl + nl + body
    lines = iter(raw.splitlines(keepends=True))
    parsed = read_message(lines)
    ps = Pseudonymiser(b"k" * 32)
    builder = RowBuilder(Identities(ps, [DOMAIN], []), dt.UTC)
    row = builder.build(parsed.headers, parsed.outline, Context(
        mailbox=ps.person(CANARY_ADDR), source="eml", item_key="x", folder=("INBOX",),
        folder_role="inbox", size_bytes=parsed.size))
    text = repr(row).lower()
    for c in CANARIES:
        assert c not in text
    assert row["n_to"] == len(row["to"]) and row["subject_len"] >= 0


def test_a_directory_without_header_row_is_refused_without_quoting_it(tmp_path: Path) -> None:
    study, _ = make_study(tmp_path)
    f = tmp_path / "annuaire.csv"
    f.write_text(f"Qwxzian;Zorglub;{CANARY_ADDR};Agent [/b]\nDoe;Jane;jane.doe@{DOMAIN};Agent\n",
                 encoding="utf-8")
    r = run_cli("directory", "import", str(f), study=study.root)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "header row" in r.stderr
    assert scan(study.root, [r.stdout, r.stderr]) == []


def test_canaries_appear_nowhere_on_the_new_paths(tmp_path: Path, monkeypatch) -> None:
    """Mixed folders (eml, mbox, a stray file named after the canary), a BOM, an attached
    message with defects, encoded and IDNA addresses, a sub-address, a message over budget."""
    import base64

    from mailstudy.collect import mimeshared

    study, _ = make_study(tmp_path)
    box = tmp_path / "exports" / f"jean.dupont@{DOMAIN}"
    (box / "Dossier Zorglub").mkdir(parents=True)
    inner = (f"From: {CANARY_NAME} <{CANARY_ADDR}>\nSubject: {CANARY_SUBJECT}\n"
             "Content-Type: multipart/mixed; boundary=zorglub\n\n--zorglub\n\nqwxz\n").encode()
    attached = (f"From: {CANARY_NAME} <{CANARY_ADDR}>\nTo: jean.dupont@{DOMAIN}\nSubject: "
                f"TR: {CANARY_SUBJECT}\nMessage-ID: <zorglub-att@x>\nContent-Type: "
                "multipart/mixed; boundary=b\n\n--b\nContent-Type: message/rfc822; "
                "name=Zorglub.eml\n\n").encode() + inner + b"\n--b--\n"
    enc = base64.b64encode(f"{CANARY_NAME} <{CANARY_ADDR}>".encode()).decode()
    (box / "Dossier Zorglub" / "zorglub-1.eml").write_bytes(b"\xef\xbb\xbf" + attached)
    (box / "Dossier Zorglub" / "zorglub-2.eml").write_bytes(message(
        sender=f"=?utf-8?b?{enc}?=", to=f"Yvonne <yvonne.kqjt@gmäil.example>, "
        f"<zorglub.qwxz+vrmblx@{DOMAIN}.>", subject=CANARY_SUBJECT, message_id="<qwxz-2@x>"))
    (box / "Dossier Zorglub" / "Zorglub notes.txt").write_bytes(b"qwxz vrmblx")
    (box / "Zorglub.mbox").write_bytes(b"From zorglub@x Mon Sep  7 10:00:00 2026\n" + message(
        sender=f"{CANARY_NAME} <{CANARY_ADDR}>", message_id="<vrmblx-3@x>")
        + b"From qwxz@x Mon Sep  7 10:01:00 2026\n" + message(message_id="<kqjt-4@x>"))
    r = run_cli("collect", "files", str(box), study=study.root)
    assert r.returncode == 0, r.stderr
    monkeypatch.setattr(mimeshared, "MAX_SECONDS", -1.0)  # the same mail, all over budget
    study2, _ = make_study(tmp_path / "late")
    from mailstudy.collect.run import collect_files

    s = collect_files(study2, [box], workers=1)
    assert s.totals()["skipped"].get("over_budget_time") == 4
    hits = scan(study.root, [r.stdout, r.stderr]) + scan(study2.root, [])
    assert hits == []
