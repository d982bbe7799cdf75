"""End to end: two real campaigns of the synthetic council, the second made with
``mailstudy init --follow-up``, compared with ``mailstudy compare`` (real CLI, real files).

The second campaign reads the same mailboxes but four (people who left): everyone else has the
same mail, hence the same features, so nothing may be flagged, the persona drift is zero,
and the four departures are only counted.
"""

from __future__ import annotations

import json
import os
import stat
import tomllib
from pathlib import Path

import pandas as pd
from studykit import make_study, run_cli

from mailstudy.collect.run import collect_files
from mailstudy.demo.council import generate_council
from mailstudy.intake.directory import import_directory
from mailstudy.optout import load_optouts
from mailstudy.personas.run import run_personas
from mailstudy.profile.run import run_profile
from mailstudy.report import run_report
from mailstudy.study import open_study
from mailstudy.tabular import read_csv


def _campaign(study, boxes: list[Path], directory: Path, personas: bool) -> None:
    collect_files(study, boxes, workers=2)
    import_directory(study, directory)
    run_profile(study, charts=False)
    if personas:
        run_personas(study, k="auto", n_boot=10, pdf=False)


def test_follow_up_campaign_compared_end_to_end(tmp_path: Path) -> None:
    council = generate_council(tmp_path / "council", n_agents=60, weeks=3, seed=5)
    first, _ = make_study(tmp_path / "a", domains=(council.domain,),
                          partners=tuple(council.partner_domains))
    (first.root / "study.toml").write_text(
        (first.root / "study.toml").read_text().replace("min_group_size = 10",
                                                        "min_group_size = 5"))
    first = open_study(first.root)
    from mailstudy.optout import add_optouts

    add_optouts(first, ["nobody.here@" + council.domain])
    boxes = sorted(council.mailboxes.iterdir())
    _campaign(first, boxes, council.directory_csv, personas=True)

    second_dir = tmp_path / "b" / "study"
    r = run_cli("init", str(second_dir), "--follow-up", str(first.root))
    assert r.returncode == 0, r.stderr
    second = open_study(second_dir)
    assert second.key() == first.key() and second.min_group_size == 5
    assert stat.S_IMODE(os.stat(second.key_path).st_mode) == 0o600
    assert second.keyholder_recipient() == first.keyholder_recipient()
    assert len(load_optouts(second)) == 1
    link = tomllib.loads((second_dir / "study.toml").read_text())["follow_up"]
    assert link["first_campaign"] == str(first.root.resolve()) and len(link["key_id"]) == 16
    again = run_cli("init", str(second_dir), "--follow-up", str(first.root))
    assert again.returncode == 2 and "already holds a study" in again.stderr

    _campaign(second, boxes[4:], council.directory_csv, personas=False)
    r = run_cli("compare", str(first.root), str(second_dir), "--lang", "fr",
                "--resamples", "200")
    assert r.returncode == 0, r.stderr
    assert "departures: 4" in r.stdout

    out = second.catalog.path("compare")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["linked"] and summary["bootstrap"] == "paired over people"
    assert summary["turnover"]["departures"] == 4 and summary["turnover"]["arrivals"] == 0
    assert summary["drift"]["drift_share"] == 0
    d = read_csv(out / "differences.csv")
    assert list(d.columns[:9]) == ["group_by", "group", "feature", "n_people", "before",
                                   "after", "difference", "ci_low", "ci_high"]
    assert set(d["group_by"]) >= {"organisation", "level", "direction", "habit", "persona"}
    assert not d["significant"].any()
    shown = d[~d["suppressed"]]
    assert len(shown) and (shown["n_before"] >= 5).all() and (shown["n_after"] >= 5).all()
    for name in ("differences", "persona_shares", "persona_flows"):
        assert (out / f"{name}.csv").exists() and (out / f"{name}.xlsx").exists()
    xlsx = pd.read_excel(out / "differences.xlsx")
    assert "Écart" in xlsx.columns and "Part hors horaires" in set(xlsx["Indicateur"])
    # No pseudonym of a person leaves in the comparison.
    people = set(first.catalog.read_table("people")["person"])
    text = "".join(p.read_text(encoding="utf-8") for p in out.glob("*.csv")) + \
        (out / "summary.json").read_text()
    assert not any(p in text for p in people)
    # The release ledger records the comparison's tables.
    ledger = json.loads((second.catalog.path("releases") / "open.json").read_text())
    assert {"compare/differences", "compare/persona_flows"} <= set(ledger["tables"])

    paths = run_report(second, "fr", pdf=False)
    html = paths["html"].read_text(encoding="utf-8")
    assert "Ce qui a changé depuis la première campagne" in html
    assert "Saisons et congés" in html and "<svg" in html


def test_unlinked_studies_compare_at_group_level(tmp_path: Path) -> None:
    # Two independent studies (each its own key): no pseudonym in common, unpaired bootstrap.
    council = generate_council(tmp_path / "council", n_agents=40, weeks=2, seed=8)
    studies = []
    for name in ("a", "b"):
        s, _ = make_study(tmp_path / name, domains=(council.domain,),
                          partners=tuple(council.partner_domains))
        cfg = s.root / "study.toml"
        cfg.write_text(cfg.read_text().replace("min_group_size = 10", "min_group_size = 5")
                       .replace("min_active_days = 10", "min_active_days = 5"))
        s = open_study(s.root)
        _campaign(s, sorted(council.mailboxes.iterdir()), council.directory_csv, False)
        studies.append(s)
    from mailstudy.pipeline import compare_campaigns

    out = compare_campaigns(studies[0].root, studies[1].root, n_boot=100, lang="en")
    s = out["summary"]
    assert not s["linked"] and s["bootstrap"] == "unpaired" and s["turnover"] is None
    d = read_csv(out["paths"]["differences"])
    org = d[d["group_by"] == "organisation"]
    assert (org["difference"] == 0).all() and d["share_rose"].isna().all()
    assert not (studies[1].catalog.path("compare") / "persona_flows.csv").exists()
