"""Hostile and careless input to ``mailstudy panel`` and ``panel verify``: each case gets one
clear error line (exit 2), never "internal error" or a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pytest

from tests.studykit import run_cli

RESPONDENTS = "id,gender\n" + "".join(f"p{i},{'FM'[i % 2]}\n" for i in range(12))
CATEGORIES = "feature,value,min,max\ngender,F,1,2\ngender,M,1,2\n"


def _workbook(path: Path, sheets: list[list[list[str]]]) -> Path:
    wb = openpyxl.Workbook()
    for i, rows in enumerate(sheets):
        ws = wb.active if i == 0 else wb.create_sheet(f"s{i}")
        for r in rows:
            ws.append(r)
    wb.save(path)
    return path


def _respondents(tmp: Path, case: str) -> Path:
    """A respondents file as a careless user hands it over."""
    if case == "empty":
        (tmp / "r.csv").write_bytes(b"")
        return tmp / "r.csv"
    if case == "blank lines":
        (tmp / "r.csv").write_text("\n\n  \n")
        return tmp / "r.csv"
    if case == "binary":
        (tmp / "r.csv").write_bytes(bytes(range(256)) * 4)
        return tmp / "r.csv"
    if case == "undecodable":
        (tmp / "r.csv").write_bytes(b"id,gender\np1,\x81\x8d\x8f\x90\x9d\n")
        return tmp / "r.csv"
    if case == "not a workbook":
        (tmp / "r.xlsx").write_text("id,gender\n")
        return tmp / "r.xlsx"
    if case == "empty workbook":
        return _workbook(tmp / "r.xlsx", [[]])
    if case == "two sheets":
        rows = [line.split(",") for line in RESPONDENTS.splitlines()]
        return _workbook(tmp / "r.xlsx", [[["notes"]], rows])
    if case == "header only":
        (tmp / "r.csv").write_text("id,gender\n")
        return tmp / "r.csv"
    raise AssertionError(case)


@pytest.mark.parametrize("case, expected", [
    ("empty", "empty"), ("blank lines", "empty"), ("binary", "not a text file"),
    ("undecodable", "neither UTF-8 nor Windows-1252"),
    ("not a workbook", "not a readable .xlsx"), ("empty workbook", "workbook is empty"),
    ("two sheets", "2 sheets hold data"), ("header only", "no respondent listed")])
def test_bad_respondents_file_is_a_clear_error(tmp_path: Path, case: str,
                                                expected: str) -> None:
    cats = tmp_path / "c.csv"
    cats.write_text(CATEGORIES)
    r = run_cli("panel", "--respondents", str(_respondents(tmp_path, case)), "--categories",
                str(cats), "--size", "2", "--out", str(tmp_path / "out"), timeout=120)
    assert r.returncode == 2, r.stderr
    assert expected in r.stderr and "internal error" not in r.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("text, expected", [
    ("", "empty"), ("feature,value,min,max\n", "no feature value listed")])
def test_empty_categories_are_an_error_not_a_panel_without_quotas(
        tmp_path: Path, text: str, expected: str) -> None:
    (tmp_path / "r.csv").write_text(RESPONDENTS)
    (tmp_path / "c.csv").write_text(text)
    r = run_cli("panel", "--respondents", str(tmp_path / "r.csv"), "--categories",
                str(tmp_path / "c.csv"), "--size", "2", "--out", str(tmp_path / "out"))
    assert r.returncode == 2 and expected in r.stderr, r.stderr


def test_windows_1252_with_tabs_and_bars_is_read(tmp_path: Path) -> None:
    resp = "identifiant\tgenre\n" + "".join(f"p{i}\t{['Féminin', 'Masculin'][i % 2]}\n"
                                            for i in range(6))
    (tmp_path / "r.csv").write_bytes(resp.encode("cp1252"))
    (tmp_path / "c.csv").write_bytes("caractéristique|valeur|min|max\ngenre|Féminin|1|1\n"
                                     "genre|Masculin|1|1\n".encode("cp1252"))
    r = run_cli("panel", "--respondents", str(tmp_path / "r.csv"), "--categories",
                str(tmp_path / "c.csv"), "--size", "2", "--out", str(tmp_path / "out"))
    assert r.returncode == 0, r.stderr
    panel = (tmp_path / "out" / "panel.csv").read_text().splitlines()
    assert len(panel) == 3


def test_negative_time_limit_is_refused(tmp_path: Path) -> None:
    (tmp_path / "r.csv").write_text(RESPONDENTS)
    (tmp_path / "c.csv").write_text(CATEGORIES)
    r = run_cli("panel", "--respondents", str(tmp_path / "r.csv"), "--categories",
                str(tmp_path / "c.csv"), "--size", "2", "--time-limit", "-1",
                "--out", str(tmp_path / "out"))
    assert r.returncode == 2 and "time_limit" in r.stderr, r.stderr


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("published")
    (tmp / "r.csv").write_text(RESPONDENTS)
    (tmp / "c.csv").write_text(CATEGORIES)
    r = run_cli("panel", "--respondents", str(tmp / "r.csv"), "--categories",
                str(tmp / "c.csv"), "--size", "2", "--panels", "20", "--out", str(tmp / "out"))
    assert r.returncode == 0, r.stderr
    return tmp


@pytest.mark.parametrize("args, expected", [
    (["--lottery", "{r}"], "no column panel, seat, person, role"),
    (["--lottery", "{lot}", "--panel", "{r}"], "panel: no column person, role"),
    (["--lottery", "{lot}", "--sha256", "{tmp}/missing.json"], "missing.json: no such file"),
    (["--lottery", "{lot}", "--sha256", "{tmp}/broken.json"], "holds no sha256"),
    (["--lottery", "{lot}", "--sha256", "{tmp}/other.json"], "holds no sha256"),
])
def test_verify_with_wrong_files_is_a_clear_error(published: Path, args: list[str],
                                                  expected: str) -> None:
    (published / "broken.json").write_text("{")
    (published / "other.json").write_text(json.dumps({"panels": 20}))
    lot = published / "out" / "lottery.csv"
    argv = [a.format(r=published / "r.csv", lot=lot, tmp=published) for a in args]
    r = run_cli("panel", "verify", *argv, "--number", "1")
    assert r.returncode == 2, r.stdout + r.stderr
    assert expected in r.stderr and "internal error" not in r.stderr


def test_panel_help_speaks_the_users_language() -> None:
    for args in (["panel", "-h"], ["panel", "verify", "-h"]):
        r = run_cli(*args, env={"LC_ALL": "fr_FR.UTF-8", "LANG": "fr_FR.UTF-8"})
        assert r.returncode == 0, r.stderr
        assert "Utilisation" in r.stdout and "Usage:" not in r.stdout


def test_values_the_two_files_disagree_on_are_counted(tmp_path: Path) -> None:
    """A typo (``Femme`` for ``F``) is reported, not silently left without effect."""
    resp = "id,gender\n" + "".join(f"p{i},{'FMX'[i % 3]}\n" for i in range(12))
    (tmp_path / "r.csv").write_text(resp)
    (tmp_path / "c.csv").write_text(CATEGORIES + "gender,Femme,0,2\n")
    r = run_cli("panel", "--respondents", str(tmp_path / "r.csv"), "--categories",
                str(tmp_path / "c.csv"), "--size", "3", "--out", str(tmp_path / "out"))
    assert r.returncode == 0, r.stderr
    assert "no respondent has gender=Femme" in r.stdout
    assert "4 respondent(s) have a gender value the categories do not list" in r.stdout
    fair = json.loads((tmp_path / "out" / "fairness.json").read_text())
    assert fair["respondents_with_unlisted_value"] == {"gender": 4}
