"""The ``mailstudy profile`` stage: people table in ``data/``, group tables and charts in
``out/profiles/``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from mailstudy.optout import load_optouts
from mailstudy.profile.config import ProfileConfig
from mailstudy.profile.groups import GroupProfiles, group_profiles
from mailstudy.profile.people import build_people, write_people
from mailstudy.release import publish_table
from mailstudy.study import Study, StudyError
from mailstudy.tabular import write_table

NOTHING_COLLECTED = ("nothing collected yet: run 'mailstudy collect files' or 'mailstudy "
                     "collect imap' first (or 'mailstudy run' with [collect] sources)")


@dataclass
class ProfileResult:
    people: pd.DataFrame
    counts: dict[str, int]
    groups: GroupProfiles
    files: list[Path]


def run_profile(study: Study, *, lang: str | None = None,
                charts: bool = True, plain_csv: bool | None = None) -> ProfileResult:
    """``mailstudy profile``: people table in ``data/``, group profiles in ``out/profiles/``.

    Needs no key: it reads only pseudonymised tables. The CSV files are in French Excel's
    dialect for a French study unless ``plain_csv`` (or ``[report] csv = "plain"``); each
    comes with an XLSX twin (``mailstudy.tabular.write_table``).
    """
    from reports import profiles as render

    if not (study.messages_dir.exists() and any(study.messages_dir.glob("mailbox=*"))):
        raise StudyError(NOTHING_COLLECTED)
    cfg = ProfileConfig.from_config(study)
    directory = study.catalog.read_or_empty("directory")
    people, counts = build_people(study.messages_dir, directory, cfg,
                                  optouts=load_optouts(study))
    write_people(study, people)
    groups = group_profiles(people, cfg.min_group_size, habit_labels=cfg.habits)
    tables, held = release_tables(study, groups, len(people))
    out = study.catalog.path("profiles")
    out.mkdir(parents=True, exist_ok=True)
    files = [f for name, df in tables.items()
             for f in write_table(study, df, study.catalog.path("group_table", grouping=name),
                                  float_format="%.4g", plain=plain_csv)]
    files += write_table(study, groups.suppression.assign(held_back=held),
                         study.catalog.path("suppression"), plain=plain_csv)
    files.append(_write_rules(study, cfg))
    if charts and len(people):
        files += render.render_group_charts(
            tables, out, lang=lang or study.section("report").get("lang", "fr"))
    return ProfileResult(people, counts, groups, files)


def release_tables(study: Study, groups: GroupProfiles, population: int
                   ) -> tuple[dict[str, pd.DataFrame], int]:
    """The group tables as they may be published now, through the release gate (a change of
    1 to k-1 people since an earlier release never shows); returns them and the rows held
    back."""
    out, held = {}, 0
    for name, table in groups.tables.items():
        dims = list(table.columns[: list(table.columns).index("n_people")])
        out[name], h = publish_table(study, f"profiles/by_{name}", table,
                                     groups.true_counts[name], population=population,
                                     dims=dims)
        held += h
    return out, held


def _write_rules(study: Study, cfg: ProfileConfig) -> Path:
    """The habit rules and thresholds the tables were computed with, for the report (which
    renders them and computes nothing)."""
    rules = {"habits": [{"label": r.label, "rule": r.text} for r in cfg.rules()],
             "work_pattern": dict(cfg.work_pattern),
             "min_messages": cfg.min_messages, "min_active_days": cfg.min_active_days}
    path = study.catalog.path("profile_rules")
    path.write_text(json.dumps(rules, indent=2, ensure_ascii=False), encoding="utf-8")
    return path
