"""Applying an objection (GDPR art. 21) to a study that has already collected.

Why everywhere at once: an objection after collection must leave nothing that links to the
person. Her mailbox's rows go; her pseudonym becomes the anonymous marker ``optout`` in every
other mailbox's rows; her directory row goes and the ``manager`` column no longer points to
her; her volunteer and availability answers, her per-person rows and her run-summary entries
go; a draw that lists her is withdrawn (and its named files with it), since it was drawn
with her. Her pseudonym is also removed from the plain list of sealed pseudonyms (the sealed
identity itself stays encrypted for the key holder until ``purge``: the operator cannot open
it). Every stage downstream is marked to run again.

Idempotent: running it again for the same person (after an interruption) finishes the work
and changes nothing else.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from mailstudy.optout import add_optouts
from mailstudy.schema import MARK_OPTOUT
from mailstudy.store import MessageStore
from mailstudy.study import Study
from mailstudy.tabular import read_csv

#: Stages whose outputs read the people an objection removes: they run again.
DOWNSTREAM = ("profile", "personas", "invite", "report")
TABLES = ("directory", "volunteers", "availability", "people", "personas")


@dataclass
class ObjectionReport:
    """What an objection removed, in counts only."""

    people: int = 0
    mailbox_rows: int = 0
    files_rewritten: int = 0
    references_replaced: int = 0
    table_rows: dict[str, int] = field(default_factory=dict)
    manager_links: int = 0
    draw_withdrawn: bool = False
    run_entries: int = 0
    sealed_listing: int = 0


def _drop_rows(study: Study, name: str, persons: set[str]) -> int:
    c = study.catalog
    if not c.exists(name):
        return 0
    df = c.read_table(name)
    keep = ~df["person"].isin(persons)
    if keep.all():
        return 0
    c.write_table(name, df[keep].reset_index(drop=True))
    return int((~keep).sum())


def _unlink_managers(study: Study, persons: set[str]) -> int:
    c = study.catalog
    if not c.exists("directory"):
        return 0
    df = c.read_table("directory")
    hit = df["manager"].isin(persons)
    if hit.any():
        df.loc[hit, "manager"] = None
        c.write_table("directory", df)
    return int(hit.sum())


def _draw_lists(study: Study, persons: set[str]) -> bool:
    c = study.catalog
    for name in ("panel", "reserves", "probabilities"):
        if c.exists(name) and read_csv(c.path(name))["person"].isin(persons).any():
            return True
    dist = c.path("distribution")
    return dist.exists() and any(p in dist.read_text(encoding="utf-8") for p in persons)


def _withdraw_draw(study: Study) -> None:
    for name in ("invitations", "lottery_audit"):
        path = study.catalog.path(name)
        if path.exists():
            shutil.rmtree(path)


def _scrub_runs(study: Study, persons: set[str]) -> int:
    removed = 0
    runs = study.runs_dir
    for p in sorted(runs.glob("*.json")) if runs.exists() else []:
        text = p.read_text(encoding="utf-8")
        if not any(x in text for x in persons):
            continue
        data = json.loads(text)
        boxes = data.get("mailboxes")
        if isinstance(boxes, list):
            kept = [m for m in boxes if m.get("mailbox") not in persons]
            removed += len(boxes) - len(kept)
            data["mailboxes"] = kept
        blob = json.dumps(data, indent=2, ensure_ascii=False)
        for x in persons:  # anywhere else (a key, an error line): the marker
            blob = blob.replace(x, MARK_OPTOUT)
        tmp = p.with_name(f".{p.name}.tmp")
        tmp.write_text(blob, encoding="utf-8")
        tmp.replace(p)
    return removed


def _scrub_sealed_listing(escrow: Path, persons: set[str]) -> int:
    removed = 0
    for ids in sorted(escrow.glob("seg-*.ids")) if escrow.exists() else []:
        lines = ids.read_text().splitlines()
        kept = [ln for ln in lines if ln.partition(" ")[0] not in persons]
        if len(kept) != len(lines):
            removed += len(lines) - len(kept)
            tmp = ids.with_name(f".{ids.name}.tmp")
            tmp.write_text("\n".join(kept))
            tmp.replace(ids)
    return removed


def _mark_downstream(study: Study) -> None:
    path = study.catalog.path("pipeline_state")
    if not path.exists():
        return
    state = json.loads(path.read_text(encoding="utf-8"))
    for name in DOWNSTREAM:
        state.get("stages", {}).pop(name, None)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(state, indent=2), encoding="utf-8")
    tmp.replace(path)


def apply_objection(study: Study, persons: set[str]) -> ObjectionReport:
    """Remove ``persons`` (pseudonyms) from everything ``study`` holds; see the module doc."""
    r = ObjectionReport(people=len(persons))
    if not persons:
        return r
    store = MessageStore(study.messages_dir)
    r.mailbox_rows = sum(store.drop_partition(p) for p in persons)
    r.files_rewritten, r.references_replaced = store.replace_people(persons, MARK_OPTOUT)
    r.manager_links = _unlink_managers(study, persons)
    r.table_rows = {name: n for name in TABLES if (n := _drop_rows(study, name, persons))}
    if _draw_lists(study, persons):
        _withdraw_draw(study)
        r.draw_withdrawn = True
    r.run_entries = _scrub_runs(study, persons)
    r.sealed_listing = _scrub_sealed_listing(study.escrow_dir, persons)
    _mark_downstream(study)
    return r


def record_objections(study: Study, addresses: list[str]) -> tuple[int, int, ObjectionReport]:
    """``mailstudy optout add``: record the objections first (so that no collection reads
    these mailboxes again, even if what follows is interrupted), then apply them. Returns
    (newly recorded, already recorded, what was removed)."""
    ps = study.pseudonymiser()
    added, present = add_optouts(study, addresses)
    report = apply_objection(study, {ps.person(a) for a in addresses})
    return added, present, report
