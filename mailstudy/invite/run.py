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


@dataclass
class Invitation:
    panel: pd.DataFrame
    reserves: pd.DataFrame
    lottery: Lottery
    fairness: dict[str, Any]
    composition: pd.DataFrame
    suppressed: int
    why: pd.DataFrame


def invite(pool: pd.DataFrame, plan: Plan, seed: int, *, min_group: int = 10,
           reserves_per_seat: int = 3, lang: str = "fr",
           time_limit: float | None = None) -> Invitation:
    """The whole stage on tables: lottery, draw, reserves, fairness, composition, reasons."""
    lot = find_distribution(pool, plan, time_limit=time_limit)
    panel = draw_panel(lot, pool, seed)
    reserves = pick_reserves(panel, pool, lot, seed, reserves_per_seat)
    fair = fairness(lot.person_probability, plan.size) | {
        "seed": seed, "distribution_sha256": lot.digest, "algorithm": "maximin",
        "panels_in_support": len(lot.weights), **{f"solver_{k}": v for k, v in
                                                  lot.stats.items()}}
    comp, k = composition(panel, pool, plan.features, min_group)
    return Invitation(panel, reserves, lot, fair, comp, k, explain(panel, lang))


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
               lang: str | None = None, time_limit: float | None = None
               ) -> tuple[Invitation, list[str]]:
    """`mailstudy invite`: draw the panel and write ``out/invitations/`` (pseudonymised)."""
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
                 time_limit=time_limit)
    if not inv.lottery.stats["optimal"]:
        notes.append(f"time limit reached: minimum probability "
                     f"{inv.fairness['min_probability']:.4f}, proven upper bound "
                     f"{inv.lottery.stats['upper_bound']:.4f}")
    write_invitation(study, inv)
    return inv, notes


def write_invitation(study: Any, inv: Invitation) -> Any:
    """The published draw (``out/invitations/``: seats, roles and pseudonyms; the composition
    through the release gate) and the operator's audit trail (``data/invitations/``: the
    distribution, every probability, the reasons, each invitee's strata)."""
    from mailstudy import schema
    from mailstudy.commitment import panel_hash, reserves_hash
    from mailstudy.release import publish_table
    from mailstudy.tabular import write_table

    schema.check(inv.panel, "panel")
    schema.check(inv.reserves, "reserves")
    c = study.catalog
    write_table(study, inv.panel[PUBLISHED_COLUMNS], c.path("panel"))
    write_table(study, inv.reserves[[*PUBLISHED_COLUMNS, "rank"]], c.path("reserves"))
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
                                       "reserves_sha256")}
    c.path("commitment").write_text(json.dumps(commitment, indent=2), encoding="utf-8")
