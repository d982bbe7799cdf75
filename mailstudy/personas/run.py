"""The ``personas`` stage: people table in; assignments, model card and sheets out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from mailstudy import schema
from mailstudy.catalog import Catalog
from mailstudy.errors import StageError
from mailstudy.personas.fit import fit_personas
from mailstudy.personas.model import PersonaModel, card_json
from mailstudy.personas.release import release_sizes, sheets_held
from mailstudy.personas.settings import DEFAULT_SEED, PersonaError
from mailstudy.personas.sheets import find_person_ids, sheet_context, week_grid_from_messages


def write_outputs(model: PersonaModel, catalog: Catalog,
                  week_grid: pd.DataFrame | None = None, min_group_size: int = 10,
                  pdf: bool = True) -> dict[str, Path]:
    """Write the assignments (dataset ``personas``), the model card (``persona_model``) and
    the sheets (in ``persona_outputs``) where ``catalog`` puts them. Refuses to write a sheet
    that would contain a person identifier."""
    from reports.personas import build_sheets
    from reports.render import write_html, write_pdf

    out_dir = catalog.path("persona_outputs")
    out_dir.mkdir(parents=True, exist_ok=True)
    schema.check(model.assignments, "personas", extra_ok=False)
    paths = {"assignments": catalog.write_table("personas", model.assignments),
             "card": catalog.path("persona_model")}
    paths["card"].write_text(card_json(model.card), encoding="utf-8")
    ctx = sheet_context(model, week_grid, min_group_size)
    html = build_sheets(ctx, out_dir)
    leaked = find_person_ids(html, model.assignments.person.tolist())
    if leaked:
        raise PersonaError("refusing to write sheets: {n_leaked} person identifier(s) "
                           "would appear in them", n_leaked=len(leaked))
    paths["html"] = write_html(html, out_dir / "personas.html")
    if pdf:
        paths["pdf"] = write_pdf(html, out_dir / "personas.pdf", base_url=out_dir)
    return paths


def _sent_week_grid(messages_dir: Path, assignments: pd.DataFrame) -> pd.DataFrame | None:
    from mailstudy.store import read_messages

    if not messages_dir.exists():
        return None
    try:
        m = read_messages(messages_dir, columns=["mailbox", "direction", "date_local"])
    except Exception:  # noqa: BLE001 - the week chart is optional; the sheet says it is missing
        return None
    return week_grid_from_messages(m, assignments) if len(m) else None


def run_personas(study: Any, k: int | str | None = None, lang: str | None = None,
                 seed: int | None = None, n_boot: int | None = None,
                 week_grid: pd.DataFrame | None = None, n_jobs: int = 2,
                 pdf: bool = True, k_range: tuple[int, int] | None = None
                 ) -> tuple[PersonaModel, dict[str, Path]]:
    """The ``personas`` stage on a study: reads the ``people`` dataset, writes ``personas``,
    ``persona_model`` (model.json) and the sheets. ``k``: "auto", or a number to force;
    ``k_range`` (first, last): the ks "auto" searches. Options default to study.toml's
    ``[personas]`` (k, k_min, k_max, bootstrap, seed) and ``[report]`` sections. The typical
    week is computed from the message store unless ``week_grid`` is given."""
    cfg = study.section("personas")
    if not study.catalog.exists("people"):
        raise StageError("nobody profiled yet (no data/people.parquet): collect mailboxes, "
                         "then run 'mailstudy profile'")
    people = study.catalog.read_table("people")
    k_val: int | str = k if k is not None else cfg.get("k", "auto")
    if isinstance(k_val, str) and k_val != "auto":
        if not k_val.isdigit():
            raise PersonaError("k must be 'auto' or a number, not {k_val!r}", k_val=k_val)
        k_val = int(k_val)
    model = fit_personas(
        people, k=k_val,
        k_range=k_range or (int(cfg.get("k_min", 2)), int(cfg.get("k_max", 10))),
        n_boot=int(n_boot if n_boot is not None else cfg.get("bootstrap", 50)),
        seed=int(seed if seed is not None else cfg.get("seed", DEFAULT_SEED)),
        min_group_size=study.min_group_size,
        lang=lang or study.section("report").get("lang", "fr"), n_jobs=n_jobs)
    out_dir = study.catalog.path("persona_outputs")
    if sheets_held(study, model):
        # The assignments (operator and analysis zones) follow the data; the published sheets
        # of the last release stand.
        study.catalog.write_table("personas", model.assignments)
        release_sizes(study, model)  # records the sizes held back in the open release
        return model, {"assignments": study.catalog.path("personas"),
                       "card": study.catalog.path("persona_model"),
                       **{k: out_dir / f"personas.{k}" for k in ("html", "pdf")
                          if (out_dir / f"personas.{k}").exists()}}
    model = release_sizes(study, model)
    if week_grid is None:
        week_grid = _sent_week_grid(study.messages_dir, model.assignments)
    paths = write_outputs(model, study.catalog, week_grid, study.min_group_size, pdf=pdf)
    return model, paths
