"""``mailstudy purge``: layers past their retention date go; ``--all`` destroys the data, the
key and the escrow, only after confirmation."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from studykit import make_study
from typer.testing import CliRunner

from mailstudy.cli import app
from mailstudy.purge import purge, retention_dates
from mailstudy.study import StudyError, open_study


def _fill(study) -> None:
    """Real files in every layer: a sealed identity, a message partition, tables, outputs."""
    esc = study.escrow()
    esc.add("p0123456789abcdef", "person", {"address": "a@region.test", "name": "A B"})
    esc.flush()
    part = study.messages_dir / "mailbox=p0123456789abcdef"
    part.mkdir(parents=True)
    (part / "part-1.parquet").write_bytes(b"x")
    (study.data / "people.parquet").write_bytes(b"x")
    (study.data / "optouts.txt").write_text("p1\n")
    (study.out / "report").mkdir(parents=True)
    (study.out / "report" / "rapport.html").write_text("<html></html>")
    study.runs_dir.mkdir(parents=True, exist_ok=True)
    (study.runs_dir / "state.json").write_text("{}")


def _set_retention(study, text: str, tail: str = ""):
    cfg = study.root / "study.toml"
    body = cfg.read_text()
    start = body.index("retention_until = ")
    end = body.index("\n", start)
    cfg.write_text(body[:start] + text + body[end:] + tail)
    return open_study(study.root)


@pytest.fixture
def study(tmp_path: Path):
    s, _ = make_study(tmp_path)
    _fill(s)
    return s


def test_nothing_before_the_date(study) -> None:
    rep = purge(study, today=dt.date.today())
    assert rep.deleted == {}
    assert study.key_path.exists() and any(study.escrow_dir.glob("*.age"))


def test_past_the_date_everything_goes_keys_included(study) -> None:
    study = _set_retention(study, 'retention_until = "2020-01-01"')
    rep = purge(study, today=dt.date(2026, 1, 1))
    assert set(rep.deleted) == {"messages", "directory", "tables", "outputs", "runs", "escrow",
                                "key"}
    assert not study.key_path.exists()
    assert not study.messages_dir.exists() and not study.escrow_dir.exists()
    assert not (study.out / "report").exists()
    assert (study.root / "study.toml").exists() and rep.log is not None


def test_per_layer_dates(study) -> None:
    study = _set_retention(study, 'retention_until = "2030-01-01"',
                           '\n[privacy.retention]\nmessages = "2025-06-30"\n')
    dates = retention_dates(study)
    assert dates["messages"] == dt.date(2025, 6, 30) and dates["key"] == dt.date(2030, 1, 1)
    rep = purge(study, today=dt.date(2026, 1, 1))
    assert list(rep.deleted) == ["messages"]
    assert not study.messages_dir.exists()
    assert study.key_path.exists() and (study.data / "people.parquet").exists()


def test_bad_dates_are_refused(study) -> None:
    study = _set_retention(study, 'retention_until = "bientôt"')
    with pytest.raises(StudyError, match="YYYY-MM-DD"):
        purge(study)


def test_purge_all_cli_asks_then_destroys(study) -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["purge", "--all", "--study", str(study.root)], input="n\n")
    assert res.exit_code != 0
    assert study.key_path.exists()  # refused: nothing touched
    res = runner.invoke(app, ["purge", "--all", "--study", str(study.root)], input="y\n")
    assert res.exit_code == 0, res.output
    assert not study.key_path.exists()
    assert not any(study.data.rglob("*")) and not any(study.out.rglob("*"))
    assert (study.root / "purge.log").exists()
    # --yes skips the question; a second purge finds nothing left to destroy but succeeds
    res = runner.invoke(app, ["purge", "--all", "--yes", "--study", str(study.root)])
    assert res.exit_code == 0, res.output


def test_declining_or_unconfirmable_purge_all_deletes_nothing(tmp_path: Path) -> None:
    from studykit import make_study, run_cli

    study, _ = make_study(tmp_path)
    r = run_cli("purge", "--all", study=study.root)  # no terminal: cannot confirm
    assert r.returncode == 1 and "nothing deleted" in r.stderr
    assert "internal error" not in r.stderr + r.stdout
    assert study.key_path.exists()
