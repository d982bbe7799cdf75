"""Words, dates and numbers in the reader's language, and a command line that speaks it.

The catalogues (``mailstudy/locale/*.po``) are complete in both languages, dates and numbers
come from Babel as French offices write them, spreadsheets open as French Excel expects, and
the command line's help and messages keep their brackets, in workflow order, in French under
a French locale.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from studykit import make_study, run_cli

from mailstudy import i18n, schema
from mailstudy.errors import ConfigError
from mailstudy.profile.config import DEFAULT_HABITS, WORK_PATTERNS
from mailstudy.tabular import french_csv, read_csv, write_table

NNBSP = "\u202f"  # narrow no-break space


def test_catalogues_are_complete_in_both_languages() -> None:
    fr, en = i18n.catalogue("fr"), i18n.catalogue("en")
    docs = {c.doc for cols in schema.TABLES.values() for c in cols}
    missing = sorted(d for d in docs if ("column", d) not in fr)
    assert not missing, missing[:3]  # an edited definition needs its translation
    for kind, codes in (("habit", DEFAULT_HABITS), ("work_pattern", WORK_PATTERNS),
                        ("feature", schema.FEATURE_NAMES)):
        for code in codes:
            assert (kind, code) in fr and (kind, code) in en, (kind, code)
            assert "_" not in fr[(kind, code)] and "_" not in en[(kind, code)]
    # every coded entry of the French catalogue has its English name (English complete);
    # column definitions and error messages are English sentences already (the msgid)
    coded = {k for k in fr if k[0] and k[0] not in ("column", "error")}
    assert not sorted(str(k) for k in coded - set(en))
    # a French sentence for every plain English msgid of the French catalogue
    assert all(fr[k] for k in fr if k[0] is None)


def test_dates_and_numbers_as_french_offices_write_them() -> None:
    assert i18n.fmt_date("fr", dt.date(2026, 12, 2)) == "2 décembre 2026"
    assert i18n.fmt_date("fr", "2026-12-02") == "2 décembre 2026"
    assert i18n.fmt_date("fr", "2028-01-01") == "1er janvier 2028"  # the ordinal, as in French
    assert i18n.fmt_date("fr", "2028-01-11") == "11 janvier 2028"
    assert i18n.fmt_datetime("fr", "2027-01-14T09:30") == "jeudi 14 janvier 2027, 9 h 30"
    assert i18n.fmt_datetime("en", "2027-01-14T09:30").endswith("14 January 2027, 09:30")
    assert i18n.fmt_time("fr", "08:00") == "8 h"
    assert i18n.fmt_num("fr", 4577) == f"4{NNBSP}577"
    assert i18n.fmt_num("fr", 3.25, 1) in ("3,2", "3,3") and i18n.fmt_num("en", 0.5, 1) == "0.5"
    assert i18n.fmt_pct("fr", 0.352) == f"35{NNBSP}%"
    assert i18n.fmt_pct("fr", 1.0, 1) == f"100,0{NNBSP}%"
    assert i18n.fmt_pct("en", 0.352) == "35%"
    assert i18n.fmt_num("fr", None) == i18n.DASH == i18n.fmt_pct("fr", float("nan"))
    assert i18n.weekday_names("fr", ["mon", "fri"]) == ["lundi", "vendredi"]
    assert i18n.fmt_list("fr", ["lundi", "mardi", "mercredi"]) == "lundi, mardi et mercredi"
    fmt = i18n.axis_formatter("fr", percent=True)
    assert fmt(0.25, 0) == f"25{NNBSP}%" and i18n.axis_formatter("fr")(1.5, 0) == "1,5"


def test_language_of_the_command_line_follows_the_locale() -> None:
    assert i18n.cli_lang({"LANG": "fr_FR.UTF-8"}) == "fr"
    assert i18n.cli_lang({"LANG": "fr_FR.UTF-8", "LC_ALL": "C.UTF-8"}) == "en"
    assert i18n.cli_lang({"LC_MESSAGES": "fr_CA.UTF-8"}) == "fr"
    assert i18n.cli_lang({}) == "en"
    assert i18n.label("fr", "habit", "boite_debordante") == "Boîte débordante"
    assert i18n.label("fr", "habit", "mon_habitude_maison") == "mon habitude maison"
    assert i18n.tr("fr", "nothing deleted") == "rien n'a été supprimé"


class _Study:
    def __init__(self, report: dict) -> None:
        self._r = report

    def section(self, name: str) -> dict:
        return self._r if name == "report" else {}


def test_tables_as_french_excel_reads_them_and_xlsx_twins(tmp_path: Path) -> None:
    df = pd.DataFrame({"habit": ["reactif", "classeur"], "n_people": [12.0, None],
                       "after_hours_share_median": [0.7045512357501712, None],
                       "sent_per_day_median": [3.25, 1.5]})
    csv, xlsx = write_table(_Study({"lang": "fr"}), df, tmp_path / "by_habit.csv")
    raw = csv.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and raw[3:].startswith(b"habit;n_people;")
    assert b"0,7045512357501712" in raw and b"3,25" in raw  # decimal commas
    back = read_csv(csv)
    assert list(back.columns) == list(df.columns) and back["sent_per_day_median"][0] == 3.25
    ws = openpyxl.load_workbook(xlsx).active
    assert [c.value for c in ws[1]] == ["Habitude", "Personnes",
                                        "Part hors horaires (médiane)",
                                        "Envoyés / jour ouvré (médiane)"]
    assert [c.value for c in ws["A"][1:]] == ["Réactif", "Classeur"]
    assert ws["C2"].number_format == "0.0%" and ws["B2"].number_format == "#,##0"
    assert ws["D2"].number_format == "#,##0.0##" and ws.freeze_panes == "A2"
    assert ws.column_dimensions["C"].width > 20
    plain, _ = write_table(_Study({"lang": "fr", "csv": "plain"}), df, tmp_path / "p.csv")
    assert plain.read_bytes().startswith(b"habit,n_people,") and b"3.25" in plain.read_bytes()
    assert not french_csv(_Study({"lang": "fr"}), plain=True)
    assert not french_csv(_Study({"lang": "en"})) and french_csv(_Study({}))
    with pytest.raises(ConfigError, match=r"\[report\] csv"):
        french_csv(_Study({"csv": "excel"}))


def _all_help(env: dict[str, str] | None = None) -> dict[str, str]:
    commands = [[], ["purge"], ["directory", "import"], ["collect", "files"],
                ["collect", "imap"], ["invite"], ["optout"]]
    out = {}
    for c in commands:
        r = run_cli(*c, "--help", env={"COLUMNS": "200", **(env or {})})
        assert r.returncode == 0, r.stderr
        out[" ".join(c)] = r.stdout
    return out


def test_help_keeps_brackets_in_workflow_order_without_type_tags() -> None:
    helps = _all_help()
    assert "[directory.ladder]" in helps["directory import"]
    assert "[privacy] retention_until" in helps["purge"]
    assert "[workshop] panel_size" in helps["invite"]
    for name, text in helps.items():
        assert not re.search(r"<(list\[|bool>|path>|int>|str>|text>)", text), name
    top = helps[""]
    panels = [top.index(p) for p in ("Set up the study", "Collect", "Analyse", "Key holder",
                                     "Share and close")]
    assert panels == sorted(panels)
    order = [re.search(rf"│ {c}\b", top).start() for c in ("init", "collect", "profile",
                                                         "personas", "invite", "reveal",
                                                         "purge")]
    assert order == sorted(order)
    assert run_cli("-h").stdout == run_cli("--help").stdout
    v = run_cli("--version")
    assert v.returncode == 0 and re.fullmatch(r"mailstudy \d+\.\d+\.\d+\s*", v.stdout)


def test_command_line_speaks_french_under_a_french_locale(tmp_path: Path) -> None:
    helps = _all_help({"LC_ALL": "fr_FR.UTF-8"})
    assert "Préparer l'étude" in helps[""] and "Utilisation" in helps[""]
    assert "Affiche cette aide" in helps["purge"] and "[directory.ladder]" in helps[
        "directory import"]
    study, _ = make_study(tmp_path)
    r = run_cli("purge", "--all", study=study.root, env={"LC_ALL": "fr_FR.UTF-8"})
    assert r.returncode == 1 and "rien n'a été supprimé" in r.stderr
    r = run_cli("purge", "--all", study=study.root)
    assert r.returncode == 1 and "nothing deleted" in r.stderr
    r = run_cli("profile", study=study.root, env={"LC_ALL": "fr_FR.UTF-8"})
    assert r.returncode == 2 and "erreur : rien n'a encore été collecté" in r.stderr
    assert "'mailstudy collect files'" in r.stderr and "[collect]" in r.stderr


def test_stages_on_an_empty_study_name_the_command_to_run_first(tmp_path: Path) -> None:
    study, _ = make_study(tmp_path)
    for stage, first in (("profile", "mailstudy collect files"),
                         ("report", "mailstudy collect files"),
                         ("personas", "mailstudy profile")):
        r = run_cli(stage, study=study.root)
        assert r.returncode == 2, (stage, r.stdout, r.stderr)
        assert first in r.stderr and "internal error" not in r.stderr, stage
    # a message holding brackets prints them (no rich markup swallows "[collect]")
    assert "[collect] sources" in run_cli("profile", study=study.root).stderr
    assert not (study.out / "report").exists() and not study.catalog.exists("people")
