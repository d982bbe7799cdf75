"""``mailstudy export analyst DIR``: a study folder an analyst may hold, singling nobody out.

Why a package and not a copy of the study: a copy holds the message store (dates to the
second, sender and recipient pseudonyms), the directory (raw titles, the manager column that
rebuilds the organigram) and per-person rows unique on (level, direction); an analyst who is
also on the staff links pseudonyms to colleagues with them. The package holds only what the
analysis stages need, from the *analysis* zone of the catalogue:

- ``data/people.parquet``: the usage features, quasi-identifiers generalised to
  k-anonymity (``export/generalise.py``), under identifiers of the package's own (a keyed
  hash in the ``analyst`` namespace: they match no pseudonym of any other file, so the
  published panel cannot be joined to anybody's features);
- ``data/personas.parquet`` when personas were computed, under the same identifiers;
- the published group profiles and persona outputs (``out/profiles``, ``out/personas``);
- a ``study.toml`` rebuilt from a list of harmless keys (no source path, alias, contact);
- ``analyst.json``: what was generalised, and the threshold.

No message-level row, no timestamp, no directory, no escrow, no key, no run summary.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import tomli_w

from mailstudy.catalog import Catalog, Zone
from mailstudy.errors import InputError, StageError
from mailstudy.export.generalise import Generalisation, generalise
from mailstudy.study import Study

MANIFEST = "analyst.json"
#: study.toml keys the package keeps: section -> keys (None: the whole section).
CONFIG_KEPT: dict[str, tuple[str, ...] | None] = {
    "organisation": ("name", "domains", "partner_domains"),
    "time": None,
    "privacy": ("min_group_size",),
    "profile": None,
    "personas": None,
    "report": ("lang", "controller", "purpose"),
}
COPIED_OUTPUTS = ("profiles", "persona_outputs")


@dataclass
class AnalystExport:
    directory: Path
    people: int
    generalisation: Generalisation


def package_config(config: dict[str, Any]) -> dict[str, Any]:
    """The study configuration an analyst may see; pure."""
    out: dict[str, Any] = {}
    for section, keys in CONFIG_KEPT.items():
        values = config.get(section) or {}
        kept = dict(values) if keys is None else {k: values[k] for k in keys if k in values}
        if kept:
            out[section] = kept
    return out


def _package_ids(study: Study, persons: pd.Series) -> pd.Series:
    ps = study.pseudonymiser()
    return persons.map(lambda p: ps.digest("analyst", str(p)))


def _check_destination(dest: Path, study: Study) -> None:
    if dest.resolve() == study.root.resolve() or study.root.resolve() in dest.resolve().parents:
        raise InputError("the analyst package must be written outside the study folder")
    if dest.exists() and any(dest.iterdir()):
        raise InputError("the destination folder is not empty; give a new folder")


def export_analyst(study: Study, dest: Path | str) -> AnalystExport:
    """Write the analyst package of ``study`` into the new folder ``dest`` (operator only:
    it needs the key to derive the package's identifiers)."""
    dest = Path(dest)
    _check_destination(dest, study)
    src = study.catalog
    if not src.exists("people"):
        raise StageError("nobody profiled yet: run 'mailstudy profile' first")
    people = src.read_table("people")
    gen = generalise(people, study.min_group_size)
    ids = dict(zip(gen.table["person"], _package_ids(study, gen.table["person"]), strict=True))
    table = gen.table.assign(person=gen.table["person"].map(ids))
    table = table.sort_values("person").reset_index(drop=True)
    out = Catalog(dest)
    for sub in ("data", "out"):
        (dest / sub).mkdir(parents=True, exist_ok=True)
    out.write_table("people", table)
    if src.exists("personas"):
        personas = src.read_table("personas")
        personas = personas[personas["person"].isin(ids)]
        out.write_table("personas", personas.assign(person=personas["person"].map(ids))
                        .sort_values("person").reset_index(drop=True))
    for name in COPIED_OUTPUTS:
        if src.exists(name):
            shutil.copytree(src.path(name), out.path(name))
    out.path("config").write_text(tomli_w.dumps(package_config(study.config)),
                                  encoding="utf-8")
    (dest / MANIFEST).write_text(json.dumps({
        "kind": "mailstudy analyst package", "zone": Zone.ANALYSIS.value,
        "created": dt.date.today().isoformat(), "generalisation": gen.describe()},
        indent=2, ensure_ascii=False), encoding="utf-8")
    return AnalystExport(dest, len(table), gen)
