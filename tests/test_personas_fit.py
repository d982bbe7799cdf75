"""Personas: clustering, choice of k, stability, merging, determinism, words (no rendering)."""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
import pytest
from peoplekit import synthetic_people  # tests/ is on sys.path (rootdir conftest)
from sklearn.metrics import adjusted_rand_score

from mailstudy import personas as P
from mailstudy import schema

N_BOOT = 10  # tests only; the default (asserted below) is 50


@pytest.fixture(scope="module")
def planted() -> tuple[pd.DataFrame, np.ndarray, P.PersonaModel]:
    people, truth = synthetic_people(300, groups=4, seed=11)
    return people, truth, P.fit_personas(people, n_boot=N_BOOT, seed=5)


def test_default_bootstrap_is_50() -> None:
    assert inspect.signature(P.fit_personas).parameters["n_boot"].default == 50


@pytest.mark.parametrize("seed", [11, 12])
def test_recovers_planted_groups_and_k(seed: int) -> None:
    people, truth = synthetic_people(300, groups=4, seed=seed)
    m = P.fit_personas(people, k="auto", k_range=(3, 8), n_boot=N_BOOT, seed=seed)
    assert m.k == 4
    assert m.card["k_chosen"] == 4
    assert m.structure_ok and m.warnings == []
    a = m.assignments.set_index("person").loc[people.person, "persona"].to_numpy()
    assert adjusted_rand_score(truth, a) >= 0.8
    d = m.diagnostics.set_index("k")
    assert list(d.index) == [3, 4, 5, 6, 7, 8]
    assert d.loc[4, "stability_p10"] >= P.STABILITY_P10_MIN
    assert d.loc[4, "silhouette"] == d.silhouette.max()  # both criteria agree here


def test_recovers_five_groups() -> None:
    people, truth = synthetic_people(400, groups=5, seed=3)
    m = P.fit_personas(people, n_boot=N_BOOT, seed=3)
    assert m.k == 5
    assert adjusted_rand_score(truth, m.assignments.persona) >= 0.8


def test_same_seed_same_personas_whatever_the_cores(planted) -> None:
    people, _, m1 = planted
    m2 = P.fit_personas(people, n_boot=N_BOOT, seed=5, n_jobs=1)
    pd.testing.assert_frame_equal(m1.assignments, m2.assignments)
    assert m1.card == m2.card
    pd.testing.assert_frame_equal(m1.diagnostics, m2.diagnostics)


def test_assignments_contract_and_card(planted) -> None:
    people, _, m = planted
    a = schema.check(m.assignments, "personas", extra_ok=False)
    assert len(a) == len(people) and set(a.person) == set(people.person)
    card = m.card
    for key in ("k", "silhouette", "stability_median", "stability_p10", "jaccard", "sizes",
                "features_used", "transforms", "diagnostics"):
        assert key in card
    assert sum(card["sizes"].values()) == len(people)
    assert set(card["jaccard"]) == set(card["sizes"])
    assert all(v >= P.JACCARD_TARGET for v in card["jaccard"].values())
    # Persona 1 is the largest.
    sizes = [card["sizes"][str(i)] for i in range(1, m.k + 1)]
    assert sizes == sorted(sizes, reverse=True)


def test_noise_is_flagged() -> None:
    people, _ = synthetic_people(300, groups=1, seed=4)
    m = P.fit_personas(people, n_boot=N_BOOT, seed=4)
    assert not m.structure_ok
    assert "structure stable" in m.warnings[0]
    assert m.card["structure_ok"] is False
    en = P.fit_personas(people, k=4, n_boot=N_BOOT, seed=4, lang="en")
    assert not en.structure_ok and en.warnings[0].startswith("No stable structure")


def test_small_persona_is_merged() -> None:
    people, truth = synthetic_people(300, groups=5, seed=2, sizes=[0.3, 0.3, 0.2, 0.17, 0.03])
    assert (truth == 4).sum() < P.min_persona_size(300, 10)
    m = P.fit_personas(people, k=5, n_boot=N_BOOT, seed=2, min_group_size=10)
    assert m.card["k_chosen"] == 5
    assert m.card["merged_small_clusters"] == 1
    assert m.k == 4
    assert min(m.card["sizes"].values()) >= P.min_persona_size(300, 10)
    assert any("fusionné" in w for w in m.warnings)


def test_merge_small_moves_members_to_nearest() -> None:
    X = np.array([[0.0], [0.1], [0.2], [10.0], [10.1], [10.2], [9.0], [0.5]])
    labels = np.array([0, 0, 0, 1, 1, 1, 2, 2])
    out, merged = P.merge_small(X, labels, threshold=3)
    assert merged == 1
    assert out.tolist() == [0, 0, 0, 1, 1, 1, 1, 0]


def test_transforms_drop_constant_and_mostly_missing() -> None:
    people, _ = synthetic_people(120, groups=2, seed=1)
    people["forward_rate"] = 0.1
    people.loc[people.index[:80], "reply_delay_h"] = np.nan
    prep = P.prepare_features(people)
    assert prep.dropped == {"forward_rate": "constant",
                            "reply_delay_h": "missing for more than half the people"}
    assert prep.X.shape == (120, len(schema.FEATURE_NAMES) - 2)
    assert np.abs(prep.X).max() <= P.CLIP
    assert prep.transforms["sent_per_day"].startswith("log1p")
    assert not prep.transforms["cc_share"].startswith("log1p")


def test_too_few_people_is_an_error() -> None:
    people, _ = synthetic_people(15, groups=1, seed=1)
    with pytest.raises(P.PersonaError, match="too few"):
        P.fit_personas(people, n_boot=2)


def test_descriptions_follow_the_rules(planted) -> None:
    _, _, m = planted
    d = m.descriptions
    assert len(d) == m.k and d.name.is_unique
    for r in d.itertuples():
        assert 3 <= len(r.behaviours) <= 5
        assert 1 <= len(r.goals) <= 3 and 1 <= len(r.frustrations) <= 3
        assert len(r.key_figures) == 3
        assert all(abs(t["z"]) >= P.TRAIT_Z for t in r.traits)
        assert r.name.startswith(r.first_name + ", ")
    # The planted after-hours group is named after it.
    night = d[d.traits.map(lambda ts: ts[0]["feature"] in
                           {"after_hours_share", "weekend_share", "workday_span_h",
                            "mobile_share"})]
    assert len(night) == 1
    assert m.profiles.loc[int(night.persona.iloc[0]), "after_hours_share"] > 0.5


def test_suppression_hides_small_and_complementary_cells() -> None:
    tab = pd.DataFrame([[30, 4, 20], [25, 15, 12], [40, 18, 11]],
                       index=[1, 2, 3], columns=["a", "b", "c"])
    hide = P.suppress_cells(tab, 10).to_numpy()
    assert hide[0, 1]
    for line in list(hide) + list(hide.T):
        assert line.sum() != 1  # a lone hidden cell would be recovered by subtraction
    assert hide.sum() >= 4 and not hide.all()


def test_composition_never_names_a_hidden_group(planted) -> None:
    people, _, m = planted
    for r in m.descriptions.itertuples():
        for comp in (r.composition_level, r.composition_direction):
            assert all(c["n"] >= 10 for c in comp["shown"])
            assert comp["other_n"] is None or comp["other_n"] >= 10
    # "Direction générale" holds ~2% of 300 people: never shown in any persona.
    shown = {c["group"] for r in m.descriptions.itertuples()
             for c in r.composition_level["shown"]}
    assert "Direction générale" not in shown


def test_week_grid_from_messages() -> None:
    msgs = pd.DataFrame({
        "mailbox": ["pa", "pa", "pb", "pb", "pc"],
        "direction": ["sent", "received", "sent", "sent", "sent"],
        "date_local": pd.to_datetime(["2026-11-23 09:10", "2026-11-23 10:00",
                                      "2026-11-23 09:50", "2026-11-28 22:05",
                                      "2026-11-24 08:00"]),
    })
    a = pd.DataFrame({"person": ["pa", "pb"], "persona": [1, 1], "persona_name": ["x", "x"]})
    g = P.week_grid_from_messages(msgs, a)
    assert g.to_dict(orient="records") == [
        {"persona": 1, "weekday": 0, "hour": 9, "n": 2},
        {"persona": 1, "weekday": 5, "hour": 22, "n": 1}]
    s = P.week_shares(g, 1)
    assert s is not None and s[0][9] == pytest.approx(2 / 3) and s[5][22] == pytest.approx(1 / 3)
    assert P.week_shares(g, 2) is None


def test_assignment_without_refit_and_card_round_trip(planted, tmp_path) -> None:
    import json

    people, _, m = planted
    again = P.assign_personas(m, people)
    assert again.persona.tolist() == m.assignments.persona.tolist()
    assert again.persona_name.tolist() == m.assignments.persona_name.tolist()
    path = tmp_path / "model.json"
    path.write_text(json.dumps(m.card), encoding="utf-8")
    card = P.read_card(path)
    assert P.FeatureTransform.from_dict(card["transform"]) == m.transform
    assert np.array_equal(m.transform.transform(people), P.prepare_features(people).X)
    assert P.assign_personas(card, people).persona.tolist() == m.assignments.persona.tolist()
