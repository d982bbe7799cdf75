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

from collections.abc import Callable, Container, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from mailstudy import schema
from mailstudy.profile.batches import _frames_to_tables, iter_message_batches
from mailstudy.profile.config import ProfileConfig, Rule
from mailstudy.profile.features import batch_features
from mailstudy.study import Study, StudyError
from mailstudy.text import UNKNOWN


def work_pattern(feats: pd.DataFrame, wp: Mapping[str, float]) -> pd.Series:
    """Viva's per-person working-pattern class from the before/within/after shares."""
    b, a, w = (feats[c].to_numpy(dtype=float) for c in ("_before", "_after", "_within"))
    each = float(wp["always_on_min_each"])
    out = np.where(b >= a, "extended_morning", "extended_evening").astype(object)
    out = np.where(w > float(wp["standard_min_within"]), "standard", out)
    out = np.where(w < float(wp["overnight_max_within"]), "overnight", out)
    out = np.where((b > each) & (a > each), "always_on", out)
    out = np.where((feats["_n_sent"].to_numpy() < float(wp["absent_min_sent"])) | np.isnan(w),
                   "absent", out)
    return pd.Series(out, index=feats.index, name="work_pattern")


def _habits(feats: pd.DataFrame, rules: list[Rule]) -> list[list[str]]:
    hits = np.column_stack([r.apply(feats) for r in rules]) if rules else \
        np.zeros((len(feats), 0), dtype=bool)
    labels = [r.label for r in rules]
    return [[labels[j] for j in np.flatnonzero(row)] for row in hits]


#: Per-batch results: (features, message ids, rows read) of each batch of whole mailboxes.
BatchResults = Iterable[tuple[pd.DataFrame, np.ndarray, int]]


def local_batches(batches: Iterable[pa.Table], cfg: ProfileConfig) -> BatchResults:
    """:func:`batch_features` of each batch, here (the embedded run)."""
    for t in batches:
        if len(t):
            yield (*batch_features(t, cfg), len(t))


def _features(results: BatchResults) -> tuple[pd.DataFrame, np.ndarray, int]:
    """Features of every mailbox (one row per person), the organisation's unique message ids
    and the number of rows read."""
    parts, ids, rows = [], [], 0
    for f, m, n in results:
        rows += n
        parts.append(f)
        ids.append(m)
    feats = (pd.concat(parts, ignore_index=True) if parts
             else pd.DataFrame({"person": pd.Series(dtype=object),
                                **{c: pd.Series(dtype="int64")
                                   for c in ("n_messages", "active_days", "_n_sent")},
                                **{c: pd.Series(dtype="float64") for c in
                                   [*schema.FEATURE_NAMES, "_before", "_after", "_within"]}}))
    feats = feats.groupby("person", sort=True).first().reset_index() \
        if feats["person"].duplicated().any() else feats
    all_ids = pd.unique(np.concatenate(ids)) if ids else np.zeros(0)
    return feats, all_ids, rows


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
                 *, optouts: Container[str] = (),
                 batch_map: Callable[[Path, ProfileConfig], BatchResults] | None = None
                 ) -> tuple[pd.DataFrame, dict[str, int]]:
    """One row per person with enough data (PEOPLE contract), and the counts of the others.

    ``messages`` is the hive-partitioned dataset folder, or an iterable of per-mailbox
    DataFrames with the MESSAGES columns. Counts name who was left out and why:
    below the thresholds, opted out, mailboxes without a directory row, directory people
    without a mailbox; and the organisation's totals (messages deduplicated on message_id).
    ``batch_map(messages, cfg)``, when given, computes the per-batch results elsewhere (a Dask
    cluster: :mod:`mailstudy.pipeline.cluster_profile`).
    """
    cfg = ProfileConfig.from_config(config)
    if isinstance(messages, str | Path) and batch_map is not None:
        results = batch_map(Path(messages), cfg)
    elif isinstance(messages, str | Path):
        results = local_batches(iter_message_batches(messages, cfg.batch_bytes), cfg)
    else:
        results = local_batches(_frames_to_tables(messages), cfg)
    feats, all_ids, rows = _features(results)
    d = directory_df if directory_df is not None else pd.DataFrame(columns=["person"])
    d = d.drop_duplicates("person")
    d_people = set(d["person"])
    mb_people = set(feats["person"])
    opt = {p for p in d_people | mb_people if p in optouts}
    counts: dict[str, int] = {
        "rows": int(rows),
        "messages_unique": int(len(all_ids)),
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
    people = _with_directory(feats, d)
    counts["people"] = len(people)
    counts["people_without_directory"] = int((~people["person"].isin(d_people)).sum())
    return schema.check(people, "people"), counts


def write_people(study: Study, people: pd.DataFrame) -> Path:
    return study.catalog.write_table("people", people)


def load_people(study: Study) -> pd.DataFrame:
    if not study.catalog.exists("people"):
        raise StudyError("nobody profiled yet: run 'mailstudy profile' first")
    return study.catalog.read_table("people")
