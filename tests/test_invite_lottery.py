"""The fair lottery on tables: constraints in every panel, probabilities, reserves, messages."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mailstudy import invite as I
from mailstudy.invite import distribution

ROLE_CHOICES = [["juridique"], ["informatique"], ["expert"], ["créatif"], ["pilote"],
                ["animateur"], ["arbitre"]]


def people(n: int, seed: int = 0, n_services: int = 12, role_share: float = 0.35
           ) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    dirs = rng.choice(["DRH", "DSI", "DFIN", "DEDU"], n, p=[0.4, 0.3, 0.2, 0.1])
    svc = [f"{d}-s{rng.integers(n_services // 4)}" for d in dirs]
    roles = [list(ROLE_CHOICES[rng.integers(len(ROLE_CHOICES))]) if rng.random() < role_share
             else [] for _ in range(n)]
    pp = pd.DataFrame({
        "person": [f"p{i:016x}" for i in range(n)],
        "level": rng.choice(["direction", "encadrement", "agent"], n, p=[0.1, 0.3, 0.6]),
        "direction": dirs, "service": svc, "roles": roles})
    pe = pd.DataFrame({"person": pp["person"], "persona": rng.integers(1, 4, n),
                       "persona_name": rng.choice(["Vigie", "Archiviste", "Nomade"], n,
                                                  p=[0.5, 0.3, 0.2])})
    return pp, pe


def check_composition(lot: I.Lottery) -> None:
    """Every panel of the distribution meets size, quotas, role seats and the service rule."""
    plan, tab = lot.plan, lot.types.table
    counts = tab[I.plan.COUNT].to_numpy()
    assert abs(lot.weights.sum() - 1) < 1e-9 and (lot.weights > 0).all()
    for n, y in lot.compositions:
        assert n.sum() == plan.size and (n >= 0).all() and (n <= counts).all()
        for q in plan.quotas:
            k = n[(tab[q.feature].astype(str) == q.value).to_numpy()].sum()
            assert q.min <= k <= q.max, q
        for f, need in plan.seats.items():
            assert sum(v for (t, ff), v in y.items() if ff == f) == need
        for t in range(len(n)):
            held = sum(v for (tt, _), v in y.items() if tt == t)
            assert held <= n[t]
            for (tt, f) in y:
                if tt == t:
                    assert f in tab["families"].iloc[t].split(I.SEP)
        if plan.one_per_service:
            per = pd.Series(n, index=tab[I.plan.GROUP]).groupby(level=0).sum()
            per = per.drop(I.UNKNOWN, errors="ignore")
            assert (per <= 1).all()


def check_panel(panel: pd.DataFrame, pool: pd.DataFrame, plan: I.Plan) -> None:
    assert len(panel) == plan.size and panel["person"].is_unique
    full = panel[["person", "role"]].merge(pool, on="person")
    assert len(full) == plan.size and full["available"].all()
    for q in plan.quotas:
        assert q.min <= (full[q.feature] == q.value).sum() <= q.max
    for f, need in plan.seats.items():
        holders = full[full["role"] == f]
        assert len(holders) == need
        assert all(f in fam.split(I.SEP) for fam in holders["families"])
    if plan.one_per_service:
        assert full["service"][full["service"] != I.UNKNOWN].is_unique


@pytest.fixture(scope="module")
def case() -> tuple[pd.DataFrame, I.Plan, I.Lottery]:
    pp, pe = people(160, seed=3, n_services=48)
    pool = I.build_pool(pp, pe)
    plan = I.Plan(10, I.derive_quotas(pool, 10, margin=1))
    return pool, plan, I.find_distribution(pool, plan)


def test_role_vocabulary_maps_directory_roles_to_families() -> None:
    assert I.role_families(["Juridique", "expert"]) == "fabricants;regards différents"
    assert I.role_families(["chef_de_projet"]) == "pilote"
    assert I.role_families(["comptable"]) == ""
    assert I.role_families(["budget"], {"fabricants": ("budget",)}) == "fabricants"


def test_quotas_follow_population_shares_with_margin() -> None:
    pop = pd.DataFrame({"level": ["a"] * 50 + ["b"] * 30 + ["c"] * 20})
    qs = {q.value: (q.min, q.max) for q in I.derive_quotas(pop, 10, ["level"], margin=1)}
    assert qs == {"a": (4, 6), "b": (2, 4), "c": (1, 3)}
    over = I.derive_quotas(pop, 10, ["level"], overrides={"level": {"c": [0, 1]}})
    assert {q.value: (q.min, q.max) for q in over}["c"] == (0, 1)


def test_every_panel_of_the_distribution_meets_the_plan(case) -> None:
    pool, plan, lot = case
    assert lot.stats["optimal"]
    check_composition(lot)
    for seed in range(30):
        check_panel(I.draw_panel(lot, pool, seed), pool, plan)


def test_maximin_is_optimal_against_the_library() -> None:
    """Same pool and quotas, no roles or service rule: the library's person-level maximin
    cannot beat ours (it stops within 5e-4 of its optimum, hence the tolerance)."""
    sa = pytest.importorskip("sortition_algorithms")
    from sortition_algorithms.committee_generation import find_distribution_maximin
    from sortition_algorithms.features import FeatureValueMinMax
    from sortition_algorithms.people import People

    pp, pe = people(45, seed=5)
    pool = I.build_pool(pp, pe)
    quotas = I.derive_quotas(pool, 6, margin=0)
    plan = I.Plan(6, quotas, seats={}, one_per_service=False)
    ours = I.find_distribution(pool, plan)
    feats: dict = {}
    for q in quotas:
        feats.setdefault(q.feature, {})[q.value] = FeatureValueMinMax(min=q.min, max=q.max)
    lib_people = People([])
    for i, r in enumerate(pool.itertuples()):
        lib_people.add(r.person, {f: str(getattr(r, f)) for f in feats}, feats, i)
    committees, probs, _ = find_distribution_maximin(feats, lib_people, 6, [])
    pp_lib = pd.Series(0.0, index=pool["person"])
    for c, p in zip(committees, probs, strict=True):
        pp_lib[list(c)] += p
    assert sa is not None
    assert ours.min_probability >= pp_lib.min() - 1e-3
    assert ours.min_probability < 6 / 45  # quotas bind: the test is not trivial


def test_probabilities_match_draw_frequencies() -> None:
    pp, pe = people(40, seed=11, role_share=0.0)
    pool = I.build_pool(pp, pe)
    # Over-represent the few 'direction' people so that probabilities differ.
    quotas = [q if (q.feature, q.value) != ("level", "direction")
              else I.Quota("level", "direction", 2, 2) for q in I.derive_quotas(pool, 6)]
    plan = I.Plan(6, quotas, seats={}, one_per_service=False)
    lot = I.find_distribution(pool, plan)
    p = lot.person_probability
    assert p.max() - p.min() > 0.02
    draws = 4000
    rng = np.random.default_rng(2026)
    freq = pd.Series(0, index=p.index)
    for _ in range(draws):
        for person, _role in I.sample(lot, rng):
            freq[person] += 1
    sd = np.sqrt(p * (1 - p) / draws)
    z = ((freq / draws - p) / sd.clip(lower=1e-9)).abs()
    assert z.max() < 4.5, z.sort_values().tail()


def test_opted_out_people_are_never_drawn() -> None:
    pp, pe = people(120, seed=4)
    opted = set(pp["person"].iloc[::3])
    pool = I.build_pool(pp, pe, optouts=opted)
    assert not set(pool["person"]) & opted
    plan = I.Plan(8, I.derive_quotas(pool, 8))
    lot = I.find_distribution(pool, plan)
    assert not set(lot.person_probability.index) & opted
    for seed in range(20):
        panel = I.draw_panel(lot, pool, seed)
        assert not set(panel["person"]) & opted
        assert not set(I.pick_reserves(panel, pool, lot, seed)["person"]) & opted


def test_volunteers_without_mail_join_as_not_profiled() -> None:
    pp, pe = people(30, seed=1)
    directory = pd.DataFrame({"person": ["pvolunteer000001", "pother0000000002"],
                              "level": ["agent", "agent"], "direction": ["DSI", "DSI"],
                              "service": ["DSI-x", "DSI-y"], "roles": [["pilote"], []]})
    pool = I.build_pool(pp, pe, directory, volunteers=["pvolunteer000001", pp.person[0]])
    row = pool.set_index("person").loc["pvolunteer000001"]
    assert row["persona"] == I.NOT_PROFILED and row["families"] == "pilote"
    assert row["volunteer"] and pool.set_index("person").loc[pp.person[0], "volunteer"]
    assert "pother0000000002" not in set(pool["person"])  # not a volunteer, no mail


def test_only_people_available_for_every_session_are_drawn() -> None:
    pp, pe = people(200, seed=8)
    rng = np.random.default_rng(0)
    answered = pp["person"].iloc[:170]
    av = pd.DataFrame({"person": answered, "s1": rng.random(170) < 0.9,
                       "s2": rng.random(170) < 0.9})
    pool = I.build_pool(pp, pe, availability=av, sessions=["s1", "s2"])
    ok = set(av["person"][av["s1"] & av["s2"]])
    assert set(pool["person"][pool["available"]]) == ok
    plan = I.Plan(8, I.derive_quotas(pool, 8, margin=2))
    lot = I.find_distribution(pool, plan)
    assert set(lot.person_probability.index) <= ok
    for seed in range(10):
        assert set(I.draw_panel(lot, pool, seed)["person"]) <= ok


def test_infeasible_role_seat_names_it_and_its_relaxation() -> None:
    pp, pe = people(80, seed=2)
    pp["roles"] = [[r for r in x if r != "pilote"] for x in pp["roles"]]
    pool = I.build_pool(pp, pe)
    plan = I.Plan(8, I.derive_quotas(pool, 8))
    with pytest.raises(I.InfeasibleError) as e:
        I.find_distribution(pool, plan)
    msg = str(e.value)
    assert "role seats 'pilote': 1 needed, 0 eligible" in msg
    assert "drop the role seats 'pilote'" in e.value.relaxations


def test_infeasible_quota_names_the_feature_and_value() -> None:
    pp, pe = people(80, seed=2, role_share=0.0)
    pool = I.build_pool(pp, pe)
    quotas = [q if not (q.feature == "level" and q.value == "direction")
              else I.Quota("level", "direction", 5, 6) for q in I.derive_quotas(pool, 8)]
    plan = I.Plan(8, quotas, seats={}, one_per_service=True)
    with pytest.raises(I.InfeasibleError) as e:
        I.find_distribution(pool, plan)
    assert "widen the quotas on level" in e.value.relaxations
    assert "widen only level=direction (now 5..6)" in e.value.relaxations
    assert "quotas on level sum to 9..16, panel has 8 seats" in str(e.value)


def test_infeasible_service_rule_is_named() -> None:
    pp, pe = people(80, seed=2, n_services=4)  # one service per direction: 4 services
    pool = I.build_pool(pp, pe)
    plan = I.Plan(6, I.derive_quotas(pool, 6, margin=6), seats={})
    with pytest.raises(I.InfeasibleError) as e:
        I.find_distribution(pool, plan)
    assert e.value.relaxations == ["allow several invitees per service"]


def test_same_seed_same_panel_and_reserves() -> None:
    pp, pe = people(150, seed=6)
    pool = I.build_pool(pp, pe)
    plan = I.Plan(10, I.derive_quotas(pool, 10))
    a, b = I.invite(pool, plan, 42), I.invite(pool, plan, 42)
    pd.testing.assert_frame_equal(a.panel, b.panel)
    pd.testing.assert_frame_equal(a.reserves, b.reserves)
    assert a.lottery.digest == b.lottery.digest and len(a.lottery.digest) == 64
    others = {tuple(I.draw_panel(a.lottery, pool, s)["person"]) for s in range(1, 6)}
    assert len(others) > 1


def test_reserves_keep_the_plan_and_prefer_the_same_stratum(case) -> None:
    pool, plan, lot = case
    panel = I.draw_panel(lot, pool, 9)
    res = I.pick_reserves(panel, pool, lot, 9, per_seat=3)
    assert list(res.columns) == [*I.PANEL_COLUMNS, "rank"]
    assert res["person"].is_unique and not set(res["person"]) & set(panel["person"])
    assert set(res["person"]) <= set(pool["person"][pool["available"]])
    by = pool.set_index("person")
    taken = set(panel["person"]) | set(res["person"])

    def diff(a: str, b: str) -> int:
        return sum(by.at[a, f] != by.at[b, f] for f in plan.features)

    def fits(i: int, person: str) -> bool:
        swapped = panel.copy()
        swapped.loc[i, "person"] = person
        try:
            check_panel(swapped, pool, plan)
        except AssertionError:
            return False
        return True

    for r in res.itertuples():
        i = int(np.flatnonzero(panel["seat"] == r.seat)[0])
        assert fits(i, r.person)
        d = diff(r.person, panel.loc[i, "person"])
        # nobody left over was closer to the seat holder's stratum and fit the seat
        closer = [c for c in by.index[by["available"]] if c not in taken
                  and diff(c, panel.loc[i, "person"]) < d]
        assert not [c for c in closer if fits(i, c)]
    first = res[res["rank"] == 1]
    assert len(first) == len(panel)


def test_fairness_figures() -> None:
    p = pd.Series([0.1, 0.1, 0.1, 0.1])
    f = I.fairness(p, 1)
    assert f["min_over_equal_share"] == pytest.approx(0.4) and f["gini"] == pytest.approx(0)
    f = I.fairness(pd.Series([0.0, 0.0, 0.5, 0.5]), 1)
    assert f["gini"] == pytest.approx(0.5) and f["share_below_equal_share"] == 0.5


def test_composition_suppresses_small_groups(case) -> None:
    pool, plan, lot = case
    panel = I.draw_panel(lot, pool, 1)
    comp, k = I.composition(panel, pool, plan.features, 20)
    small = comp.merge(pool["level"].value_counts().rename("n"), left_on="value",
                       right_index=True)
    assert k > 0
    shown = comp[comp["population"].notna()]
    assert (shown["population"] >= 20).all()
    # no feature has exactly one hidden cell (it could be recovered from the total)
    hidden = comp[comp["population"].isna()].groupby("feature").size()
    assert (hidden != 1).all()
    assert len(small) >= 1


def test_why_says_seat_or_strata_and_probability(case) -> None:
    pool, _, lot = case
    panel = I.draw_panel(lot, pool, 3)
    why = I.explain(panel, "fr")
    seat = why[why["role"] == "pilote"].iloc[0]["why"]
    assert "siège de rôle « pilote »" in seat and "%" in seat
    user = why[why["role"] == I.USAGERS].iloc[0]["why"]
    assert user.startswith("strate persona=")
    assert I.explain(panel, "en")["why"].iloc[-1].startswith("stratum ")


def test_time_limit_returns_a_valid_lottery_and_says_it_is_not_proven() -> None:
    pp, pe = people(160, seed=3, n_services=48)
    pool = I.build_pool(pp, pe)
    plan = I.Plan(10, I.derive_quotas(pool, 10, margin=1))
    lot = I.find_distribution(pool, plan, time_limit=0.0)
    assert not lot.stats["optimal"]
    assert lot.stats["upper_bound"] >= lot.min_probability
    check_composition(lot)


def test_warm_start_for_many_types_reaches_the_same_optimum(case, monkeypatch) -> None:
    pool, plan, lot = case
    # force the multiplicative-weights warm start
    monkeypatch.setattr(distribution, "WARM_TYPES", 0)
    warm = I.find_distribution(pool, plan)
    assert warm.stats["optimal"]
    assert warm.min_probability == pytest.approx(lot.min_probability, abs=1e-9)
    check_composition(warm)
