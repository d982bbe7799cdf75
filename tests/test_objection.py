"""A late objection, against an adversary: the DGS objects after a first report.

One demo council is shared by the module: its first release (report included) is kept, the
DGS objects with the real command, ``mailstudy run`` issues the second release. Then:
nothing in the study names her pseudonym any more, and comparing the two releases teaches
nothing about her (no cell moved by 1 to k-1 people).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from studykit import run_cli

from mailstudy.demo import run_demo
from mailstudy.study import open_study
from mailstudy.tabular import read_csv


def _dgs(directory_csv: Path) -> str:
    d = pd.read_csv(directory_csv, sep=";", encoding="cp1252")
    title = d["Intitulé de poste"].str.lower()
    return str(d.loc[title.str.contains("générale des services"), "Courriel"].iloc[0]).lower()


@pytest.fixture(scope="module")
def objected(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("objection")
    demo = run_demo(root / "d", agents=40, weeks=2, seed=3, imap=False)
    assert demo.run.ok
    study = demo.study
    first = root / "release1"
    shutil.copytree(study.out, first, ignore=shutil.ignore_patterns("named"))
    # the demo closed its releases (the report, then the report re-rendered after the reveal)
    released = len(list(study.catalog.path("releases").glob("release-*.json")))
    address = _dgs(demo.council.directory_csv)
    person = study.pseudonymiser().person(address)
    people = study.catalog.read_table("people")
    assert person in set(people["person"])  # she was profiled in the first release
    r = run_cli("optout", "add", address, study=study.root)
    assert r.returncode == 0, r.stderr
    assert "removed:" in r.stdout and address not in r.stdout + r.stderr
    r = run_cli("run", study=study.root)
    assert r.returncode == 0, r.stdout + r.stderr
    return open_study(study.root), first, person, address, released


def _strings(path: Path) -> list[str]:
    table = pq.read_table(path)
    out = []
    for col in table.columns:
        for v in col.to_pylist():
            out += [str(x) for x in v] if isinstance(v, list) else [str(v)]
    return out


def test_after_a_late_objection_her_pseudonym_is_in_no_byte(objected) -> None:
    study, _, person, address, _ = objected
    for path in [*study.data.rglob("*"), *study.out.rglob("*")]:
        if not path.is_file():
            continue
        assert person not in str(path)
        blob = path.read_bytes()
        assert person.encode() not in blob, path
        assert address.encode() not in blob, path
        if path.suffix == ".parquet":
            assert not any(person in s for s in _strings(path)), path
    listed = study.catalog.path("optouts").read_text()
    assert person not in listed and len(listed.split()) >= 1
    assert "p" not in {w[0] for w in listed.split()}  # hashes only, no pseudonym


def _cells(out: Path) -> dict[tuple[str, str], float | None]:
    """Every released count a reader can see, keyed by (file, group)."""
    cells: dict[tuple[str, str], float | None] = {}
    for csv in sorted((out / "profiles").glob("by_*.csv")):
        t = read_csv(csv)
        dims = list(t.columns[: list(t.columns).index("n_people")])
        for rec in t.to_dict("records"):
            n = None if rec.get("suppressed") is True else rec["n_people"]
            cells[(csv.name, "|".join(str(rec[d]) for d in dims))] = n
    scope = json.loads((out / "report" / "scope.json").read_text())
    for key in ("coverage_by_direction", "coverage_by_level"):
        for rec in scope[key]:
            g = rec.get("direction", rec.get("level"))
            cells[(key, str(g))] = None if rec["suppressed"] else rec["known"]
    cells[("scope", "message_rows")] = scope["message_rows"]
    for key in ("mailboxes", "people_known", "profiled"):
        cells[("scope", key)] = scope[key]
    model = json.loads((out / "personas" / "model.json").read_text())
    for p in model.get("personas", []):
        cells[("personas", str(p.get("persona")))] = p.get("size")
    return cells


def test_two_releases_around_her_objection_teach_nothing_about_her(objected) -> None:
    study, first, _, _, released = objected
    k = study.min_group_size
    before, after = _cells(first), _cells(study.out)
    moved = []
    for key in set(before) | set(after):
        a, b = before.get(key), after.get(key)
        if a is None and b is None:
            continue
        if (a is None) != (b is None) or 1 <= abs((a or 0) - (b or 0)) <= k - 1:
            moved.append((key, a, b))
    assert moved == []
    # Her messages are not counted out either: the totals of the first release stand.
    assert before[("scope", "message_rows")] == after[("scope", "message_rows")]
    assert len(list(study.catalog.path("releases").glob("release-*.json"))) == released + 1
