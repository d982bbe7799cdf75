"""Directory import: formats, header recognition, pseudonyms, escrow, rejects, ladder."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from typer.testing import CliRunner

from anonymise.escrow import generate_identity, load_identity, open_escrow
from mailstudy.cli import app
from mailstudy.intake.directory import (
    DirectoryError,
    Ladder,
    import_directory,
    load_directory,
    match_columns,
)
from mailstudy.study import Study, init_study, open_study
from mailstudy.text import UNKNOWN

KEY = bytes(range(32))

FR_CSV = (
    "Nom;Prénom;Courriel;Intitulé de poste;Catégorie;Direction;Service;Rôles;Responsable;"
    "Quotité\n"
    "Lefèvre;Anaïs;anais.lefevre@region.fr;Directrice générale des services;A;DGS;;pilote;;"
    "100%\n"
    "Durand;Élodie;Elodie.Durand@Region.fr;Directrice générale adjointe;A;DGA Ressources;;"
    "arbitre;anais.lefevre@region.fr;100 %\n"
    "Martin;Hervé;herve.martin@region.fr;Chef de service des marchés;A;Finances;Marchés;"
    "juridique, expert;elodie.durand@region.fr;0,8\n"
    "Bernard;Léa;lea.bernard@region.fr;Gestionnaire comptable;B;Finances;Marchés;;"
    "herve.martin@region.fr;80\n"
    "Petit;Noé;noe.petit@region.fr;Agent d'accueil;C;Finances;Accueil;;;1\n"
    "Roux;Zoé;zoe.roux@region.fr;Attachée principale;A;Culture;;créatif;;\n"
    "Faure;Paul;pas-une-adresse;Agent;C;Culture;;;;\n"
    "Blanc;Luc;lea.bernard@region.fr;Agent;C;Culture;;;;\n"
    "Noir;Max;max.noir@gmail.com;Agent;C;Culture;;;;\n"
    "Vide;Ève;;Agent;C;Culture;;;;\n"
)


@pytest.fixture()
def study(tmp_path: Path) -> tuple[Study, Path]:
    ident = tmp_path / "keyholder.txt"
    recipient = generate_identity(ident)
    s = init_study(tmp_path / "study", ["region.fr"], keyholder=recipient, key=KEY)
    return s, ident


def write_csv(path: Path, text: str, encoding: str) -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def test_french_semicolon_cp1252_import(study: tuple[Study, Path], tmp_path: Path) -> None:
    s, ident = study
    src = write_csv(tmp_path / "annuaire.csv", FR_CSV, "cp1252")
    df, summary = import_directory(s, src)
    assert summary.rows == 10 and summary.imported == 6
    assert summary.rejected == {
        "invalid address": [8],
        "duplicate address (first on line 5)": [9],
        "address outside the organisation's domains": [10],
        "missing address": [11],
    }
    by_p = df.set_index("person")
    ps = s.pseudonymiser()
    assert by_p.loc[ps.person("anais.lefevre@region.fr"), "level"] == "DGS"
    assert by_p.loc[ps.person("elodie.durand@region.fr"), "level"] == "DGA"
    herve = by_p.loc[ps.person("herve.martin@region.fr")]
    assert herve["level"] == "chef de service" and herve["level_rank"] == 3
    assert list(herve["roles"]) == ["juridique", "expert"]
    assert herve["manager"] == ps.person("elodie.durand@region.fr")
    assert herve["fte"] == pytest.approx(0.8)
    assert by_p.loc[ps.person("lea.bernard@region.fr"), "fte"] == pytest.approx(0.8)
    assert by_p.loc[ps.person("noe.petit@region.fr"), "level"] == "agent"
    assert by_p.loc[ps.person("zoe.roux@region.fr"), "level"] == UNKNOWN
    assert summary.unmatched_titles == 1
    # nothing identifying lands in data/, and names are in the escrow for the key holder
    for f in s.data.rglob("*"):
        if f.is_file():
            blob = f.read_bytes()
            for word in (b"lefevre", b"Lef", b"Ana", b"herve", b"region.fr"):
                assert word not in blob, f.name
    assert not list(s.root.rglob("annuaire*"))
    sealed = open_escrow(s.escrow_dir, load_identity(ident))
    rec = sealed[ps.person("herve.martin@region.fr")]
    assert rec["address"] == "herve.martin@region.fr" and rec["name"] == "Hervé Martin"
    assert len(sealed) == 6
    pd.testing.assert_frame_equal(load_directory(s), df)


def test_english_comma_utf8_and_xlsx(study: tuple[Study, Path], tmp_path: Path) -> None:
    s, _ = study
    rows = [["Name", "E-mail", "Job title", "Department", "FTE"],
            ["Ann Lee", "ann.lee@region.fr", "Chargée de mission Europe", "Europe", "1"],
            ["Bob Ray", "bob.ray@region.fr", "Assistant de direction", "Europe", "0.5"]]
    src = tmp_path / "dir.csv"
    src.write_text("\n".join(",".join(r) for r in rows) + "\n", encoding="utf-8")
    df, summary = import_directory(s, src)
    assert summary.columns == {"direction": "Department", "email": "E-mail", "fte": "FTE",
                               "name": "Name", "title": "Job title"}
    assert sorted(df["level"]) == ["chef de projet / chargé de mission",
                                   "gestionnaire / assistant"]
    wb = openpyxl.Workbook()
    for r in rows:
        wb.active.append(r)
    xlsx = tmp_path / "dir.xlsx"
    wb.save(xlsx)
    df2, _ = import_directory(s, xlsx)
    pd.testing.assert_frame_equal(df.sort_values("person").reset_index(drop=True),
                                  df2.sort_values("person").reset_index(drop=True))


def test_missing_email_column_names_expected_headers(study: tuple[Study, Path],
                                                     tmp_path: Path) -> None:
    s, _ = study
    src = write_csv(tmp_path / "d.csv", "Nom;Adresse pro\nX;x@region.fr\n", "utf-8")
    with pytest.raises(DirectoryError, match="courriel") as e:
        import_directory(s, src)
    assert "x@region.fr" not in str(e.value)
    assert not (s.data / "directory.parquet").exists()
    df, _ = import_directory(s, src, {"email": "adresse PRO"})  # accents/case ignored
    assert len(df) == 1


def test_mapping_from_study_toml_and_custom_ladder(tmp_path: Path) -> None:
    ident = tmp_path / "k.txt"
    s = init_study(tmp_path / "s", ["region.fr"], keyholder=generate_identity(ident), key=KEY)
    toml = s.root / "study.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace(
        "[directory.columns]\n",
        '[directory.columns]\nemail = "Mél pro"\ntitle = "Emploi-type"\n'
        '[directory.ladder]\n"encadrant" = ["\\\\bchef"]\n"exécutant" = ["agent"]\n'),
        encoding="utf-8")
    s = open_study(s.root)
    src = write_csv(tmp_path / "d.csv", "Mél pro;Emploi-type\na@region.fr;Cheffe de pôle\n"
                    "b@region.fr;Agent\nc@region.fr;Juriste\n", "utf-8")
    df, summary = import_directory(s, src)
    assert dict(zip(df["level"], df["level_rank"], strict=True)) == {
        "encadrant": 0, "exécutant": 1, UNKNOWN: -1}
    assert summary.unmatched_titles == 1


def test_no_keyholder_fails_before_writing(tmp_path: Path) -> None:
    s = init_study(tmp_path / "s", ["region.fr"], key=KEY)
    src = write_csv(tmp_path / "d.csv", FR_CSV, "utf-8")
    with pytest.raises(DirectoryError, match="key holder"):
        import_directory(s, src)
    assert not (s.data / "directory.parquet").exists()
    assert not list(s.escrow_dir.glob("seg-*")) if s.escrow_dir.exists() else True


def test_optouts_are_dropped_and_counted(study: tuple[Study, Path], tmp_path: Path) -> None:
    s, _ = study
    (s.data / "optouts.txt").write_text(s.pseudonymiser().person("noe.petit@region.fr") + "\n")
    df, summary = import_directory(s, write_csv(tmp_path / "d.csv", FR_CSV, "utf-8"))
    assert summary.opted_out == 1 and summary.imported == 5
    assert s.pseudonymiser().person("noe.petit@region.fr") not in set(df["person"])


def test_ladder_order_matters() -> None:
    lad = Ladder.from_config(None)
    assert lad.match("Directeur général adjoint")[0] == "DGA"
    assert lad.match("DGS")[0] == "DGS"
    assert lad.match("Directrice de la culture")[0] == "directeur"
    assert lad.match("Cheffe de projet SI")[0] == "chef de projet / chargé de mission"
    assert lad.match("Adjoint administratif")[0] == "agent"
    assert lad.match(None) == (UNKNOWN, -1)


def test_unknown_override_field_is_refused() -> None:
    with pytest.raises(DirectoryError, match="unknown directory field"):
        match_columns(["email"], {"salary": "email"})


def test_cli_import_prints_summary_without_addresses(study: tuple[Study, Path],
                                                     tmp_path: Path) -> None:
    s, _ = study
    src = write_csv(tmp_path / "d.csv", FR_CSV.replace("Courriel", "Mail pro"), "cp1252")
    r = CliRunner().invoke(app, ["directory", "import", str(src), "--study", str(s.root),
                                 "--column", "email=Mail pro"])
    assert r.exit_code == 0, r.output
    assert "imported: 6" in r.output and "line(s) 8" in r.output
    assert "@" not in r.output
    r = CliRunner().invoke(app, ["directory", "import", str(src), "--study", str(s.root)])
    assert r.exit_code == 2 and "courriel" in r.output


def test_single_column_utf8_bom_file(study: tuple[Study, Path], tmp_path: Path) -> None:
    s, _ = study
    src = tmp_path / "d.csv"
    src.write_bytes("\ufeffCOURRIEL\r\na@region.fr\r\n\r\nb@region.fr\r\n".encode())
    df, summary = import_directory(s, src)
    assert summary.imported == 2 and summary.unmatched_titles == 2
    assert set(df["level"]) == {UNKNOWN}
