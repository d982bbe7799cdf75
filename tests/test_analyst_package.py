"""The analyst package against an insider: k-anonymous, unlinkable, and as good for personas.

One demo council (unique DGS, DGAs and directors, as in a real organigram) is shared by the
module; the package is exported with the real command and attacked as an analyst would.
"""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest
from pycanon import anonymity
from sklearn.metrics import adjusted_rand_score
from studykit import run_cli

from mailstudy.demo import run_demo
from mailstudy.export.generalise import QUASI_IDENTIFIERS, generalise, roles_key
from mailstudy.personas import run_personas
from mailstudy.store import read_messages
from mailstudy.study import open_study
from mailstudy.tabular import read_csv

PSEUDONYM = re.compile(rb"\b[pmifo][0-9a-f]{16}\b")


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("analyst")
    demo = run_demo(root / "d", agents=60, weeks=3, seed=11, reveal=False, imap=False)
    assert demo.run.ok
    pkg = root / "package"
    r = run_cli("export", "analyst", str(pkg), study=demo.study.root)
    assert r.returncode == 0, r.stderr
    return demo, pkg


def _qi_frame(people: pd.DataFrame) -> pd.DataFrame:
    df = people[list(QUASI_IDENTIFIERS)].copy()
    df["roles"] = df["roles"].map(roles_key)
    return df.fillna("?").astype(str).reset_index(drop=True)


def test_the_full_table_singles_people_out_and_the_package_does_not(exported) -> None:
    demo, pkg = exported
    k = demo.study.min_group_size
    full = _qi_frame(demo.study.catalog.read_table("people"))
    assert anonymity.k_anonymity(full, list(QUASI_IDENTIFIERS)) < k  # the attack is real
    package = pd.read_parquet(pkg / "data" / "people.parquet")
    qi = _qi_frame(package)
    assert anonymity.k_anonymity(qi, list(QUASI_IDENTIFIERS)) >= k
    assert qi.groupby(list(QUASI_IDENTIFIERS)).size().min() >= k  # independent recount
    assert len(package) == len(full)  # generalised, nobody dropped


def test_the_package_holds_no_message_data_no_key_and_no_pseudonym(exported) -> None:
    demo, pkg = exported
    files = [p for p in pkg.rglob("*") if p.is_file()]
    names = {p.relative_to(pkg).as_posix() for p in files}
    assert not any(n.startswith(("secrets", "data/messages", "data/escrow", "data/runs"))
                   or n.endswith(("directory.parquet", "optouts.txt")) for n in names)
    study_ids = set(read_messages(demo.study.messages_dir, columns=["mailbox"])["mailbox"])
    for p in files:
        blob = p.read_bytes()
        found = {m.decode() for m in PSEUDONYM.findall(blob)}
        assert not found & study_ids, p  # nothing joins the package to the study's tables
    people = pd.read_parquet(pkg / "data" / "people.parquet")
    assert not any("date" in c or c in ("sender", "to", "cc") for c in people.columns)
    toml = (pkg / "study.toml").read_text(encoding="utf-8")
    assert "@" not in toml and "sources" not in toml and "mailboxes" not in toml
    assert "aliases" not in toml and "[collect]" not in toml and "[directory]" not in toml


def test_an_insider_holding_a_mailbox_links_no_pseudonym(exported) -> None:
    demo, pkg = exported
    # The insider holds one colleague's whole mailbox: every correspondent's address, and
    # the exact dates and sizes of every message. In the study, those dates find the rows
    # and their pseudonyms; in the package there is nothing to match them against.
    owner = sorted(demo.council.mailboxes.iterdir())[0]
    raw = b"".join(f.read_bytes() for f in owner.rglob("*") if f.is_file())
    dates = set(re.findall(rb"^Date: (.+)$", raw, re.M))
    assert dates
    blobs = b"".join(p.read_bytes() for p in pkg.rglob("*") if p.is_file())
    ps = demo.study.pseudonymiser()
    correspondents = {ps.person(a.decode().lower()) for a in
                      re.findall(rb"[\w.+-]+@" + re.escape(demo.council.domain.encode()), raw)}
    assert correspondents
    assert not any(c.encode() in blobs for c in correspondents)
    assert not any(d.strip() in blobs for d in dates)


def test_personas_on_the_package_are_the_personas_of_the_study(exported) -> None:
    demo, pkg = exported
    full_model, _ = run_personas(demo.study, k="auto", n_boot=10, pdf=False)
    package = open_study(pkg)
    pkg_model, _ = run_personas(package, k="auto", n_boot=10, pdf=False)
    ps = demo.study.pseudonymiser()
    full = full_model.assignments.assign(person=lambda d: d["person"].map(
        lambda p: ps.digest("analyst", p)))
    j = full.merge(pkg_model.assignments, on="person", suffixes=("_full", "_pkg"))
    assert len(j) == len(full)
    assert adjusted_rand_score(j["persona_full"], j["persona_pkg"]) >= 0.95


def test_generalisation_keeps_features_and_every_group_at_k() -> None:
    rows = [{"person": f"p{i:016x}", "level": lvl, "level_rank": r, "direction": d,
             "service": s, "roles": roles, "work_pattern": "standard", "sent_per_day": i}
            for i, (lvl, r, d, s, roles) in enumerate(
                [("DGS", 0, "DG", "", ["pilote"])] +
                [("agent", 6, "DRH", f"S{i % 3}", []) for i in range(30)] +
                [("directeur", 2, f"D{i % 4}", "", ["arbitre"] if i == 0 else [])
                 for i in range(12)])]
    people = pd.DataFrame(rows)
    g = generalise(people, 10)
    assert g.suppressed_rows == 0 and g.smallest_group >= 10
    assert list(g.table["sent_per_day"]) == list(people["sent_per_day"])
    assert "pilote" not in {r for rs in g.table["roles"] for r in rs}


COUNT_COLUMNS = ("n_people", "population", "known", "in_directory", "collected", "profiled")


def _small_counts(frame: pd.DataFrame, k: int) -> list[tuple[str, float]]:
    bad = []
    for col in COUNT_COLUMNS:
        if col in frame:
            values = pd.to_numeric(frame[col], errors="coerce").dropna()
            bad += [(col, v) for v in values if 0 < v < k]
    return bad


def test_no_released_file_describes_a_group_below_the_threshold(exported) -> None:
    demo, pkg = exported
    k = demo.study.min_group_size
    found = {}
    for root in (demo.study.out, pkg / "out"):
        for csv in root.rglob("*.csv"):
            if "named" in csv.parts:
                continue
            sep = ";" if csv.read_bytes().startswith(b"\xef\xbb\xbf") else ","
            bad = _small_counts(pd.read_csv(csv, sep=sep, encoding="utf-8-sig"), k)
            if bad:
                found[str(csv)] = bad
        for js in root.rglob("*.json"):
            data = json.loads(js.read_text(encoding="utf-8"))
            tables = [data.get(key) for key in ("coverage_by_direction", "coverage_by_level")
                      if isinstance(data, dict)]
            tables += [data.get("personas")] if isinstance(data, dict) else []
            for t in tables:
                if isinstance(t, list) and t:
                    frame = pd.DataFrame(t).rename(columns={"size": "n_people"})
                    if bad := _small_counts(frame, k):
                        found[str(js)] = bad
    panel = read_csv(demo.study.catalog.path("panel"))
    assert list(panel.columns) == ["person", "seat", "role"]  # no per-invitee strata
    assert found == {}
