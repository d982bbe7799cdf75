"""Wiring of ``mailstudy compare``: two studies in, ``out/compare/`` of the second out.

Why here and not in the compare stage: the comparison needs the first campaign's persona
model applied to the second campaign's people, and stages never import each other. This
layer reads both studies through their catalogues, asks the personas stage to place everyone
(:func:`~mailstudy.personas.assign_personas`), reads which groups each campaign's published
profile tables hide, and hands plain tables to the compare stage's pure functions.

:func:`compare_campaigns` is the Python API (for notebooks); the CLI calls nothing else.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd

from mailstudy.compare import N_BOOT, SEED, Comparison, Settings, compare_tables
from mailstudy.compare import write_comparison as _write
from mailstudy.errors import InputError
from mailstudy.personas import assign_personas, read_card
from mailstudy.profile.groups import NO_HABIT
from mailstudy.release import hidden_groups
from mailstudy.study import Study, follow_up_link, key_id, open_study

PROFILE_GROUPINGS = ("level", "direction", "habit")


def _as_study(s: Study | Path | str) -> Study:
    return s if isinstance(s, Study) else open_study(s)


def campaigns_linked(first: Study, second: Study) -> bool:
    """True when the second study was made with ``init --follow-up`` from the first (its
    recorded key fingerprint is the first's): the same person has the same pseudonym."""
    link = follow_up_link(second)
    if link is None:
        return False
    if first.has_key():
        return link["key_id"] == key_id(first.key())
    return True  # a copy without the key (analyst side): trust the operator's record


def _people(study: Study, which: str) -> pd.DataFrame:
    if not study.catalog.exists("people") and which == "first":
        raise InputError("the first campaign has no people table yet: run its profile "
                         "stage first")
    if not study.catalog.exists("people"):
        raise InputError("the second campaign has no people table yet: run its profile "
                         "stage first")
    return study.catalog.read_table("people")


def _hidden_in_profiles(*studies: Study) -> dict[str, set[str]]:
    """Groups a published profile table of either campaign hides (rule 2 of the guard)."""
    return {g: set().union(*(hidden_groups(s, g) for s in studies)) for g in PROFILE_GROUPINGS}


def _middle_date(study: Study) -> dt.date | None:
    """The median date of a campaign's mail, else the middle of its reported period."""
    from mailstudy.store import read_messages

    msgs = study.messages_dir
    if msgs.exists() and any(msgs.glob("mailbox=*")):
        dates = pd.to_datetime(read_messages(msgs, columns=["date_local"])["date_local"])
        if dates.notna().any():
            return dates.dropna().median().date()
    return None


def months_between(first: Study, second: Study) -> float | None:
    a, b = _middle_date(first), _middle_date(second)
    return round((b - a).days / 30.4375, 2) if a and b and b > a else None


def comparison(first: Study | Path | str, second: Study | Path | str, *,
               n_boot: int = N_BOOT, seed: int = SEED, linked: bool | None = None,
               months: float | None = None) -> tuple[Study, Comparison]:
    """The comparison as tables, without writing anything (for a notebook)."""
    s1, s2 = _as_study(first), _as_study(second)
    if s1.root.resolve() == s2.root.resolve():
        raise InputError("the two studies are the same folder: give the first campaign, "
                         "then the follow-up")
    before, after = _people(s1, "first"), _people(s2, "second")
    link = campaigns_linked(s1, s2) if linked is None else linked
    names = None
    if s1.catalog.exists("persona_model"):
        card = read_card(s1.catalog.path("persona_model"))
        before = before.merge(assign_personas(card, before)[["person", "persona"]], on="person")
        after = after.merge(assign_personas(card, after)[["person", "persona"]], on="person")
        names = {int(p["persona"]): str(p["name"]) for p in card["personas"]}
    k = max(s1.min_group_size, s2.min_group_size)
    result = compare_tables(before, after, Settings(linked=link, n_boot=n_boot, seed=seed,
                                                    none_label=NO_HABIT), k,
                            hidden_elsewhere=_hidden_in_profiles(s1, s2),
                            persona_names=names,
                            months=months if months is not None else months_between(s1, s2))
    return s2, result


def compare_campaigns(first: Study | Path | str, second: Study | Path | str, *,
                      lang: str | None = None, n_boot: int = N_BOOT, seed: int = SEED,
                      linked: bool | None = None, months: float | None = None
                      ) -> dict[str, Any]:
    """``mailstudy compare DIR1 DIR2``: compare the second campaign with the first and write
    ``out/compare/`` in the second study (CSV, XLSX, ``summary.json``).

    ``linked`` defaults to whether the second study is a follow-up of the first (same key);
    ``months`` to the months between the median dates of their mail. Returns the paths
    written and the summary.
    """
    s2, result = comparison(first, second, n_boot=n_boot, seed=seed, linked=linked,
                            months=months)
    lang = lang or s2.section("report").get("lang", "fr")
    if lang not in ("fr", "en"):
        raise InputError("lang must be fr or en")
    paths = _write(s2, result, lang)
    return {"paths": paths, "summary": result.summary}
