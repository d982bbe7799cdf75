"""``mailstudy panel``: a fair lottery on any pool in the Sortition Foundation's formats,
without a study, and ``mailstudy panel verify``.

Why in the pipeline layer: the files are read by the ``panel`` stage and the lottery is
``invite``'s engine; stages never import each other, so the function joining them lives here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from mailstudy.invite import InviteError, Plan, Quota, find_distribution, gini
from mailstudy.invite.fairness import fairness
from mailstudy.invite.transparent import (
    DEFAULT_PANELS,
    UniformLottery,
    Verification,
    draw_number,
    panel_number,
    uniform_lottery,
    verify,
)
from mailstudy.panel import read_categories, read_respondents, read_table

OUTPUTS = ("probabilities.csv", "panel.csv", "lottery.csv", "lottery.json", "distribution.json",
           "fairness.json")


@dataclass
class PanelResult:
    panel: pd.DataFrame  # seat, person, role
    probabilities: pd.DataFrame  # id, probability, published_list_probability
    fairness: dict[str, Any]
    uniform: UniformLottery
    number: int
    out: Path | None


def plan_from_tables(categories: pd.DataFrame, size: int) -> Plan:
    """The plan of a plain pool: quotas only (no role seats, no one-per-service rule: rules
    come from the plan, never from a column's name)."""
    quotas = [Quota(str(r.feature), str(r.value), int(r.min), int(r.max))
              for r in categories.itertuples()]
    return Plan(int(size), quotas, seats={}, one_per_service=False)


def panel_lottery(people: pd.DataFrame, categories: pd.DataFrame, size: int, *,
                  algorithm: str = "leximin", seed: int = 1, panels: int = DEFAULT_PANELS,
                  number: int | None = None, time_limit: float | None = None) -> PanelResult:
    """On tables: the lottery, its rounding to ``panels`` published panels, the panel drawn
    (``number``, a public draw's result, else a seeded draw)."""
    if size < 1:
        raise InviteError("size must be at least 1")
    if time_limit is not None and not time_limit > 0:
        raise InviteError("time_limit must be a number of seconds above 0")
    plan = plan_from_tables(categories, size)
    lot = find_distribution(people, plan, algorithm=algorithm, time_limit=time_limit)
    uni = uniform_lottery(lot, panels, seed)
    num = int(number) if number is not None else draw_number(panels, seed)
    drawn = panel_number(uni.table, num)
    prob = pd.DataFrame({"id": people["person"].astype(str)})
    prob["probability"] = prob["id"].map(lot.person_probability).fillna(0.0)
    prob["published_list_probability"] = prob["id"].map(uni.probability).fillna(0.0)
    fair = fairness(prob.set_index("id")["probability"], size) | {
        "algorithm": algorithm, "seed": seed, "panels_published": panels, "panel_number": num,
        "number_from": "given" if number is not None else "seeded draw",
        "published_list_sha256": uni.sha256, "distribution_sha256": lot.digest,
        "published_list_min_probability": uni.min_probability,
        "published_list_loss": uni.loss,
        "published_list_gini": gini(prob["published_list_probability"]),
        **{f"solver_{k}": v for k, v in lot.stats.items()}}
    result = PanelResult(drawn, prob, fair, uni, num, None)
    result.fairness["_distribution"] = _distribution(lot)
    return result


def _distribution(lot: Any) -> dict[str, Any]:
    return {"sha256": lot.digest, "types": lot.types.members,
            "panels": [{"counts": [int(x) for x in n], "probability": float(w)}
                       for (n, _), w in zip(lot.compositions, lot.weights, strict=True)]}


def unmatched_values(people: pd.DataFrame, categories: pd.DataFrame) -> dict[str, Any]:
    """What the two files do not agree on, counted for the user (a typo such as ``Femme``
    for ``F`` leaves a quota without people and people without a quota): the listed values no
    respondent has, and per feature the respondents whose value is not listed."""
    listed = categories.groupby("feature")["value"].apply(set).to_dict()
    absent = [f"{f}={v}" for f, vals in listed.items() for v in sorted(vals)
              if v not in set(people[f])]
    unlisted = {f: int((~people[f].isin(vals)).sum()) for f, vals in listed.items()}
    return {"values_without_respondents": absent,
            "respondents_with_unlisted_value": {f: n for f, n in unlisted.items() if n}}


def run_panel(respondents: Path | str, categories: Path | str, size: int, *,
              algorithm: str = "leximin", seed: int = 1, out: Path | str = "panel",
              panels: int = DEFAULT_PANELS, number: int | None = None,
              time_limit: float | None = None) -> PanelResult:
    """`mailstudy panel`: read the two files, draw, write ``OUTPUTS`` into ``out``."""
    from mailstudy.tabular import write_csv

    cats = read_categories(categories)
    people = read_respondents(respondents, list(dict.fromkeys(cats["feature"])))
    res = panel_lottery(people, cats, size, algorithm=algorithm, seed=seed, panels=panels,
                        number=number, time_limit=time_limit)
    res.fairness.update(unmatched_values(people, cats))
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    dist = res.fairness.pop("_distribution")
    write_csv(res.probabilities, folder / "probabilities.csv")
    write_csv(res.panel, folder / "panel.csv")
    write_csv(res.uniform.table, folder / "lottery.csv")
    announce = {"panels": panels, "sha256": res.uniform.sha256, "seed": seed,
                "how_to_verify": "mailstudy panel verify --lottery lottery.csv --number N "
                "--sha256 <this sha256> --panel panel.csv"}
    (folder / "lottery.json").write_text(json.dumps(announce, indent=2), encoding="utf-8")
    (folder / "distribution.json").write_text(json.dumps(dist), encoding="utf-8")
    (folder / "fairness.json").write_text(json.dumps(res.fairness, indent=2, default=str),
                                          encoding="utf-8")
    res.out = folder
    return res


def verify_panel(lottery: Path | str, number: int, sha256: str | None = None,
                 panel: Path | str | None = None) -> Verification:
    """`mailstudy panel verify`: the panel that the published list and the drawn number give,
    checked against the announced hash (a string, or the lottery.json written with the list)
    and the announced panel file."""
    table = read_table(lottery)
    sha256 = _announced_hash(sha256)
    missing = [c for c in ("panel", "seat", "person", "role") if c not in table.columns]
    if missing:
        raise InviteError("lottery: no column {missing} (is it the published "
                          "list lottery.csv?)", missing=", ".join(missing))
    table["panel"] = pd.to_numeric(table["panel"], errors="coerce")
    if table["panel"].isna().any():
        raise InviteError("lottery: the panel column must hold panel numbers")
    announced = read_table(panel) if panel is not None else None
    if announced is not None:
        lacks = [c for c in ("person", "role") if c not in announced.columns]
        if lacks:
            raise InviteError("panel: no column {lacks} (is it the announced "
                              "panel.csv?)", lacks=", ".join(lacks))
    return verify(table, number, sha256, announced)


def _announced_hash(sha256: str | None) -> str | None:
    """The hash itself, or read from the lottery.json written with the list."""
    if sha256 is None or not sha256.strip().lower().endswith(".json"):
        return sha256
    path = Path(sha256)
    if not path.is_file():
        raise InviteError("sha256: {name}: no such file", name=path.name)
    try:
        value = json.loads(path.read_text(encoding="utf-8"))["sha256"]
    except (ValueError, KeyError, TypeError):
        raise InviteError("sha256: {name} holds no sha256 (is it the lottery.json "
                          "written with the list?)", name=path.name) from None
    return str(value)
