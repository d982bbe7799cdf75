"""Invitations on a real study: imports, the `invite` and `reveal` commands, privacy."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from icalendar import Calendar
from studykit import make_study, run_cli

from anonymise.escrow import EscrowError, generate_identity
from mailstudy.intake import answers as A
from mailstudy.reveal import reveal
from mailstudy.reveal.named import HEADERS_FR, NAMED_COLUMNS
from mailstudy.tabular import read_csv

N = 150
SESSIONS = """
[[workshop.sessions]]
id = "s1"
start = "2027-01-14T09:30"
end = "2027-01-14T12:30"
place = "Hôtel de Région"

[[workshop.sessions]]
id = "s2"
start = "2027-01-28T09:30"
end = "2027-01-28T12:30"
place = "Hôtel de Région"
"""


def address(i: int) -> str:
    return f"agent.numero{i:03d}@region.test"


def name(i: int) -> str:
    return f"Camille Numero{i:03d}"


def populate(study, seed: int = 0) -> list[str]:
    """people, personas, directory tables and sealed identities for N staff."""
    rng = np.random.default_rng(seed)
    ps = study.pseudonymiser()
    persons = [ps.person(address(i)) for i in range(N)]
    roles_pick = [["juridique"], ["expert"], ["pilote"], ["animateur"], ["arbitre"],
                  ["informatique"], ["créatif"]]
    roles = [roles_pick[i % 7] if i % 4 == 0 else [] for i in range(N)]
    dirs = rng.choice(["DRH", "DSI", "DFIN"], N)
    people = pd.DataFrame({
        "person": persons, "level": rng.choice(["encadrement", "agent"], N, p=[0.3, 0.7]),
        "level_rank": 1, "direction": dirs,
        "service": [f"{d}-{rng.integers(10)}" for d in dirs], "roles": roles})
    people.to_parquet(study.data / "people.parquet")
    pd.DataFrame({"person": persons, "persona": rng.integers(1, 3, N).astype("int16"),
                  "persona_name": rng.choice(["Vigie", "Nomade"], N)}).to_parquet(
        study.data / "personas.parquet")
    people.to_parquet(study.data / "directory.parquet")
    esc = study.escrow()
    for i, p in enumerate(persons):
        esc.add(p, "person", {"address": address(i), "name": name(i)})
    esc.flush()
    cfg = study.root / "study.toml"
    cfg.write_text(cfg.read_text(encoding="utf-8").replace(
        "panel_size = 20", "panel_size = 10") + SESSIONS, encoding="utf-8")
    return persons


def plain_files(root: Path) -> list[Path]:
    """Every file a command wrote, except the sealed escrow and the secrets."""
    return [p for p in root.rglob("*") if p.is_file()
            and "escrow" not in p.parts and "secrets" not in p.parts]


def no_identity_anywhere(root: Path) -> None:
    for p in plain_files(root):
        blob = p.read_bytes()
        assert b"numero" not in blob.lower() and b"@region.test" not in blob, p


@pytest.fixture()
def study(tmp_path: Path):
    s, ident = make_study(tmp_path)
    populate(s)
    from mailstudy.study import open_study

    return open_study(s.root), ident


def test_volunteers_import_pseudonymises_and_reports_bad_lines(tmp_path: Path, study) -> None:
    s, _ = study
    f = tmp_path / "volontaires.csv"
    f.write_bytes("Nom;Courriel\nDupré;Agent.Numero001@region.test\nAnonyme;  \n"
                  "Zoé;pas-une-adresse\nX;quelqu.un@ailleurs.test\n"
                  "Léa;nouvelle.recrue@region.test\n".encode("cp1252"))
    summary = A.import_volunteers(s, f)
    assert summary.rejected == {"empty address": [3], "not an e-mail address": [4],
                                "address outside the organisation's domains": [5]}
    vol = pd.read_parquet(s.data / "volunteers.parquet")
    ps = s.pseudonymiser()
    assert set(vol["person"]) == {ps.person(address(1)), ps.person("nouvelle.recrue@region.test")}
    no_identity_anywhere(s.root)
    r = run_cli("volunteers", "import", str(f), study=s.root)
    assert r.returncode == 0, r.stderr
    assert "line(s) 4" in r.stdout and "pas-une" not in r.stdout + r.stderr
    assert "ailleurs" not in r.stdout + r.stderr


def test_availability_import_reads_answers_per_session(tmp_path: Path, study) -> None:
    s, _ = study
    f = tmp_path / "dispo.csv"
    f.write_text("email,s1,s2\n"
                 f"{address(1)},oui,non\n{address(2)},x,X\n{address(3)},yes,1\n"
                 f"{address(4)},peut-être,oui\n", encoding="utf-8")
    summary = A.import_availability(s, f)
    assert list(summary.rejected.values()) == [[5]]
    av = pd.read_parquet(s.data / "availability.parquet").set_index("person")
    ps = s.pseudonymiser()
    assert av.loc[ps.person(address(1))].tolist() == [True, False]
    assert av.loc[ps.person(address(2))].tolist() == [True, True]
    assert list(av.columns) == ["s1", "s2"] and len(av) == 3
    g = tmp_path / "dispo2.csv"
    g.write_text("email,s1\nx@region.test,oui\n", encoding="utf-8")
    with pytest.raises(A.AnswersError, match="no column for session 's2'"):
        A.import_availability(s, g)


def test_invite_then_reveal_names_exactly_panel_and_reserves(tmp_path: Path, study) -> None:
    s, ident = study
    persons = set(pd.read_parquet(s.data / "people.parquet")["person"])
    opted = sorted(persons)[:20]
    (s.data / "optouts.txt").write_text("\n".join(opted) + "\n")
    r = run_cli("invite", "--seed", "5", study=s.root)
    assert r.returncode == 0, r.stderr + r.stdout
    out = s.out / "invitations"
    panel = read_csv(out / "panel.csv")
    reserves = read_csv(out / "reserves.csv")
    # Published: seat, role and pseudonym; strata would name the persona of people alone in
    # their (level, direction).
    assert list(panel.columns) == ["person", "seat", "role"]
    assert list(reserves.columns)[:6] == [*panel.columns, "rank"]
    assert len(panel) == 10 and not set(panel["person"]) & set(opted)
    assert not set(reserves["person"]) & set(opted)
    fair = json.loads((out / "fairness.json").read_text())
    assert fair["seed"] == 5 and len(fair["distribution_sha256"]) == 64
    assert {"min_over_equal_share", "gini", "share_below_equal_share"} <= set(fair)
    assert len(pd.read_csv(s.data / "invitations" / "why.csv")) == 10
    assert not (out / "why.csv").exists() and not (out / "why.txt").exists()
    probs = pd.read_csv(s.data / "invitations" / "probabilities.csv")
    assert len(probs) == N - 20 and not set(probs["person"]) & set(opted)
    assert probs["probability"].sum() == pytest.approx(10)
    # Before the reveal, no command has written a name or an address anywhere.
    no_identity_anywhere(s.root)
    # Same seed, same panel: the draw is reproducible.
    assert run_cli("invite", "--seed", "5", study=s.root).returncode == 0
    pd.testing.assert_frame_equal(panel, read_csv(out / "panel.csv"))

    res = reveal(s, ident)
    named = out / "named"
    english = {v: k for k, v in HEADERS_FR.items()}
    npanel = pd.read_csv(named / "panel.csv", sep=";", encoding="utf-8-sig").rename(
        columns=english)
    nres = pd.read_csv(named / "reserves.csv", sep=";", encoding="utf-8-sig").rename(
        columns=english)
    # What an invitation needs, and no behavioural label or probability next to a name.
    assert list(npanel.columns) == NAMED_COLUMNS
    assert not {"strata", "selection_probability", "persona"} & set(nres.columns)
    wanted = set(panel["person"]) | set(reserves["person"])
    assert set(npanel["person"]) | set(nres["person"]) == wanted
    assert res.named == len(wanted) and res.missing == 0
    idx = {s.pseudonymiser().person(address(i)): i for i in range(N)}
    for row in npanel.itertuples():
        assert row.address == address(idx[row.person]) and row.name == name(idx[row.person])
    # Nothing about anyone else in any named file.
    others = {address(i) for p, i in idx.items() if p not in wanted}
    for f in named.iterdir():
        blob = f.read_bytes()
        if f.suffix != ".xlsx":
            assert not any(o.encode() in blob for o in others), f
        assert (f.stat().st_mode & 0o077) == 0
    x = pd.read_excel(named / "invitations.xlsx", sheet_name=None)
    assert set(x["panel"]["pseudonyme"]) == set(panel["person"])
    assert set(x["reserves"]["pseudonyme"]) == set(reserves["person"])
    assert (npanel["first_name"] + " " + npanel["last_name"] == npanel["name"]).all()
    assert npanel["sessions"].str.contains("jeudi 14 janvier 2027, 9 h 30").all()
    # One calendar per invitee: each sees only themselves, one event per session.
    seen = set()
    for row in npanel.itertuples():
        cal = Calendar.from_ical((named / f"invitation-{row.seat}.ics").read_bytes())
        assert cal.walk("VTIMEZONE") and str(cal["method"]) == "PUBLISH"  # no organizer set
        events = cal.walk("VEVENT")
        assert len(events) == 2
        for ev in events:
            att = ev.get("attendee")
            assert not isinstance(att, list) and str(att) == f"mailto:{row.address}"
            assert ev.decoded("dtstart").hour == 9 and "séance" in str(ev["summary"])
            seen.add(str(ev["uid"]))
    assert len(seen) == 2 * len(npanel)  # stable, distinct UIDs per session and seat
    log = (s.data / "reidentification.log").read_text().splitlines()
    assert len(log) == 1 and f"revealed={len(wanted)}" in log[0]
    assert fair["distribution_sha256"] in log[0] and fair["panel_sha256"] in log[0]


def test_reveal_needs_the_key_holders_identity(tmp_path: Path, study) -> None:
    s, ident = study
    assert run_cli("invite", study=s.root).returncode == 0
    other = tmp_path / "other.txt"
    generate_identity(other)
    with pytest.raises(EscrowError):
        reveal(s, other)
    r = run_cli("reveal", "--identity", str(other), study=s.root)
    assert r.returncode == 2 and "cannot open the escrow" in r.stderr
    r = run_cli("reveal", study=s.root)
    assert r.returncode != 0
    assert not (s.out / "invitations" / "named" / "panel.csv").exists()
    assert not (s.data / "reidentification.log").exists()
    no_identity_anywhere(s.root)


def test_infeasible_invite_explains_itself(study) -> None:
    s, _ = study
    cfg = s.root / "study.toml"
    cfg.write_text(cfg.read_text(encoding="utf-8") + "\n[workshop.seats]\npilote = 30\n",
                   encoding="utf-8")
    r = run_cli("invite", study=s.root)
    assert r.returncode == 2
    assert "role seats 'pilote': 30 needed" in r.stderr
    assert "drop the role seats 'pilote'" in r.stderr


def test_invite_draws_from_a_published_list_anyone_can_verify(study) -> None:
    s, _ = study
    r = run_cli("invite", "--seed", "3", "--number", "17", study=s.root)
    assert r.returncode == 0, r.stderr + r.stdout
    out = s.out / "invitations"
    fair = json.loads((out / "fairness.json").read_text())
    assert fair["algorithm"] == "leximin" and fair["panel_number"] == 17
    lottery = pd.read_csv(out / "lottery.csv", dtype=str)
    assert list(lottery.columns) == ["panel", "seat", "person", "role"]
    assert lottery["panel"].astype(int).nunique() == fair["panels_published"] == 1000
    listed = lottery[lottery["panel"] == "17"]
    panel = read_csv(out / "panel.csv", dtype=str)
    assert set(zip(listed["person"], listed["role"], strict=True)) == set(
        zip(panel["person"], panel["role"], strict=True))
    ok = run_cli("invite", "--verify", study=s.root)
    assert ok.returncode == 0 and "verified" in ok.stdout, ok.stderr
    wrong = run_cli("invite", "--verify", "--number", "18", study=s.root)
    assert wrong.returncode == 1 and "NOT VERIFIED" in wrong.stdout
    lottery.loc[lottery.index[lottery["panel"] == "17"][0], "person"] = lottery["person"].iloc[-1]
    lottery.to_csv(out / "lottery.csv", index=False)
    bad = run_cli("invite", "--verify", study=s.root)
    assert bad.returncode == 1 and "sha256" in bad.stdout


def test_no_published_list_when_the_study_declines_it(study) -> None:
    """``published_panels = 0`` (README, "Privacy model": the list tells selection
    probabilities): a plain seeded draw, no lottery.csv (an earlier one removed), reveal still
    names the committed panel and nobody else."""
    s, ident = study
    assert run_cli("invite", "--seed", "3", study=s.root).returncode == 0
    out = s.out / "invitations"
    assert (out / "lottery.csv").exists()
    cfg = s.root / "study.toml"
    cfg.write_text(cfg.read_text(encoding="utf-8").replace(
        "[workshop]\n", "[workshop]\npublished_panels = 0\n", 1), encoding="utf-8")
    r = run_cli("invite", "--seed", "3", study=s.root)
    assert r.returncode == 0, r.stderr + r.stdout
    assert "no published list" in r.stdout and not (out / "lottery.csv").exists()
    fair = json.loads((out / "fairness.json").read_text())
    assert fair["panels_published"] == 0 and fair["published_list_sha256"] is None
    first = (out / "panel.csv").read_bytes()
    again = run_cli("invite", "--seed", "3", study=s.root)
    assert again.returncode == 0 and (out / "panel.csv").read_bytes() == first  # seeded
    wrong = run_cli("invite", "--number", "4", study=s.root)
    assert wrong.returncode == 2 and "published list" in wrong.stderr
    rev = run_cli("reveal", "--identity", str(ident), study=s.root)
    assert rev.returncode == 0, rev.stderr + rev.stdout
