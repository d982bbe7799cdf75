"""Choosing k: generated councils of 3, 4, 6 and 8 distinct behaviours of unequal sizes (each
person's parameters spread +-35% around the behaviour's, then measured with campaign noise)
give back their number of behaviours, as well as KMeans told the true k does, whatever the
seed; a council without structure says so. Fits use fewer resamples than the default to stay
quick; the rule is the default one (``k_range`` 2..10)."""

from __future__ import annotations

import numpy as np
import pytest
from peoplekit import council_people, unequal_shares  # tests/ is on sys.path (rootdir conftest)
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score

from mailstudy import personas as P
from mailstudy.personas.choose import choose_k

FAST = {"n_boot": 8, "n_split": 4, "n_jobs": 1}
COUNCILS = {3: 200, 4: 240, 6: 300, 8: 320}  # behaviours -> people
_fits: dict[tuple[int, int], tuple[P.PersonaModel, np.ndarray, np.ndarray]] = {}


def fitted(n_behaviours: int, seed: int) -> tuple[P.PersonaModel, np.ndarray, np.ndarray]:
    """The model of one council (people drawn with seed 1) fitted with ``seed``, the truth
    in row order, and the persona of each row."""
    key = (n_behaviours, seed)
    if key not in _fits:
        people, truth = council_people(n_behaviours, COUNCILS.get(n_behaviours, 300), seed=1)
        model = P.fit_personas(people, k="auto", seed=seed, **FAST)
        persona = model.assignments.set_index("person").loc[people.person, "persona"]
        _fits[key] = (model, truth, persona.to_numpy())
    return _fits[key]


def test_the_councils_are_unequal() -> None:
    shares = unequal_shares(6)
    assert 0.09 < shares.min() < 0.1 and 0.23 < shares.max() < 0.25
    _, truth = council_people(6, 300, seed=1)
    counts = np.bincount(truth)
    assert counts.max() >= 2.4 * counts.min()


@pytest.mark.parametrize("n_behaviours", sorted(COUNCILS))
def test_auto_finds_the_behaviours(n_behaviours: int) -> None:
    model, truth, persona = fitted(n_behaviours, seed=5)
    tolerance = 1 if n_behaviours >= 8 else 0
    assert abs(model.k - n_behaviours) <= tolerance
    assert model.structure_ok
    X = P.prepare_features(council_people(n_behaviours, COUNCILS[n_behaviours], seed=1)[0]).X
    told = KMeans(n_clusters=n_behaviours, n_init=10, random_state=0).fit(X).labels_
    assert adjusted_rand_score(truth, persona) >= adjusted_rand_score(truth, told) - 0.02
    # Why k was chosen, with every candidate's figures.
    card = model.card
    assert card["k_choice"]["chosen"] == card["k_chosen"]
    assert [c["k"] for c in card["k_choice"]["candidates"]] == list(range(2, 11))
    for c in card["k_choice"]["candidates"]:
        for key in ("silhouette", "stability_median", "stability_p10", "prediction_strength",
                    "verdict"):
            assert key in c
    assert card["k_reason"].startswith(f"k = {card['k_chosen']}")
    bigger = [c for c in card["k_choice"]["candidates"] if c["k"] > card["k_chosen"]]
    assert all(c["verdict"] != "admissible" for c in bigger)


@pytest.mark.parametrize("n_behaviours", sorted(COUNCILS))
def test_chosen_k_does_not_depend_on_the_seed(n_behaviours: int) -> None:
    assert fitted(n_behaviours, seed=5)[0].k == fitted(n_behaviours, seed=6)[0].k


def test_no_structure_is_said() -> None:
    people, _ = council_people(1, 300, seed=1)
    model = P.fit_personas(people, k="auto", seed=5, **FAST)
    assert not model.structure_ok
    assert model.warnings[0].startswith("Pas de structure stable")
    assert "pas de structure stable" in model.card["k_reason"]
    assert max(c["prediction_strength"] for c in model.card["k_choice"]["candidates"]) \
        < P.PS_MIN


def test_forced_k_and_bounded_range() -> None:
    people, _ = council_people(6, 300, seed=1)
    forced = P.fit_personas(people, k=4, seed=5, lang="en", **FAST)
    assert forced.card["k_chosen"] == 4 and forced.card["k_mode"] == "fixed"
    assert forced.card["k_reason"].startswith("k = 4 forced")
    assert [c["k"] for c in forced.card["diagnostics"]] == [4]
    bounded = P.fit_personas(people, k="auto", k_range=(3, 5), seed=5, **FAST)
    assert bounded.card["k_range"] == [3, 5]
    assert 3 <= bounded.card["k_chosen"] <= 5
    with pytest.raises(P.PersonaError, match="k_range"):
        P.fit_personas(people, k="auto", k_range=(5, 3), **FAST)


def test_largest_admissible_k_wins() -> None:
    import pandas as pd

    d = pd.DataFrame({"k": [2, 3, 4, 5], "silhouette": [0.5, 0.4, 0.3, 0.2],
                      "stability_median": [1.0, 1.0, 0.9, 0.7],
                      "stability_p10": [1.0, 0.95, 0.8, 0.6],
                      "prediction_strength": [1.0, 0.9, 0.85, 0.9]})
    choice = choose_k(d)
    assert choice.k == 4 and choice.structure_ok  # k=5: median stability 0.7 < 0.8
    assert "median stability 0.70" in choice.verdicts[5]
    assert choice.verdicts[3] == "admissible"  # a smaller admissible k does not win
    weak = d.assign(prediction_strength=[0.6, 0.7, 0.5, 0.4])
    none = choose_k(weak)
    assert none.k == 3 and not none.structure_ok
