"""The ``mailstudy profile`` stage: people table in ``data/``, group tables and charts in
``out/profiles/``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from mailstudy.directory import load_directory, read_optouts
from mailstudy.profile.config import ProfileConfig
from mailstudy.profile.groups import GroupProfiles, group_profiles
from mailstudy.profile.people import build_people, write_people
from mailstudy.study import Study


@dataclass
class ProfileResult:
    people: pd.DataFrame
    counts: dict[str, int]
    groups: GroupProfiles
    files: list[Path]



def run_profile(study: Study, *, lang: str | None = None,
                charts: bool = True) -> ProfileResult:
    """``mailstudy profile``: people table in ``data/``, group profiles in ``out/profiles/``.

    Needs no key: it reads only pseudonymised tables.
    """
    from reports import profiles as render

    cfg = ProfileConfig.from_config(study)
    directory = load_directory(study)
    people, counts = build_people(study.messages_dir, directory, cfg,
                                  optouts=read_optouts(study))
    write_people(study, people)
    groups = group_profiles(people, cfg.min_group_size, habit_labels=cfg.habits)
    out = study.out / "profiles"
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for name, df in groups.tables.items():
        p = out / f"by_{name}.csv"
        df.to_csv(p, index=False, float_format="%.4g")
        files.append(p)
    p = out / "suppression.csv"
    groups.suppression.to_csv(p, index=False)
    files.append(p)
    if charts and len(people):
        files += render.render_group_charts(
            groups.tables, out, lang=lang or study.section("report").get("lang", "fr"))
    return ProfileResult(people, counts, groups, files)
