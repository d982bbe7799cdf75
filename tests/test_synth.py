"""The synthetic council: deterministic, parseable, and carrying the latent behaviours.

Statistics here are computed straight from the files with the stdlib parser, independently
of the collectors, so a broken generator cannot hide behind a broken collector."""

from __future__ import annotations

import hashlib
import statistics
from collections import defaultdict
from email.header import decode_header, make_header
from email.parser import BytesParser
from email.policy import compat32
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import Path

import pandas as pd
import pytest
from imapclient import imap_utf7

from mailstudy.demo.council import BEHAVIOURS, DIRECTORY_HEADERS, Council, generate_council

_parser = BytesParser(policy=compat32)


@pytest.fixture(scope="module")
def council(tmp_path_factory: pytest.TempPathFactory) -> Council:
    # 8 weeks cross the switch to winter time (2026-10-25): both UTC offsets appear.
    return generate_council(tmp_path_factory.mktemp("council"), n_agents=40, weeks=8, seed=3,
                            n_without_mailbox=3)


def _folder(box: Path, path: Path) -> str:
    rel = path.parent.parent.relative_to(box)
    return "" if str(rel) == "." else imap_utf7.decode(str(rel)[1:].encode("ascii"))


def _flags(path: Path) -> str:
    return path.name.split(":2,", 1)[1] if ":2," in path.name else ""


@pytest.fixture(scope="module")
def records(council: Council) -> list[dict]:
    """One record per message file: owner, folder, flags and a few parsed headers."""
    out = []
    for box in sorted(council.mailboxes.iterdir()):
        for path in sorted(box.rglob("*")):
            if not path.is_file() or path.parent.name not in ("cur", "new"):
                continue
            msg = _parser.parsebytes(path.read_bytes())
            when = parsedate_to_datetime(msg["Date"])
            recips = getaddresses(msg.get_all("To", []) + msg.get_all("Cc", []))
            out.append({
                "owner": box.name, "folder": _folder(box, path), "flags": _flags(path),
                "new": path.parent.name == "new", "msg": msg, "date": when,
                "msgid": msg["Message-ID"], "sender": getaddresses([msg["From"]])[0][1],
                "recipients": [a for _, a in recips],
                "mailer": (msg["X-Mailer"] or msg["User-Agent"] or ""),
            })
    return out


def _tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_other_seed_differs(tmp_path: Path) -> None:
    a = generate_council(tmp_path / "a", n_agents=16, weeks=2, seed=7)
    b = generate_council(tmp_path / "b", n_agents=16, weeks=2, seed=7)
    c = generate_council(tmp_path / "c", n_agents=16, weeks=2, seed=8)
    da, db, dc = (_tree_digest(x.root) for x in (a, b, c))
    assert a.n_messages > 100
    assert da == db
    assert da != dc
    assert a.n_messages == sum(1 for k in da if "/cur/" in k or "/new/" in k)


def test_directory_is_a_french_excel_export(council: Council) -> None:
    raw = council.directory_csv.read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")  # accents are cp1252 bytes, as Excel writes them
    df = pd.read_csv(council.directory_csv, sep=";", encoding="cp1252", dtype=str,
                     keep_default_na=False)
    assert list(df.columns) == DIRECTORY_HEADERS
    assert len(df) == len(council.addresses) + 3
    assert set(df["Courriel"]) == set(council.addresses) | set(council.directory_only)
    assert not set(council.directory_only) & set(council.addresses)
    managers = set(df["Responsable"]) - {""}
    assert managers <= set(df["Courriel"])
    assert (df["Responsable"] == "").sum() == 1  # only the DGS has no manager
    titles = df["Intitulé de poste"]
    assert titles.str.match("Direct(eur|rice) général(e)? des services").sum() == 1
    top = titles.str.match("Direct").sum()
    base = titles.str.match("(Agent|Gestionnaire|Assistant)").sum()
    assert base > 2 * top  # a pyramid, not a column
    assert set(df["Catégorie"]) <= {"A", "B", "C"}
    fte = df["Quotité"].str.replace(",", ".").astype(float)
    assert fte.between(0.5, 1.0).all() and (fte == 1.0).mean() > 0.6
    roles = {r for cell in df["Rôles"] for r in cell.split(",") if r}
    assert {"juridique", "informatique", "expert", "pilote"} <= roles
    assert df["Prénom"].str.contains("[éèëçïô]", regex=True).any()


def test_ground_truth_has_four_balanced_behaviours_across_levels(
        council: Council) -> None:
    gt = pd.read_csv(council.ground_truth_csv)
    assert list(gt.columns) == ["address", "behaviour"]
    assert sorted(gt["address"]) == sorted(council.addresses)
    shares = gt["behaviour"].value_counts(normalize=True)
    assert set(shares.index) == set(BEHAVIOURS)
    assert shares.between(0.15, 0.35).all()
    df = pd.read_csv(council.directory_csv, sep=";", encoding="cp1252", dtype=str)
    lower = df[df["Intitulé de poste"].str.match("(Agent|Gestionnaire|Assistant)")]
    merged = gt.merge(lower, left_on="address", right_on="Courriel")
    assert merged["behaviour"].nunique() == 4  # behaviours are not levels


def test_every_file_parses_with_realistic_headers(council: Council,
                                                  records: list[dict]) -> None:
    assert len(records) == council.n_messages
    offsets, mailers, kinds = set(), set(), set()
    for r in records:
        m = r["msg"]
        assert not m.defects, r["msgid"]
        assert r["msgid"].startswith("<") and r["date"].tzinfo is not None
        offsets.add(m["Date"][-5:])
        mailers.add(r["mailer"].split("/")[0].split(" (")[0])
        for part in m.walk():
            assert not part.defects
            if part.get_filename():
                kinds.add(part.get_filename().rsplit(".", 1)[1])
                assert part.get_payload(decode=True)
            elif part.get_content_maintype() == "text":
                part.get_payload(decode=True).decode("utf-8")
    assert offsets == {"+0200", "+0100"}
    assert {"Microsoft Outlook 16.0", "iPhone Mail", "Outlook-Android",
            "Roundcube Webmail"} <= mailers
    assert {"pdf", "docx", "xlsx", "png"} <= kinds
    subjects = [str(make_header(decode_header(r["msg"]["Subject"]))) for r in records]
    assert any("é" in s for s in subjects)
    assert any("=?utf-8?" in r["msg"]["Subject"] for r in records)
    assert any(s.startswith("RE: ") for s in subjects) and any(
        s.startswith("TR: ") for s in subjects)
    bulk = [r["msg"] for r in records if r["msg"]["List-Id"]]
    assert bulk and all(m["Precedence"] == "bulk" for m in bulk)
    assert any(r["msg"]["Auto-Submitted"] == "auto-replied" for r in records)
    types = {r["msg"].get_content_type() for r in records}
    assert {"multipart/mixed", "multipart/alternative", "text/plain"} <= types
    partners = {a.split("@")[1] for r in records for a in [r["sender"]]}
    assert "nantes-metropole.test" in partners


def test_internal_mail_is_duplicated_with_the_same_message_id(council: Council,
                                                              records: list[dict]) -> None:
    boxes_of: dict[str, set[str]] = defaultdict(set)
    by_id = {}
    for r in records:
        boxes_of[r["msgid"]].add(r["owner"])
        by_id.setdefault(r["msgid"], r)
    staff = set(council.addresses)
    sent = [r for r in records if r["folder"] == "Éléments envoyés"]
    assert sent and all(r["sender"] == r["owner"] for r in sent)
    checked = 0
    for r in sent:
        for addr in r["recipients"]:
            if addr in staff:
                assert addr in boxes_of[r["msgid"]]
                checked += 1
    assert checked > 100
    # Threads: a reply names its parent, whose id is the last of its References.
    replies = [r for r in records if r["msg"]["In-Reply-To"]]
    assert replies
    for r in replies:
        refs = r["msg"]["References"].split()
        assert refs[-1] == r["msg"]["In-Reply-To"]
    linked = sum(r["msg"]["In-Reply-To"] in by_id for r in replies)
    assert linked / len(replies) > 0.9


def test_folder_names_are_modified_utf7_french_names(council: Council,
                                                     records: list[dict]) -> None:
    names = set()
    for box in council.mailboxes.iterdir():
        for d in box.iterdir():
            if d.name.startswith("."):
                assert d.name.isascii()
                assert {"cur", "new", "tmp"} <= {x.name for x in d.iterdir()}
                names.add(imap_utf7.decode(d.name[1:].encode("ascii")))
    assert {"Éléments envoyés", "Éléments supprimés", "Archives", "Dossiers"} <= names
    assert any(n.startswith("Dossiers.") and not n.isascii() for n in names)
    assert "Personnel" in names
    personal = [r for r in records if r["folder"] == "Personnel"]
    assert personal and all(r["sender"].split("@")[0] not in council.domain
                            for r in personal)


def _per_person(council: Council, records: list[dict]) -> pd.DataFrame:
    rows = []
    by_owner: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        by_owner[r["owner"]].append(r)
    for owner, rs in by_owner.items():
        sent = [r for r in rs if r["folder"] == "Éléments envoyés"]
        got_at = {r["msgid"]: r["date"] for r in rs if r["folder"] != "Éléments envoyés"}
        delays = [(r["date"] - got_at[r["msg"]["In-Reply-To"]]).total_seconds() / 3600
                  for r in sent if r["msg"]["In-Reply-To"] in got_at]
        subjects = [str(make_header(decode_header(r["msg"]["Subject"]))) for r in sent]
        got = [r for r in rs if r["folder"] not in ("Éléments envoyés", "Brouillons",
                                                    "Personnel")]
        plain = [r for r in got if not (r["msg"]["List-Id"] or r["msg"]["Auto-Submitted"])]
        late = [r for r in sent
                if r["date"].hour >= 19 or r["date"].hour < 8 or r["date"].weekday() >= 5]
        mobile = [r for r in sent if r["mailer"].startswith(("iPhone", "Outlook-Android"))]
        cc_only = [r for r in plain if owner in {a for _, a in getaddresses(
            r["msg"].get_all("Cc", []))} and owner not in {a for _, a in getaddresses(
                r["msg"].get_all("To", []))}]
        rows.append({
            "address": owner, "n_sent": len(sent),
            "late_share": len(late) / max(1, len(sent)),
            "mobile_share": len(mobile) / max(1, len(sent)),
            "recipients": statistics.mean(len(r["recipients"]) for r in sent) if sent else 0,
            "unread": sum("S" not in r["flags"] for r in got) / max(1, len(got)),
            "filed": sum(r["folder"] not in ("", "Éléments supprimés") for r in got)
            / max(1, len(got)),
            "folders": len({r["folder"] for r in rs}),
            "bulk": 1 - len(plain) / max(1, len(got)),
            "cc_share": len(cc_only) / max(1, len(plain)),
            "forward": sum(x.startswith(("TR: ", "Tr: ", "Fwd: ")) for x in subjects)
            / max(1, len(sent)),
            "attach": sum(r["msg"].get_content_type() == "multipart/mixed" for r in sent)
            / max(1, len(sent)),
            "delay_h": statistics.median(delays) if delays else float("nan"),
        })
    gt = pd.read_csv(council.ground_truth_csv)
    return pd.DataFrame(rows).merge(gt, on="address")


def test_behaviours_show_in_each_owners_mailbox(council: Council,
                                                records: list[dict]) -> None:
    df = _per_person(council, records)
    means = df.groupby("behaviour").mean(numeric_only=True)

    def stands_out(col: str, who: str, factor: float, high: bool = True) -> None:
        mine, others = means.loc[who, col], means.drop(index=who)[col]
        if high:
            assert mine > factor * others.max(), (col, means[col].to_dict())
        else:
            assert mine * factor < others.min(), (col, means[col].to_dict())

    stands_out("late_share", "vigie_hors_horaires", 3)
    stands_out("mobile_share", "vigie_hors_horaires", 3)
    stands_out("n_sent", "vigie_hors_horaires", 1.3)
    stands_out("filed", "classeur_methodique", 3)
    stands_out("folders", "classeur_methodique", 1.5)
    stands_out("recipients", "diffuseur_en_copie", 1.8)
    stands_out("unread", "lecteur_discret", 2.5)
    stands_out("bulk", "lecteur_discret", 1.5)
    stands_out("cc_share", "lecteur_discret", 1.5)
    stands_out("n_sent", "lecteur_discret", 2, high=False)
    stands_out("forward", "diffuseur_en_copie", 2)
    stands_out("attach", "diffuseur_en_copie", 1.5)
    stands_out("delay_h", "vigie_hors_horaires", 3, high=False)
    stands_out("delay_h", "lecteur_discret", 3)
    # Separation holds person by person, not only on average.
    vigie = df[df["behaviour"] == "vigie_hors_horaires"]
    assert (vigie["late_share"] > df[df["behaviour"] != "vigie_hors_horaires"]["late_share"]
            .quantile(0.9)).mean() > 0.8


def test_generator_prints_nothing_and_reports_counts(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture) -> None:
    c = generate_council(tmp_path / "out", n_agents=12, weeks=1, seed=1)
    assert len(c.addresses) == 12 and c.n_messages > 0
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""  # counts come back as values, names never printed
    gt = pd.read_csv(tmp_path / "out" / "ground_truth.csv")
    assert len(gt) == 12


def test_rejects_too_small_a_council(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        generate_council(tmp_path, n_agents=5)
