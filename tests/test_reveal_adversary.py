"""``reveal`` against an adversary: tampered lists, failures and kills midway, edited logs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from studykit import REPO, make_study, run_cli
from test_invite_study import populate

from mailstudy.reveal import RevealError, reveal, verify_log
from mailstudy.reveal.log import LogError
from mailstudy.study import open_study
from mailstudy.tabular import read_csv


@pytest.fixture()
def drawn(tmp_path: Path):
    s, ident = make_study(tmp_path)
    persons = populate(s)
    r = run_cli("invite", "--seed", "3", study=s.root)
    assert r.returncode == 0, r.stderr
    return open_study(s.root), ident, persons


def _log(s) -> Path:
    return s.catalog.path("reidentification_log")


def test_a_tampered_reserve_list_names_nobody(drawn) -> None:
    s, ident, persons = drawn
    reserves = read_csv(s.catalog.path("reserves"))
    strangers = [p for p in persons if p not in set(reserves["person"])][:10]
    extra = reserves.head(len(strangers)).assign(person=strangers)
    pd.concat([reserves, extra]).to_csv(s.catalog.path("reserves"), index=False)
    with pytest.raises(RevealError, match="reserve list is not the committed draw"):
        reveal(s, ident)
    r = run_cli("reveal", "--identity", str(ident), study=s.root)
    assert r.returncode == 2 and "not the committed draw" in r.stderr
    assert not s.catalog.path("named").exists() and not _log(s).exists()
    # The panel file is bound too.
    panel = read_csv(s.catalog.path("panel"))
    run_cli("invite", "--seed", "3", study=s.root)
    panel.assign(person=strangers[: len(panel)] + list(panel["person"])[len(strangers):]
                 ).to_csv(s.catalog.path("panel"), index=False)
    with pytest.raises(RevealError, match="panel file is not the committed draw"):
        reveal(s, ident)


def test_a_reveal_failing_midway_writes_no_name_and_logs_nothing(drawn) -> None:
    s, ident, _ = drawn
    cfg = s.root / "study.toml"
    cfg.write_text(cfg.read_text(encoding="utf-8").replace(
        'start = "2027-01-28T09:30"', 'start = "le 28 janvier"'), encoding="utf-8")
    r = run_cli("reveal", "--identity", str(ident), study=s.root)
    assert r.returncode == 2 and "nothing revealed" in r.stderr, r.stderr
    assert not s.catalog.path("named").exists() and not _log(s).exists()
    assert not list(s.catalog.path("invitations").glob(".named-*"))


def _named_digest(named: Path) -> str:
    import hashlib

    return hashlib.sha256(b"".join((named / n).read_bytes()
                                   for n in sorted(os.listdir(named)))).hexdigest()[:16]


def test_a_reveal_killed_at_any_moment_leaves_no_name_or_a_logged_complete_set(drawn) -> None:
    s, ident, _ = drawn
    cmd = [sys.executable, "-m", "mailstudy", "reveal", "--identity", str(ident),
           "--study", str(s.root)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    outcomes = set()
    for delay in (0.3, 0.6, 0.8, 1.0, 1.2, 1.5, 2.0, 3.0):
        p = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        time.sleep(delay)
        p.send_signal(signal.SIGKILL)
        p.wait()
        named = s.catalog.path("named")
        if named.exists():
            entries = _log(s).read_text().splitlines()
            assert any(f"files_sha256={_named_digest(named)}" in e for e in entries)
            outcomes.add("complete")
        else:
            outcomes.add("none")
        verify_log(_log(s))  # a kill never leaves a broken chain
    # Whatever a kill left, the next reveal ends as an uninterrupted one.
    res = reveal(s, ident)
    assert not list(s.catalog.path("invitations").glob(".named-*"))
    assert f"files_sha256={_named_digest(s.catalog.path('named'))}" in \
        _log(s).read_text().splitlines()[-1]
    assert res.receipt == verify_log(_log(s)).last_hash


def test_the_log_chain_detects_an_edited_line_and_a_missing_receipt(drawn) -> None:
    s, ident, _ = drawn
    first = reveal(s, ident).receipt
    second = reveal(s, ident).receipt
    assert verify_log(_log(s), first).entries == 2
    r = run_cli("reveal", "--verify", "--receipt", second, study=s.root)
    assert r.returncode == 0 and "2 reveal(s)" in r.stdout
    lines = _log(s).read_text().splitlines()
    _log(s).write_text("\n".join([lines[0].replace("revealed=", "revealed=1"), lines[1]]) + "\n")
    with pytest.raises(LogError, match="line 1"):
        verify_log(_log(s))
    r = run_cli("reveal", "--verify", study=s.root)
    assert r.returncode == 2 and "broken at line 1" in r.stderr
    _log(s).write_text(lines[0] + "\n")  # the last reveal removed
    with pytest.raises(LogError, match="receipt is not in"):
        verify_log(_log(s), second)


def test_invitations_carry_the_organizer_and_their_time_zone(drawn) -> None:
    from icalendar import Calendar

    s, ident, _ = drawn
    cfg = s.root / "study.toml"
    cfg.write_text(cfg.read_text(encoding="utf-8").replace(
        "[workshop]\n", '[workshop]\norganizer = "DCI Pays de la Loire <dci@region.test>"\n'),
        encoding="utf-8")
    reveal(open_study(s.root), ident)
    files = sorted(s.catalog.path("named").glob("invitation-*.ics"))
    assert len(files) == len(read_csv(s.catalog.path("panel")))
    cal = Calendar.from_ical(files[0].read_bytes())
    assert str(cal["method"]) == "REQUEST"
    assert [str(t["tzid"]) for t in cal.walk("VTIMEZONE")] == ["Europe/Paris"]
    for ev in cal.walk("VEVENT"):
        assert str(ev["organizer"]) == "mailto:dci@region.test"
        assert ev["organizer"].params["cn"] == "DCI Pays de la Loire"
        assert ev["dtstart"].params["tzid"] == "Europe/Paris"


def test_a_tampered_published_list_names_nobody(drawn) -> None:
    # The transparent draw: the panel is line N of lottery.csv, whose hash was announced.
    # A list edited afterwards (a stranger put on the drawn panel's line, or on any other
    # line) no longer matches the announcement: the key holder must not name a panel the
    # public cannot check, whatever panel.csv says.
    import json

    s, ident, persons = drawn
    fair = json.loads(s.catalog.path("fairness").read_text(encoding="utf-8"))
    assert fair.get("published_list_sha256")
    path = s.catalog.path("lottery")
    original = path.read_bytes()
    lottery = pd.read_csv(path, dtype=str, keep_default_na=False)
    for line in (lottery.index[lottery["panel"] == str(fair["panel_number"])][0],
                 lottery.index[lottery["panel"] != str(fair["panel_number"])][0]):
        seated = set(lottery.loc[lottery["panel"] == lottery.loc[line, "panel"], "person"])
        stranger = next(p for p in persons if p not in seated)
        lottery.assign(person=lottery["person"].where(lottery.index != line, stranger)
                       ).to_csv(path, index=False)
        with pytest.raises(RevealError, match="published list"):
            reveal(s, ident)
        assert not s.catalog.path("named").exists() and not _log(s).exists()
    path.write_bytes(original)
    reveal(s, ident)
    assert s.catalog.path("named").exists()
