"""mailstudy panel: leximin on any pool, the published list of panels, verification."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mailstudy import invite as I
from mailstudy.invite.transparent import lottery_hash, uniform_lottery, verify
from mailstudy.pipeline.panel import panel_lottery, plan_from_tables, run_panel, verify_panel

FEATURES = {"gender": ["F", "M"], "age": ["young", "mid", "old"], "area": ["N", "S", "E"]}


def pool(n: int, seed: int, features: dict[str, list[str]] = FEATURES) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"person": [f"r{i:03d}" for i in range(n)]})
    for f, vals in features.items():
        p = rng.dirichlet(np.ones(len(vals)) * 2)
        df[f] = rng.choice(vals, n, p=p)
    return df


def categories(people: pd.DataFrame, k: int, margin: int = 0) -> pd.DataFrame:
    qs = I.derive_quotas(people, k, [c for c in people.columns if c != "person"], margin)
    return pd.DataFrame([(q.feature, q.value, q.min, q.max) for q in qs],
                        columns=["feature", "value", "min", "max"])


def feasible_panels(people: pd.DataFrame, plan: I.Plan) -> list[tuple[int, ...]]:
    out = []
    for combo in itertools.combinations(range(len(people)), plan.size):
        sub = people.iloc[list(combo)]
        if all(q.min <= int((sub[q.feature] == q.value).sum()) <= q.max for q in plan.quotas):
            out.append(combo)
    return out


def brute_leximin(people: pd.DataFrame, plan: I.Plan) -> np.ndarray:
    """Leximin over every feasible panel of people (not types), level by level with scipy-free
    HiGHS LPs: the reference the engine must equal."""
    import highspy

    panels = feasible_panels(people, plan)
    n, m = len(people), len(panels)
    a = np.zeros((n, m))
    for j, c in enumerate(panels):
        a[list(c), j] = 1
    reach = a.sum(axis=1) > 0
    fixed = np.full(n, np.nan)
    fixed[~reach] = 0.0
    while np.isnan(fixed).any():
        free = np.flatnonzero(np.isnan(fixed))
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("threads", 1)  # as the engine: HiGHS keeps one scheduler a process
        h.changeObjectiveSense(highspy.ObjSense.kMaximize)
        h.addVars(m + 1, np.zeros(m + 1), np.ones(m + 1))
        h.changeColCost(m, 1.0)
        h.addRow(1, 1, m, np.arange(m, dtype=np.int32), np.ones(m))
        for i in range(n):
            idx = np.flatnonzero(a[i]).astype(np.int32)
            if i in free:
                h.addRow(0, highspy.kHighsInf, len(idx) + 1, np.append(idx, m).astype(np.int32),
                         np.append(np.ones(len(idx)), -1.0))
            elif reach[i]:
                h.addRow(fixed[i] - 1e-9, highspy.kHighsInf, len(idx), idx, np.ones(len(idx)))
        h.run()
        z = h.getSolution().col_value[m]
        # fix every free person who cannot rise above z (one LP each: the reference is slow
        # and simple on purpose)
        for i in free:
            g = highspy.Highs()
            g.passModel(h.getModel())
            g.setOptionValue("output_flag", False)
            g.setOptionValue("threads", 1)
            g.changeColBounds(m, z - 1e-9, z - 1e-9)
            g.changeColCost(m, 0.0)
            g.changeColsCost(m, np.arange(m, dtype=np.int32), a[i])
            g.run()
            if g.getInfo().objective_function_value <= z + 1e-7:
                fixed[i] = z
    return fixed


def test_leximin_equals_brute_force_on_small_pools() -> None:
    """Quotas with a floor of one seat per value over-represent small groups, so the leximin
    vector has several levels (not everyone at size/pool)."""
    levels = 0
    for seed in (0, 2, 4, 6):
        people = pool(13, seed)
        cats = categories(people, 5)
        cats[["min", "max"]] = cats[["min", "max"]].clip(lower=1)
        plan = plan_from_tables(cats, 5)
        ref = brute_leximin(people, plan)
        levels = max(levels, len(np.unique(ref.round(6))))
        lot = I.find_distribution(people, plan, algorithm="leximin")
        got = lot.person_probability.reindex(people["person"]).to_numpy()
        assert np.allclose(np.sort(got), np.sort(ref), atol=1e-5), seed
        assert np.allclose(got, ref, atol=1e-5), seed  # leximin is unique per person here
        mm = I.find_distribution(people, plan, algorithm="maximin")
        assert mm.min_probability == pytest.approx(ref.min(), abs=1e-6)
    assert levels >= 3  # the instances do exercise several leximin levels


def test_panels_meet_quotas_and_probabilities_sum_to_k() -> None:
    people = pool(300, 7)
    cats = categories(people, 15)
    plan = plan_from_tables(cats, 15)
    for alg in I.ALGORITHMS:
        lot = I.find_distribution(people, plan, algorithm=alg)
        tab = lot.types.table
        for n, _ in lot.compositions:
            assert n.sum() == 15
            for q in plan.quotas:
                assert q.min <= n[(tab[q.feature] == q.value).to_numpy()].sum() <= q.max
        assert lot.person_probability.sum() == pytest.approx(15, abs=1e-6)
        assert lot.stats["optimal"]


def test_monte_carlo_draws_match_the_marginals() -> None:
    people = pool(120, 3)
    plan = plan_from_tables(categories(people, 10, margin=1), 10)
    lot = I.find_distribution(people, plan)
    rng = np.random.default_rng(11)
    draws = 8000
    seen = pd.Series(0, index=lot.person_probability.index)
    for _ in range(draws):
        seen[[p for p, _ in I.sample(lot, rng)]] += 1
    p = lot.person_probability
    sd = np.sqrt(p * (1 - p) / draws)
    assert ((seen / draws - p).abs() <= 5 * sd + 1e-9).all()


def test_leximin_lifts_people_maximin_leaves_at_the_minimum() -> None:
    people = pool(200, 5)
    plan = plan_from_tables(categories(people, 12, margin=1), 12)
    lex = I.find_distribution(people, plan, algorithm="leximin").person_probability
    mm = I.find_distribution(people, plan, algorithm="legacy").person_probability
    assert lex.min() == pytest.approx(mm.min(), abs=1e-6)
    # leximin's sorted vector dominates lexicographically
    a, b = np.sort(lex.to_numpy()), np.sort(mm.to_numpy())
    diff = np.flatnonzero(np.abs(a - b) > 1e-6)
    assert not len(diff) or a[diff[0]] > b[diff[0]]


@pytest.mark.parametrize("name", ["service", "count", "families"])
def test_a_feature_named_like_an_internal_column_is_just_data(name: str) -> None:
    people = pool(60, 2, {"gender": ["F", "M"], name: ["a", "b", "c"]})
    cats = categories(people, 6)
    res = panel_lottery(people, cats, 6, seed=3)
    drawn = people.set_index("person").loc[res.panel["person"]]
    for r in cats.itertuples():
        assert r.min <= int((drawn[r.feature] == r.value).sum()) <= r.max
    assert res.probabilities["probability"].sum() == pytest.approx(6, abs=1e-6)


def test_one_per_service_is_keyed_by_direction_and_service() -> None:
    """Each of 6 directions has 'Pôle A', 'Pôle B', 'Pôle C': 18 distinct services, so a
    panel of 16 with one invitee per service exists."""
    rows = [(f"p{d}{s}{i}", f"D{d}", f"Pôle {s}")
            for d in range(6) for s in "ABC" for i in range(3)]
    people = pd.DataFrame(rows, columns=["person", "direction", "service"])
    plan = I.Plan(16, [], seats={}, one_per_service=True)
    lot = I.find_distribution(people, plan)
    assert lot.person_probability.sum() == pytest.approx(16, abs=1e-6)
    key = people.set_index("person")
    for _ in range(20):
        drawn = key.loc[[p for p, _ in I.sample(lot, np.random.default_rng(_))]]
        assert not drawn.duplicated(["direction", "service"]).any()
    with pytest.raises(I.InfeasibleError):
        I.find_distribution(people, I.Plan(19, [], seats={}, one_per_service=True))


def test_a_column_named_service_does_not_switch_the_rule_on() -> None:
    people = pd.DataFrame({"person": [f"p{i}" for i in range(12)],
                           "gender": ["F", "M"] * 6, "service": ["same"] * 12})
    plan = plan_from_tables(pd.DataFrame({"feature": ["gender"] * 2, "value": ["F", "M"],
                                          "min": [2, 2], "max": [2, 2]}), 4)
    lot = I.find_distribution(people, plan)  # one-per-service would make 4 seats impossible
    assert lot.person_probability.sum() == pytest.approx(4, abs=1e-6)


def test_published_panels_reproduce_the_drawn_panel_and_tampering_is_caught() -> None:
    people = pool(90, 4)
    res = panel_lottery(people, categories(people, 8), 8, seed=5, panels=200)
    uni = res.uniform
    assert uni.table["panel"].nunique() == 200
    assert uni.probability.sum() == pytest.approx(8)
    assert uni.loss == pytest.approx(res.fairness["min_probability"] - uni.min_probability)
    ok = verify(uni.table, res.number, uni.sha256, res.panel)
    assert ok.ok, ok.problems
    assert set(ok.panel["person"]) == set(res.panel["person"])
    tampered = uni.table.copy()
    i = tampered.index[tampered["panel"] == res.number][0]
    tampered.loc[i, "person"] = "r999"
    assert lottery_hash(tampered) != uni.sha256
    bad = verify(tampered, res.number, uni.sha256, res.panel)
    assert not bad.ok and any("sha256" in p for p in bad.problems)
    other = verify(uni.table, res.number % 200 + 1, uni.sha256, res.panel)
    assert not other.ok


def test_rounded_lottery_keeps_probabilities_close() -> None:
    people = pool(150, 9)
    plan = plan_from_tables(categories(people, 10, margin=1), 10)
    lot = I.find_distribution(people, plan)
    uni = uniform_lottery(lot, 1000, seed=1)
    gap = (uni.probability - lot.person_probability).abs().max()
    assert gap < 0.05
    sizes = uni.table.groupby("panel").size()
    assert (sizes == 10).all()


def test_command_on_files_french_headers_xlsx_and_verify(tmp_path: Path) -> None:
    from studykit import run_cli

    people = pool(80, 6)
    cats = categories(people, 8)
    resp = people.rename(columns={"person": "identifiant"})
    resp.to_excel(tmp_path / "répondants.xlsx", index=False)
    cats.rename(columns={"feature": "caractéristique", "value": "valeur"}).to_csv(
        tmp_path / "catégories.csv", sep=";", index=False, encoding="cp1252")
    out = tmp_path / "out"
    r = run_cli(*["panel", "--respondents", str(tmp_path / "répondants.xlsx"), "--categories",
                 str(tmp_path / "catégories.csv"), "--size", "8", "--seed", "2",
                 "--out", str(out), "--panels", "100"])
    assert r.returncode == 0, r.stderr
    for name in ("probabilities.csv", "panel.csv", "lottery.csv", "fairness.json",
                 "distribution.json", "lottery.json"):
        assert (out / name).is_file(), name
    prob = pd.read_csv(out / "probabilities.csv")
    assert list(prob.columns[:2]) == ["id", "probability"]
    assert prob["probability"].sum() == pytest.approx(8, abs=1e-4)
    import json

    number = json.loads((out / "fairness.json").read_text())["panel_number"]
    good = run_cli(*["panel", "verify", "--lottery", str(out / "lottery.csv"), "--number",
                    str(number), "--sha256", str(out / "lottery.json"), "--panel",
                    str(out / "panel.csv")])
    assert good.returncode == 0 and "verified" in good.stdout
    lines = (out / "lottery.csv").read_text().splitlines()
    a = next(i for i, x in enumerate(lines) if x.startswith(f"{number},"))
    lines[a] = lines[a].replace(lines[a].split(",")[2], "r079" if "r079" not in lines[a]
                                else "r078")
    (out / "lottery.csv").write_text("\n".join(lines) + "\n")
    bad = run_cli(*["panel", "verify", "--lottery", str(out / "lottery.csv"), "--number",
                   str(number), "--sha256", str(out / "lottery.json")])
    assert bad.returncode == 1 and "NOT VERIFIED" in bad.stdout
    assert not verify_panel(out / "lottery.csv", number, str(out / "lottery.json")).ok


def test_bad_files_give_clear_errors(tmp_path: Path) -> None:
    from studykit import run_cli

    (tmp_path / "c.csv").write_text("feature,value,min,max\ngender,F,3,2\n")
    (tmp_path / "r.csv").write_text("id,gender\n1,F\n")
    r = run_cli(*["panel", "--respondents", str(tmp_path / "r.csv"), "--categories",
                 str(tmp_path / "c.csv"), "--size", "1", "--out", str(tmp_path / "o")])
    assert r.returncode == 2 and "line 2: min is above max" in r.stderr
    assert "Traceback" not in r.stderr
    (tmp_path / "c.csv").write_text("feature,value,min,max\ngender,F,0,1\n")
    with pytest.raises(I.InviteError, match="size"):
        run_panel(tmp_path / "r.csv", tmp_path / "c.csv", 0)


def test_a_plain_pool_with_the_workshop_plan_says_what_to_change() -> None:
    """Was ``KeyError: 'families'``: the workshop's default role seats on a pool without
    roles now name the parameter to change."""
    people = pool(40, 1)
    qs = [I.Quota(r.feature, r.value, r.min, r.max) for r in categories(people, 5).itertuples()]
    with pytest.raises(I.InviteError, match="plan.seats"):
        I.find_distribution(people, I.Plan(5, qs))
    with pytest.raises(I.InviteError, match="plan.one_per_service"):
        I.find_distribution(people, I.Plan(5, qs, seats={}))
    lot = I.find_distribution(people, I.Plan(5, qs, seats={}, one_per_service=False))
    assert lot.person_probability.sum() == pytest.approx(5, abs=1e-6)
