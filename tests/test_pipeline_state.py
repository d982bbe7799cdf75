"""The pipeline's bookkeeping on a real study with small real stages: what is skipped, what
re-runs, what a failure does, and the exit code of ``mailstudy run``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from studykit import make_study
from typer.testing import CliRunner

from mailstudy.cli import app
from mailstudy.pipeline import (
    FAILED,
    NOT_CONFIGURED,
    NOT_RUN,
    NOT_SELECTED,
    RAN,
    SKIPPED,
    PipelineError,
    Stage,
    StageContext,
    collect_sources,
    fingerprint,
    fingerprint_path,
    run_pipeline,
)
from mailstudy.study import StudyError


def _copy_stage(name: str, src: str, dst: str, calls: list[str], *, section: str = "demo",
                fail: bool = False) -> Stage:
    """A stage that copies data/<src> to data/<dst> (upper-cased), recording each call."""

    def run(ctx: StageContext) -> dict:
        calls.append(name)
        if fail:
            raise StudyError("planned failure")
        data = (ctx.study.data / src).read_text()
        (ctx.study.data / dst).write_text(data.upper())
        return {"chars": len(data)}

    return Stage(name, name, run,
                 lambda s: None if (s.data / src).exists() else f"no {src}",
                 lambda s: [s.data / src], lambda s: s.section(section),
                 lambda s: [s.data / dst])


@pytest.fixture
def study(tmp_path: Path):
    s, _ = make_study(tmp_path)
    (s.data / "a.txt").write_text("hello")
    return s


def test_skip_rerun_and_cascade(study) -> None:
    calls: list[str] = []
    stages = [_copy_stage("one", "a.txt", "b.txt", calls),
              _copy_stage("two", "b.txt", "c.txt", calls)]
    rep = run_pipeline(study, stages=stages)
    assert rep.ran == ["one", "two"] and rep.ok and rep.exit_code == 0
    assert run_pipeline(study, stages=stages).ran == []
    assert calls == ["one", "two"]
    # Touching a file without changing it wakes nobody (single files are hashed by content).
    os.utime(study.data / "a.txt", (1, 1))
    assert run_pipeline(study, stages=stages).ran == []
    # Rewriting the same output bytes upstream does not wake the next stage.
    (study.data / "a.txt").write_text("HELLO")  # "one" writes the same b.txt as before
    rep = run_pipeline(study, stages=stages)
    assert rep.status("one") == RAN and rep.status("two") == SKIPPED
    # A real change cascades.
    (study.data / "a.txt").write_text("bonjour")
    assert run_pipeline(study, stages=stages).ran == ["one", "two"]
    assert (study.data / "c.txt").read_text() == "BONJOUR"


def test_config_change_and_output_tampering_rerun(study) -> None:
    calls: list[str] = []
    stages = [_copy_stage("one", "a.txt", "b.txt", calls, section="report")]
    run_pipeline(study, stages=stages)
    cfg = study.root / "study.toml"
    cfg.write_text(cfg.read_text().replace('lang = "fr"', 'lang = "en"'))
    from mailstudy.study import open_study

    study = open_study(study.root)
    assert run_pipeline(study, stages=stages).ran == ["one"]
    (study.data / "b.txt").unlink()  # somebody deleted the output
    assert run_pipeline(study, stages=stages).ran == ["one"]
    assert run_pipeline(study, stages=stages).ran == []


def test_failure_stops_later_stages_and_is_retried(study) -> None:
    calls: list[str] = []
    stages = [_copy_stage("one", "a.txt", "b.txt", calls, fail=True),
              _copy_stage("two", "a.txt", "c.txt", calls)]
    rep = run_pipeline(study, stages=stages)
    assert [r.status for r in rep.stages] == [FAILED, NOT_RUN]
    assert rep.stages[0].message == "planned failure"
    assert not rep.ok and rep.exit_code == 1
    rep = run_pipeline(study, stages=stages)
    assert rep.status("one") == FAILED  # a failed stage is never recorded as done
    assert calls == ["one", "one"]


def test_not_configured_only_and_from(study) -> None:
    calls: list[str] = []
    stages = [_copy_stage("one", "a.txt", "b.txt", calls),
              _copy_stage("two", "b.txt", "c.txt", calls),
              _copy_stage("three", "missing.txt", "d.txt", calls)]
    rep = run_pipeline(study, stages=stages)
    assert rep.status("three") == NOT_CONFIGURED and rep.ok
    rep = run_pipeline(study, only="two", stages=stages)  # forced although unchanged
    assert rep.ran == ["two"] and rep.status("one") == NOT_SELECTED
    with pytest.raises(PipelineError):
        run_pipeline(study, only="nope", stages=stages)
    with pytest.raises(PipelineError):
        run_pipeline(study, from_stage="one", only="two", stages=stages)


def test_unexpected_errors_name_only_their_type(study) -> None:
    def boom(ctx: StageContext) -> dict:
        raise KeyError("jean.dupont@region.test")

    stage = Stage("boom", "boom", boom, lambda s: None, lambda s: [], lambda s: None)
    rep = run_pipeline(study, stages=[stage])
    assert rep.status("boom") == FAILED
    assert "jean" not in rep.stages[0].message and "KeyError" in rep.stages[0].message


def test_fingerprints(tmp_path: Path) -> None:
    d = tmp_path / "box"
    (d / "cur").mkdir(parents=True)
    (d / "cur" / "1").write_text("x")
    f1 = fingerprint_path(d)
    (d / "cur" / ".tmp-write").write_text("partial")  # hidden temporary files are ignored
    assert fingerprint_path(d) == f1
    (d / "cur" / "2").write_text("y")
    assert fingerprint_path(d) != f1
    assert fingerprint_path(tmp_path / "absent") == "missing"
    assert fingerprint([d], {"a": 1}) != fingerprint([d], {"a": 2})
    (d / "named").mkdir()
    (d / "named" / "x.csv").write_text("z")
    assert fingerprint([(d, ("named",))]) != fingerprint([d])


def test_collect_sources_globs_relative_and_absolute(study, tmp_path: Path) -> None:
    (study.root / "exports" / "a@x.test").mkdir(parents=True)
    (study.root / "exports" / "b@x.test").mkdir()
    other = tmp_path / "elsewhere.mbox"
    other.write_text("")
    cfg = study.root / "study.toml"
    cfg.write_text(cfg.read_text().replace(
        "sources = []", f'sources = ["exports/*", "{other}", "nothing/*"]'))
    from mailstudy.study import open_study

    found, unmatched = collect_sources(open_study(study.root))
    assert [p.name for p in found] == ["a@x.test", "b@x.test", "elsewhere.mbox"]
    assert unmatched == [3]


def test_run_cli_fails_with_exit_code_1(study) -> None:
    cfg = study.root / "study.toml"
    cfg.write_text(cfg.read_text().replace("sources = []", 'sources = ["no-such-export/*"]'))
    res = CliRunner().invoke(app, ["run", "--study", str(study.root)])
    assert res.exit_code == 1, res.output
    assert "collect" in res.output and "failed" in res.output
    assert "no-such-export" not in res.output  # paths may carry names: never echoed


def test_imap_stage_from_study_toml(tmp_path: Path, make_dovecot, monkeypatch) -> None:
    """``[collect.imap]`` drives a real collection against Dovecot; the stage always runs
    (a server cannot be fingerprinted) and adds nothing the second time."""
    from studykit import message

    from mailstudy.store import read_messages
    from mailstudy.study import open_study

    srv = make_dovecot({"jean": "jean-pw"})
    srv.add_messages("jean", "INBOX", [
        message(message_id=f"<m{i}@region.test>", date=f"Mon, 07 Sep 2026 1{i}:00:00 +0200")
        for i in range(3)])
    srv.start()
    s, _ = make_study(tmp_path)
    (s.root / "accounts.csv").write_text("mailbox,login\njean.dupont@region.test,jean\n")
    cfg = s.root / "study.toml"
    cfg.write_text(cfg.read_text() + (
        f'\n[collect.imap]\nhost = "{srv.host}"\nport = {srv.imaps_port}\n'
        f'ca_file = "{srv.ca_file}"\naccounts = "accounts.csv"\n'
        'password_env = "MAILSTUDY_TEST_IMAP_PW"\nworkers = 1\n'))
    monkeypatch.setenv("MAILSTUDY_TEST_IMAP_PW", "jean-pw")
    s = open_study(s.root)
    rep = run_pipeline(s, only="imap")
    assert rep.ok and rep.ran == ["imap"], rep.stages[1].to_json()
    assert rep.stages[1].summary["messages_written"] == 3
    rep = run_pipeline(s, only="imap")
    assert rep.ran == ["imap"] and rep.stages[1].summary["messages_written"] == 0
    assert len(read_messages(s.messages_dir)) == 3
    monkeypatch.setenv("MAILSTUDY_TEST_IMAP_PW", "wrong")
    rep = run_pipeline(s, only="imap")
    assert rep.status("imap") == FAILED and rep.exit_code == 1
    assert "jean" not in rep.stages[1].message
