"""The whole stage on tables (``invite``) and on a study workspace: reading its tables,
drawing, and writing ``out/invitations/`` and the audit trail in ``data/``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pandas as pd

from mailstudy.invite.distribution import Lottery, find_distribution
from mailstudy.invite.draw import PUBLISHED_COLUMNS, draw_panel, pick_reserves
from mailstudy.invite.fairness import composition, explain, fairness
from mailstudy.invite.plan import (
    DEFAULT_FEATURES,
    DEFAULT_ROLE_VOCABULARY,
    InviteError,
    Plan,
    plan_from_config,
)
from mailstudy.invite.pool import build_pool
from mailstudy.invite.transparent import (
    DEFAULT_PANELS,
    UniformLottery,
    Verification,
    draw_number,
    panel_number,
    uniform_lottery,
)


@dataclass
class Invitation:
    panel: pd.DataFrame
    reserves: pd.DataFrame
    lottery: Lottery
    fairness: dict[str, Any]
    composition: pd.DataFrame
    suppressed: int
    why: pd.DataFrame
    uniform: UniformLottery | None = None  # the published list the panel was drawn from
    number: int = 0  # the panel's number in that list


def invite(pool: pd.DataFrame, plan: Plan, seed: int, *, min_group: int = 10,
           reserves_per_seat: int = 3, lang: str = "fr",
           time_limit: float | None = None, algorithm: str = "leximin",
           panels: int = DEFAULT_PANELS, number: int | None = None) -> Invitation:
    """The whole stage on tables: lottery (leximin by default), its rounding to ``panels``
    published panels, the panel number ``number`` of that list (a public draw's result; by
    default a seeded draw), reserves, fairness, composition, reasons."""
    lot = find_distribution(pool, plan, time_limit=time_limit, algorithm=algorithm)
    uni: UniformLottery | None = None
    num: int | None = None
    rows = None
    if panels > 0:  # 0: no published list, a plain seeded draw (README, "Privacy model")
        uni = uniform_lottery(lot, panels, seed)
        num = int(number) if number is not None else draw_number(panels, seed)
        drawn = panel_number(uni.table, num)
        rows = list(zip(drawn["person"], drawn["role"], strict=True))
    elif number is not None:
        raise InviteError("a panel number needs a published list (published_panels > 0)")
    panel = draw_panel(lot, pool, seed, rows)
    reserves = pick_reserves(panel, pool, lot, seed, reserves_per_seat)
    fair = fairness(lot.person_probability, plan.size) | {
        "seed": seed, "distribution_sha256": lot.digest, "algorithm": algorithm,
        "panels_in_support": len(lot.weights), "panels_published": panels,
        "panel_number": num, "number_from": "given" if number is not None else "seeded draw",
        "published_list_sha256": uni.sha256 if uni else None,
        "published_list_min_probability": uni.min_probability if uni else None,
        "published_list_loss": uni.loss if uni else None,
        **{f"solver_{k}": v for k, v in lot.stats.items()}}
    comp, k = composition(panel, pool, plan.features, min_group)
    return Invitation(panel, reserves, lot, fair, comp, k, explain(panel, lang), uni, num or 0)


def load_pool(study: Any) -> tuple[pd.DataFrame, list[str], list[str]]:
    """The pool from the study's tables; returns (pool, quota features, notes for the user).
    The volunteers and availability files are imported beforehand (``intake``)."""
    from mailstudy.optout import load_optouts

    c = study.catalog
    notes: list[str] = []
    people = c.read_optional("people", ["person", "level", "direction", "service", "roles"])
    if people is None:
        raise InviteError("nobody profiled yet (no data/people.parquet): run 'mailstudy "
                          "profile' first")
    personas = c.read_optional("personas")
    directory = c.read_optional("directory", ["person", "level", "direction", "service", "roles"])
    ws = study.section("workshop")
    vol = c.read_optional("volunteers")
    av = c.read_optional("availability")
    sessions = [str(s["id"]) for s in ws.get("sessions", [])] or None
    vocab = {f: tuple(ws.get("roles", {}).get(f, terms))
             for f, terms in DEFAULT_ROLE_VOCABULARY.items()}
    pool = build_pool(people, personas, directory,
                      vol["person"].tolist() if vol is not None else (),
                      load_optouts(study), av, sessions, vocab)
    features = [str(f) for f in ws.get("quota_features", DEFAULT_FEATURES)]
    if personas is None and "persona" in features:
        features.remove("persona")
        notes.append("no personas yet (data/personas.parquet): no quota on persona")
    if av is None:
        notes.append("no availability file: everyone counts as available")
    return pool, features, notes


def run_invite(study: Any, size: int | None = None, seed: int | None = None,
               lang: str | None = None, time_limit: float | None = None,
               algorithm: str | None = None, number: int | None = None
               ) -> tuple[Invitation, list[str]]:
    """`mailstudy invite`: draw the panel and write ``out/invitations/`` (pseudonymised).
    ``algorithm`` defaults to [workshop] algorithm, else leximin; ``number`` is the panel
    number drawn in public from the published list (default: a seeded draw)."""
    ws = study.section("workshop")
    size = int(size if size is not None else ws.get("panel_size", 20))
    seed = int(seed if seed is not None else ws.get("seed", 1))
    lang = lang or study.section("report").get("lang", "fr")
    if time_limit is None:
        time_limit = float(ws.get("time_limit", 300))
    pool, features, notes = load_pool(study)
    if pool.empty:
        raise InviteError("nobody to draw from: run 'mailstudy profile' (and 'personas') first, "
                          "or import volunteers")
    plan = plan_from_config(ws, pool, size, features)
    inv = invite(pool, plan, seed, min_group=study.min_group_size,
                 reserves_per_seat=int(ws.get("reserves_per_seat", 3)), lang=lang,
                 time_limit=time_limit,
                 algorithm=algorithm or str(ws.get("algorithm", "leximin")),
                 panels=int(ws.get("published_panels", DEFAULT_PANELS)), number=number)
    if not inv.lottery.stats["optimal"]:
        notes.append(f"{inv.lottery.stats['stopped'] or 'time limit'} reached after "
                     f"{inv.lottery.stats['levels']} proven level(s): minimum probability "
                     f"{inv.fairness['min_probability']:.4f}, proven upper bound "
                     f"{inv.lottery.stats['upper_bound']:.4f}")
    write_invitation(study, inv)
    return inv, notes


def verify_invitation(study: Any, number: int | None = None) -> Verification:
    """`mailstudy invite --verify`: recompute the panel from the published list
    (out/invitations/lottery.csv) and the panel number (``number``, else fairness.json's),
    against the list's hash and the panel announced in fairness.json and panel.csv."""
    from mailstudy.invite.transparent import verify
    from mailstudy.tabular import read_csv

    c = study.catalog
    if not c.exists("lottery") or not c.exists("fairness") or not c.exists("panel"):
        raise InviteError("no published list yet: run 'mailstudy invite' first")
    fair = json.loads(c.path("fairness").read_text(encoding="utf-8"))
    table = pd.read_csv(c.path("lottery"), dtype=str, keep_default_na=False)
    table["panel"] = table["panel"].astype(int)
    panel = read_csv(c.path("panel"), dtype=str, keep_default_na=False)
    num = int(number if number is not None else fair.get("panel_number", 0))
    return verify(table, num, fair.get("published_list_sha256"), panel)


def write_invitation(study: Any, inv: Invitation) -> Any:
    """The published draw (``out/invitations/``: seats, roles and pseudonyms; the composition
    through the release gate) and the operator's audit trail (``data/invitations/``: the
    distribution, every probability, the reasons, each invitee's strata)."""
    from mailstudy import schema
    from mailstudy.commitment import panel_hash, reserves_hash
    from mailstudy.release import publish_table
    from mailstudy.tabular import write_csv, write_table

    schema.check(inv.panel, "panel")
    schema.check(inv.reserves, "reserves")
    c = study.catalog
    write_table(study, inv.panel[PUBLISHED_COLUMNS], c.path("panel"))
    write_table(study, inv.reserves[[*PUBLISHED_COLUMNS, "rank"]], c.path("reserves"))
    if inv.uniform is not None:  # the list the panel number was drawn from: pseudonyms only
        write_csv(inv.uniform.table, c.path("lottery"))
    else:  # no list this time: an earlier one must not stay published beside this panel
        c.path("lottery").unlink(missing_ok=True)
    comp = inv.composition
    shown, held = publish_table(study, "invitations/composition", comp.drop(columns="_n_true"),
                                comp["_n_true"], population=_population(comp),
                                dims=["feature", "value"], count="population")
    write_table(study, shown, c.path("composition"))
    fair = dict(inv.fairness)
    fair["suppressed_cells"] = inv.suppressed
    fair["held_back_cells"] = held
    fair["panel_sha256"] = panel_hash(inv.panel)
    fair["reserves_sha256"] = reserves_hash(inv.reserves)
    c.path("fairness").write_text(json.dumps(fair, indent=2, ensure_ascii=False),
                                  encoding="utf-8")
    _write_audit(study, inv, fair)
    return c.path("invitations")


def _population(composition: pd.DataFrame) -> int:
    """The people the composition describes (each feature's values add up to them)."""
    by_feature = composition.groupby("feature")["_n_true"].sum()
    return int(by_feature.max()) if len(by_feature) else 0


def _write_audit(study: Any, inv: Invitation, fair: dict[str, Any]) -> None:
    """What stays with the operator: the distribution (what an auditor re-hashes to check
    fairness.json; it lists the whole pool), every probability ("why was I not invited?"),
    the reasons and strata of each invitee, and the commitment ``reveal`` checks."""
    from mailstudy.tabular import write_csv

    c = study.catalog
    lot = inv.lottery
    write_csv(lot.person_probability.rename_axis("person").reset_index(),
              c.path("probabilities"))
    write_csv(inv.why, c.path("why_csv"))
    c.path("why_txt").write_text("".join(f"{r.person} ({r.seat}): {r.why}\n"
                                         for r in inv.why.itertuples()), encoding="utf-8")
    c.path("distribution").write_text(json.dumps({
        "sha256": lot.digest, "seed": fair["seed"], "types": lot.types.members,
        "panels": [{"counts": [int(x) for x in n], "seats": [[t, f, k] for (t, f), k in
                                                            y.items()], "probability": w}
                   for (n, y), w in zip(lot.compositions, lot.weights, strict=True)],
    }, ensure_ascii=False), encoding="utf-8")
    commitment = {k: fair[k] for k in ("seed", "distribution_sha256", "panel_sha256",
                                       "reserves_sha256", "published_list_sha256",
                                       "panel_number") if k in fair}
    c.path("commitment").write_text(json.dumps(commitment, indent=2), encoding="utf-8")
