"""The whole stage on tables (``invite``) and on a study workspace: reading its tables,
drawing, and writing ``out/invitations/`` and the audit trail in ``data/``."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import pandas as pd

from mailstudy.invite.distribution import Lottery, find_distribution
from mailstudy.invite.draw import PANEL_COLUMNS, draw_panel, pick_reserves
from mailstudy.invite.fairness import composition, explain, fairness
from mailstudy.invite.intake import (
    AVAILABILITY_FILE,
    VOLUNTEERS_FILE,
    import_availability,
    import_volunteers,
)
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


PEOPLE_FILE = "people.parquet"
PERSONAS_FILE = "personas.parquet"


INVITATIONS_DIR = "invitations"


def _read_optional(study: Any, name: str) -> pd.DataFrame | None:
    p = study.data / name
    return pd.read_parquet(p) if p.exists() else None


def load_pool(study: Any) -> tuple[pd.DataFrame, list[str], list[str]]:
    """The pool from the study's tables; returns (pool, quota features, notes for the user)."""
    from mailstudy.optout import load_optouts

    notes: list[str] = []
    people = _read_optional(study, PEOPLE_FILE)
    if people is None:
        raise InviteError("data/people.parquet is missing: run 'mailstudy profile' first")
    personas = _read_optional(study, PERSONAS_FILE)
    directory = _read_optional(study, "directory.parquet")
    ws = study.section("workshop")
    vol = _read_optional(study, VOLUNTEERS_FILE)
    if vol is None and ws.get("volunteers_file") and study.has_key():
        import_volunteers(study, study.root / ws["volunteers_file"])
        vol = _read_optional(study, VOLUNTEERS_FILE)
    av = _read_optional(study, AVAILABILITY_FILE)
    if av is None and ws.get("availability_file") and study.has_key():
        import_availability(study, study.root / ws["availability_file"])
        av = _read_optional(study, AVAILABILITY_FILE)
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
    from mailstudy import schema

    schema.check(inv.panel, "panel")
    schema.check(inv.reserves, "reserves")
    out = study.out / INVITATIONS_DIR
    out.mkdir(parents=True, exist_ok=True)
    inv.panel[PANEL_COLUMNS].to_csv(out / "panel.csv", index=False)
    inv.reserves.to_csv(out / "reserves.csv", index=False)
    inv.composition.to_csv(out / "composition.csv", index=False)
    inv.why.to_csv(out / "why.csv", index=False)
    (out / "why.txt").write_text("".join(f"{r.person} ({r.seat}): {r.why}\n"
                                         for r in inv.why.itertuples()), encoding="utf-8")
    fair = dict(inv.fairness)
    fair["suppressed_cells"] = inv.suppressed
    fair["panel_sha256"] = panel_hash(inv.panel)
    (out / "fairness.json").write_text(json.dumps(fair, indent=2, ensure_ascii=False),
                                       encoding="utf-8")
    # The distribution itself (pseudonyms by type) stays in data/: it is what an auditor
    # re-hashes to check fairness.json, and it lists the whole pool.
    audit = study.data / INVITATIONS_DIR
    audit.mkdir(parents=True, exist_ok=True)
    lot = inv.lottery
    # "Why was I not invited?": every eligible person's probability, answered from data/.
    lot.person_probability.rename_axis("person").reset_index().to_csv(
        audit / "probabilities.csv", index=False)
    (audit / "distribution.json").write_text(json.dumps({
        "sha256": lot.digest, "seed": fair["seed"], "types": lot.types.members,
        "panels": [{"counts": [int(x) for x in n], "seats": [[t, f, k] for (t, f), k in
                                                            y.items()], "probability": w}
                   for (n, y), w in zip(lot.compositions, lot.weights, strict=True)],
    }, ensure_ascii=False), encoding="utf-8")
    return out


def panel_hash(panel: pd.DataFrame) -> str:
    """SHA-256 of the drawn panel (sorted person, seat, role): what a reveal is tied to."""
    rows = sorted(zip(panel["person"], panel["seat"], panel["role"], strict=True))
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()
