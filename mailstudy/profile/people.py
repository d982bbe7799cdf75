"""One row per person (the PEOPLE table): features, working pattern, habits, directory
attributes; and its file in ``data/``.

Conventions the definitions leave open, decided here once:
- Per-person counts use the person's own mailbox, deduplicated on (message_id, direction), so a
  copy kept in two folders counts once; drafts and junk are not messages sent or received.
  Organisation totals deduplicate on message_id across mailboxes.
- The observed period of a person runs from the first to the last day with a message; working
  days are the study's workdays minus public and extra holidays (at least one).
- Times of day use ``date_local`` (the study's wall clock); delays use ``date_utc``.
- ``filing_rate`` and ``folder_count`` look at stored copies (a message filed in two folders
  counts in both); filing excludes trash and junk. ``unread_share`` ignores messages whose read
  flag is unknown.
- A statistic with no denominator (no sent message, say) is missing, never zero.
"""

from __future__ import annotations

import shutil
from collections.abc import Container, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from mailstudy import schema
from mailstudy.profile.batches import (
    _frames_to_tables,
    discover_partitions,
    iter_message_batches,
    plan_batches,
)
from mailstudy.profile.config import ProfileConfig, Rule
from mailstudy.profile.features import batch_features
from mailstudy.profile.work import (
    BatchRunner,
    combine_batches,
    dedupe_people,
    planned_results,
    prune_work_dir,
    run_batches_here,
)
from mailstudy.study import Study, StudyError
from mailstudy.text import UNKNOWN


def work_pattern(feats: pd.DataFrame, wp: Mapping[str, float]) -> pd.Series:
    """Viva's per-person working-pattern class from the before/within/after shares."""
    before, after, within = (feats[c].to_numpy(dtype=float)
                             for c in ("_before", "_after", "_within"))
    each = float(wp["always_on_min_each"])
    out = np.where(before >= after, "extended_morning", "extended_evening").astype(object)
    out = np.where(within > float(wp["standard_min_within"]), "standard", out)
    out = np.where(within < float(wp["overnight_max_within"]), "overnight", out)
    out = np.where((before > each) & (after > each), "always_on", out)
    few_sent = feats["_n_sent"].to_numpy() < float(wp["absent_min_sent"])
    out = np.where(few_sent | np.isnan(within), "absent", out)
    return pd.Series(out, index=feats.index, name="work_pattern")


def _habits(feats: pd.DataFrame, rules: list[Rule]) -> list[list[str]]:
    hits = np.column_stack([r.apply(feats) for r in rules]) if rules else \
        np.zeros((len(feats), 0), dtype=bool)
    labels = [r.label for r in rules]
    return [[labels[j] for j in np.flatnonzero(row)] for row in hits]


def _features_in_memory(batches: Iterable[pa.Table], cfg: ProfileConfig
                        ) -> tuple[pd.DataFrame, int, int]:
    """Features of every mailbox (one row per person), the number of the organisation's
    distinct message ids and the number of rows read, everything held in memory (DataFrame
    input, or no work folder: small inputs)."""
    parts, ids, rows = [], [], 0
    for table in batches:
        if len(table) == 0:
            continue
        rows += len(table)
        feats, message_ids = batch_features(table, cfg)
        parts.append(feats)
        ids.append(message_ids)
    unique = len(pd.unique(np.concatenate(ids))) if ids else 0
    return dedupe_people(parts), unique, rows


def _features_on_disk(messages: Path, cfg: ProfileConfig, work_dir: Path,
                      runner: BatchRunner) -> tuple[pd.DataFrame, int, int]:
    """The same, one batch at a time with its result in ``work_dir`` (bounded memory, and a
    killed run restarts where it stopped); the folder is removed once combined."""
    batches = plan_batches(discover_partitions(messages), cfg.batch_budget)
    prune_work_dir(work_dir, planned_results(batches, cfg, work_dir))
    out = combine_batches(runner(messages, batches, cfg, work_dir), cfg)
    shutil.rmtree(work_dir, ignore_errors=True)
    return out


def _with_directory(feats: pd.DataFrame, directory: pd.DataFrame) -> pd.DataFrame:
    """The PEOPLE columns: features plus the directory's attributes, unknown when missing."""
    cols = ["person", "level", "level_rank", "direction", "service", "roles"]
    dd = directory[[c for c in cols if c in directory.columns]]
    people = feats.merge(dd, on="person", how="left")
    people["level"] = people.get("level", pd.Series(index=people.index, dtype=object)
                                 ).fillna(UNKNOWN).astype(object)
    people["level_rank"] = people.get("level_rank", pd.Series(index=people.index, dtype=float)
                                      ).fillna(-1).astype("int16")
    for c in ("direction", "service"):
        people[c] = people.get(c, pd.Series(index=people.index, dtype=object)
                               ).fillna(UNKNOWN).astype(object)
    if "roles" not in people:
        people["roles"] = None
    people["roles"] = pd.Series([list(r) if isinstance(r, list | np.ndarray) else []
                                 for r in people["roles"]], index=people.index, dtype=object)
    return people[schema.names("people")]


# -- the stage -------------------------------------------------------------------------------
def build_people(messages: Path | str | Iterable[pd.DataFrame], directory_df: pd.DataFrame,
                 config: Mapping[str, Any] | Study | ProfileConfig | None = None,
                 *, optouts: Container[str] = (), work_dir: Path | str | None = None,
                 batch_runner: BatchRunner = run_batches_here
                 ) -> tuple[pd.DataFrame, dict[str, int]]:
    """One row per person with enough data (PEOPLE contract), and the counts of the others.

    ``messages`` is the hive-partitioned dataset folder, or an iterable of per-mailbox
    DataFrames with the MESSAGES columns. Counts name who was left out and why:
    below the thresholds, opted out, mailboxes without a directory row, directory people
    without a mailbox; and the organisation's totals (messages deduplicated on message_id).

    With ``work_dir`` (the study's ``profile_work`` folder), a dataset folder is profiled one
    batch at a time with each batch's result on disk: memory stays within
    ``[profile] memory_mb`` and a killed run restarts where it stopped; ``batch_runner``
    runs the batches (here by default; a cluster's runner maps ``work.profile_batch`` over
    them as tasks). Without ``work_dir``, the message ids are kept in memory (DataFrames,
    small inputs).
    """
    cfg = ProfileConfig.from_config(config)
    if isinstance(messages, str | Path) and work_dir is not None:
        feats, n_unique, rows = _features_on_disk(Path(messages), cfg, Path(work_dir),
                                                  batch_runner)
    elif isinstance(messages, str | Path):
        feats, n_unique, rows = _features_in_memory(
            iter_message_batches(messages, cfg.batch_budget), cfg)
    else:
        feats, n_unique, rows = _features_in_memory(_frames_to_tables(messages), cfg)
    directory = directory_df if directory_df is not None else pd.DataFrame(columns=["person"])
    directory = directory.drop_duplicates("person")
    d_people = set(directory["person"])
    mb_people = set(feats["person"])
    opt = {p for p in d_people | mb_people if p in optouts}
    counts: dict[str, int] = {
        "rows": int(rows),
        "messages_unique": int(n_unique),
        "mailboxes": len(mb_people),
        "directory_people": len(d_people),
        "directory_without_mailbox": len(d_people - mb_people - opt),
        "mailbox_without_directory": len(mb_people - d_people - opt),
        "opted_out": len(mb_people & opt),
    }
    feats = feats[~feats["person"].isin(opt)]
    few_msg = feats["n_messages"] < cfg.min_messages
    few_days = feats["active_days"] < cfg.min_active_days
    counts["below_min_messages"] = int(few_msg.sum())
    counts["below_min_active_days"] = int((few_days & ~few_msg).sum())
    feats = feats[~(few_msg | few_days)].reset_index(drop=True)
    feats["work_pattern"] = pd.Series(work_pattern(feats, cfg.work_pattern).to_numpy(),
                                      index=feats.index, dtype=object)
    feats["habits"] = pd.Series(_habits(feats, cfg.rules()), index=feats.index, dtype=object)
    people = _with_directory(feats, directory)
    counts["people"] = len(people)
    counts["people_without_directory"] = int((~people["person"].isin(d_people)).sum())
    return schema.check(people, "people"), counts


def write_people(study: Study, people: pd.DataFrame) -> Path:
    return study.catalog.write_table("people", people)


def load_people(study: Study) -> pd.DataFrame:
    if not study.catalog.exists("people"):
        raise StudyError("nobody profiled yet: run 'mailstudy profile' first")
    return study.catalog.read_table("people")
