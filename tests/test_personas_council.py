"""End to end on the synthetic council: its four latent behaviours come back as the personas.

synth -> collect files -> directory import -> profile -> personas, all real (files on disk,
the real key, the real escrow). 120 agents: with 60 (15 per behaviour) the prediction strength on
30-person halves is noisy and the structure flag flipped with the random key (row order).
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
from sklearn.metrics import adjusted_rand_score
from studykit import make_study  # tests/ is on sys.path (rootdir conftest)

from mailstudy.collect.run import collect_files
from mailstudy.demo.council import BEHAVIOURS, SIX_BEHAVIOURS, generate_council
from mailstudy.intake.directory import import_directory
from mailstudy.personas.run import run_personas
from mailstudy.profile.run import run_profile


def test_personas_recover_the_council_behaviours(tmp_path: Path) -> None:
    council = generate_council(tmp_path / "council", n_agents=120, weeks=3, seed=5)
    study, _ = make_study(tmp_path / "s", domains=(council.domain,),
                          partners=tuple(council.partner_domains))
    collect_files(study, sorted(council.mailboxes.iterdir()), workers=2)
    import_directory(study, council.directory_csv)
    run_profile(study, charts=False)
    model, paths = run_personas(study, k="auto", n_boot=20, pdf=False)

    gt = pd.read_csv(council.ground_truth_csv)
    ps = study.pseudonymiser()
    gt["person"] = [ps.person(a) for a in gt.address]
    j = gt.merge(model.assignments, on="person")
    assert len(j) == len(gt)
    assert model.k == len(BEHAVIOURS)
    assert model.structure_ok
    assert adjusted_rand_score(j.behaviour, j.persona) >= 0.8
    # The typical week was computed from the collected messages.
    assert len(list((paths["html"].parent / "charts").glob("*week*"))) == model.k
    # No address, display name or pseudonym of a person in the sheets.
    html = paths["html"].read_text(encoding="utf-8")
    assert not re.search(r"p[0-9a-f]{16}", html)
    lowered = html.lower()
    assert not any(a.lower() in lowered for a in council.addresses)
    names = {n for n in council.names if len(n) > 6}
    assert not any(n in html for n in names)


def test_council_from_a_behaviour_table(tmp_path: Path) -> None:
    """The generator takes a behaviour table: its rows, in their shares, are the truth."""
    council = generate_council(tmp_path / "six", n_agents=40, weeks=1, seed=2,
                               behaviours=SIX_BEHAVIOURS, spread=0.35)
    assert council.behaviours == [name for name, _, _ in SIX_BEHAVIOURS]
    gt = pd.read_csv(council.ground_truth_csv)
    counts = gt.behaviour.value_counts()
    assert set(counts.index) == set(council.behaviours)
    for name, _, share in SIX_BEHAVIOURS:
        assert abs(counts[name] - share * len(gt)) <= 2, name
    # Same seed without spread: the same agents hold the same behaviours.
    plain = generate_council(tmp_path / "plain", n_agents=40, weeks=1, seed=2,
                             behaviours=SIX_BEHAVIOURS)
    assert pd.read_csv(plain.ground_truth_csv).equals(gt)
    assert plain.n_messages != council.n_messages  # the spread changed the traffic
