"""Keys and escrow against an adversary: spoofed display names, loose modes, wrong files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from studykit import DOMAIN, make_study, message, write_maildir

from anonymise.escrow import EscrowError, EscrowWriter, load_identity, open_escrow
from mailstudy.collect.run import collect_files
from mailstudy.intake.directory import import_directory
from mailstudy.study import StudyError

DG = f"claire.morel@{DOMAIN}"
SPOOF = "=HYPERLINK(\"http://x\";\"Faux Nom\")"


def _spoofed_mail(tmp: Path, n: int) -> Path:
    # An outsider (or a colleague) sends mail "from" the DGS's address with a name they chose.
    raws = [(message(sender=f'"{SPOOF} {i}" <{DG}>', to=f"agent.a@{DOMAIN}",
                     message_id=f"<s{i}@x>"), "S") for i in range(n)]
    return write_maildir(tmp / f"agent.a@{DOMAIN}", {"": raws})


def _directory(tmp: Path) -> Path:
    p = tmp / "annuaire.csv"
    p.write_text("Courriel;Prénom;Nom;Intitulé de poste\n"
                 f"{DG};Claire;Morel;Directrice générale des services\n"
                 f"agent.a@{DOMAIN};Alain;Abel;Agent\n", encoding="utf-8")
    return p


@pytest.mark.parametrize("directory_first", [False, True])
def test_the_directory_name_beats_a_spoofed_display_name(tmp_path: Path,
                                                         directory_first: bool) -> None:
    study, ident = make_study(tmp_path)
    box = _spoofed_mail(tmp_path, 3)
    if directory_first:
        import_directory(study, _directory(tmp_path))
        collect_files(study, [box])
    else:
        collect_files(study, [box])
        import_directory(study, _directory(tmp_path))
    ps = study.pseudonymiser()
    names = open_escrow(study.escrow_dir, load_identity(ident), [ps.person(DG)])
    assert names[ps.person(DG)]["name"] == "Claire Morel"
    assert names[ps.person(DG)]["address"] == DG


def test_without_directory_the_mail_name_is_chosen_whatever_the_segment_order(
        tmp_path: Path) -> None:
    study, ident = make_study(tmp_path)
    rec = study.keyholder_recipient()
    picks = set()
    for order in (["Zoé B", "Anne A"], ["Anne A", "Zoé B"]):
        d = tmp_path / f"escrow-{order[0]}"
        for name in order:  # one segment each, written in this order
            w = EscrowWriter(d, rec)
            w.named.discard("p1")
            w.add("p1", "person", {"address": "x@y", "name": name})
            w.flush()
        picks.add(open_escrow(d, load_identity(ident))["p1"]["name"])
    assert len(picks) == 1


def test_identity_files_open_to_others_or_not_identities_are_refused(tmp_path: Path) -> None:
    _, ident = make_study(tmp_path)
    os.chmod(ident, 0o644)
    with pytest.raises(EscrowError, match="chmod 600"):
        load_identity(ident)
    os.chmod(ident, 0o600)
    load_identity(ident)
    binary = tmp_path / "photo.jpg"
    binary.write_bytes(bytes(range(256)) * 4)
    os.chmod(binary, 0o600)
    with pytest.raises(EscrowError, match="not an age identity"):
        load_identity(binary)


def test_a_secrets_folder_open_to_others_is_refused(tmp_path: Path) -> None:
    study, _ = make_study(tmp_path)
    os.chmod(study.secrets, 0o777)
    with pytest.raises(StudyError, match="chmod 700"):
        study.key()
    os.chmod(study.secrets, 0o700)
    assert len(study.key()) == 32
