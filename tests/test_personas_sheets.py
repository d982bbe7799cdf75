"""Persona sheets and the ``mailstudy personas`` command: real HTML, real PDFs (WeasyPrint),
checked with poppler's pdfinfo/pdftotext."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from peoplekit import synthetic_people  # tests/ is on sys.path (rootdir conftest)
from typer.testing import CliRunner

from mailstudy import personas as P
from mailstudy import schema
from mailstudy.catalog import Catalog
from mailstudy.cli import app
from mailstudy.study import init_study

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None,
                                reason="poppler-utils (pdfinfo, pdftotext) not installed")
N_BOOT = 8


def pdf_pages(path: Path) -> int:
    out = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True)
    return int(re.search(r"^Pages:\s+(\d+)", out.stdout, re.M).group(1))


def pdf_text(path: Path) -> str:
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True,
                         text=True, check=True)
    return " ".join(out.stdout.split())


def week_grid(k: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = [(p, d, h, int(rng.poisson(20 if d < 5 and 8 <= h < 18 else 1)))
            for p in range(1, k + 1) for d in range(7) for h in range(24)]
    return pd.DataFrame(rows, columns=["persona", "weekday", "hour", "n"])


@pytest.fixture(scope="module")
def model() -> tuple[pd.DataFrame, P.PersonaModel]:
    people, _ = synthetic_people(240, groups=4, seed=21)
    return people, P.fit_personas(people, n_boot=N_BOOT, seed=21)


@pytest.fixture(scope="module")
def rendered(model, tmp_path_factory) -> tuple[Path, dict[str, Path]]:
    _, m = model
    tmp = tmp_path_factory.mktemp("sheets")
    return tmp, P.write_outputs(m, Catalog(tmp), week_grid(m.k), 10)


def test_pdf_renders_one_page_per_persona_plus_overview(model, rendered) -> None:
    people, m = model
    tmp, paths = rendered
    assert pdf_pages(paths["pdf"]) == m.k + 1
    text = pdf_text(paths["pdf"])
    for name in m.descriptions.name:
        assert name in text
    assert "Vue d'ensemble" in text and "Comportements" in text and "Semaine type" in text
    html = paths["html"].read_text(encoding="utf-8")
    assert html.count('class="page sheet"') == m.k
    assert "@page" in html and "size: A4" in html
    assert "<svg class=\"avatar\"" in html and "<img src=\"http" not in html
    for i in range(1, m.k + 1):
        assert (tmp / "out" / "personas" / "charts" / f"persona-{i}-week.svg").exists()
        assert (tmp / "out" / "personas" / "charts" / f"persona-{i}-profile.svg").exists()
    # The assignments follow their contract, where the catalogue puts them.
    assert paths["assignments"] == Catalog(tmp).path("personas")
    assert paths["card"] == Catalog(tmp).path("persona_model")
    t = pq.read_table(paths["assignments"])
    assert t.schema.equals(schema.arrow_schema("personas"))
    assert t.num_rows == len(people)
    card = json.loads(paths["card"].read_text(encoding="utf-8"))
    assert card["k"] == m.k and card["n_boot"] == N_BOOT


def test_no_person_identifier_in_sheets(model, rendered) -> None:
    people, m = model
    tmp, paths = rendered
    texts = {"html": paths["html"].read_text(encoding="utf-8"), "pdf": pdf_text(paths["pdf"]),
             "card": paths["card"].read_text(encoding="utf-8")}
    charts = tmp / "out" / "personas" / "charts"
    texts["svg"] = "".join(f.read_text() for f in charts.glob("*.svg"))
    for kind, text in texts.items():
        assert not re.search(r"p[0-9a-f]{16}", text), kind
        assert not any(p in text for p in people.person), kind


def test_week_chart_omitted_with_a_note(model, tmp_path: Path) -> None:
    _, m = model
    paths = P.write_outputs(m, Catalog(tmp_path), None, 10, pdf=False)
    html = paths["html"].read_text(encoding="utf-8")
    assert html.count("Semaine type non disponible") == m.k + 1
    assert not list((tmp_path / "out" / "personas" / "charts").glob("*week*"))
    # A grid that lacks a persona: its page says so instead of drawing an empty week.
    grid = week_grid(m.k)
    paths = P.write_outputs(m, Catalog(tmp_path), grid[grid.persona != 2], 10, pdf=False)
    html = paths["html"].read_text(encoding="utf-8")
    assert html.count("Aucun envoi daté pour ce persona.") == 1
    assert len(list((tmp_path / "out" / "personas" / "charts").glob("*week*"))) == m.k - 1


def test_sheets_refuse_to_carry_a_pseudonym(model, tmp_path: Path) -> None:
    people, m = model
    bad = P.PersonaModel(m.assignments, m.descriptions.copy(), m.profiles, m.card,
                         m.diagnostics, m.lang)
    bad.descriptions.loc[0, "tagline"] = f"« {people.person.iloc[3]} »"
    with pytest.raises(P.PersonaError, match="identifier"):
        P.write_outputs(bad, Catalog(tmp_path), None, 10, pdf=False)
    assert not (tmp_path / "out" / "personas" / "personas.html").exists()


def test_english_sheets_and_noise_warning(tmp_path: Path) -> None:
    people, _ = synthetic_people(200, groups=1, seed=8)
    m = P.fit_personas(people, k=3, n_boot=N_BOOT, seed=8, lang="en")
    paths = P.write_outputs(m, Catalog(tmp_path), None, 10, pdf=False)
    html = paths["html"].read_text(encoding="utf-8")
    assert '<html lang="en">' in html
    assert "Overview" in html and "Behaviours" in html and "Key figures" in html
    # The warning is on the overview and on every persona page.
    assert html.count("No stable structure") == m.k + 1
    assert "Comportements" not in html


def _study_with_people(tmp_path: Path, people: pd.DataFrame) -> Path:
    study = init_study(tmp_path / "study", ["region.test"])
    table = pa.Table.from_pandas(people[schema.names("people")],
                                 schema=schema.arrow_schema("people"), preserve_index=False)
    pq.write_table(table, study.data / "people.parquet")
    return study.root


def _run_cli(tmp_path: Path, *options: str) -> tuple[pd.DataFrame, np.ndarray, Path, str, dict]:
    """``mailstudy personas`` on a study of 240 people in four planted groups: the people, the
    truth, the study root, the command's output and the model card it wrote."""
    people, truth = synthetic_people(240, groups=4, seed=31)
    root = _study_with_people(tmp_path, people)
    res = CliRunner().invoke(app, ["personas", "--study", str(root), *options, "--seed", "3"])
    assert res.exit_code == 0, res.output
    card = json.loads((root / "out" / "personas" / "model.json").read_text())
    return people, truth, root, res.output, card


def test_cli_personas_auto(tmp_path: Path) -> None:
    people, truth, root, output, card = _run_cli(tmp_path, "--k", "auto")
    assert "personas: 4" in output
    a = pd.read_parquet(root / "data" / "personas.parquet")
    got = a.set_index("person").loc[people.person, "persona"].to_numpy()
    from sklearn.metrics import adjusted_rand_score

    assert adjusted_rand_score(truth, got) >= 0.8
    assert card["n_boot"] == 50 and card["seed"] == 3 and card["k_range"] == [2, 10]
    assert card["k_reason"].startswith("k = 4")
    assert "why: k = 4" in output and "prediction strength" in output
    assert pdf_pages(root / "out" / "personas" / "personas.pdf") == 5


def test_cli_personas_errors(tmp_path: Path) -> None:
    study = init_study(tmp_path / "s", ["region.test"])
    r = CliRunner().invoke(app, ["personas", "--study", str(study.root)])
    assert r.exit_code == 2 and "people.parquet" in r.output
    r = CliRunner().invoke(app, ["personas", "--study", str(study.root), "--k", "lots"])
    assert r.exit_code == 2 and "--k" in r.output
    for bad in ("8..3", "3-8", "1..4"):
        r = CliRunner().invoke(app, ["personas", "--study", str(study.root), "--k-range", bad])
        assert r.exit_code == 2 and "--k-range" in r.output, bad


def test_cli_personas_k_range_bounds_the_search(tmp_path: Path) -> None:
    card = _run_cli(tmp_path, "--k-range", "2..3")[4]
    assert card["k_range"] == [2, 3] and card["k_chosen"] <= 3
    assert [d["k"] for d in card["diagnostics"]] == [2, 3]


def test_sheets_read_well(model, rendered) -> None:
    """The visual details the issue lists: a legend on the week heat map, "écart réduit"
    explained, no composition box that can only say "others 100 %", no two personas with
    the same frustration, decimal commas on the charts."""
    _, m = model
    _, paths = rendered
    html = paths["html"].read_text(encoding="utf-8")
    text = pdf_text(paths["pdf"])
    assert "Écart réduit : écart du persona à la moyenne de l'organisation" in text
    out = paths["html"].parent
    week = (out / "charts" / "persona-1-week.svg").read_text(encoding="utf-8")
    assert week.count('id="axes_') >= 2  # the legend is a colour bar: a second axes
    boxes = re.findall(r'<div class="comp">\s*<h4>([^<]+)</h4>\s*<table>(.*?)</table>',
                       html, re.S)
    for _title, rows in boxes:
        assert re.search(r"<tr><td>", rows), _title  # every box shown details a group
    frus = [f for _, r in m.descriptions.iterrows() for f in r["frustrations"]]
    assert len(frus) == len(set(frus)), frus
    assert "plupart des messages" not in html


def test_a_direction_box_with_nothing_publishable_is_left_out(model, tmp_path: Path) -> None:
    from reports.personas import build_sheets

    _, m = model
    ctx = P.sheet_context(m, week_grid(m.k), 10)
    everyone_pooled = {"shown": [], "n_hidden": 5, "other_n": ctx["personas"][0]["size"],
                       "other_share": 1.0}
    ctx["personas"][0]["composition_direction"] = everyone_pooled
    html = build_sheets(ctx, tmp_path)
    first = html.split('class="page sheet', 2)[1]
    assert "Par direction" not in first and "Autres (petits effectifs regroupés)" not in first
    assert "Aucune direction ne compte assez de membres de ce persona (au moins 10)" in first
    second = html.split('class="page sheet', 3)[2]
    assert "Par direction" in second
