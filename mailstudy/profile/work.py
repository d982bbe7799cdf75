"""The profile stage's unit of work and how the units are put back together.

``profile_batch`` profiles one batch of mailbox partitions (the features of each of its
mailboxes and the ids of its messages) and leaves its result as two Parquet files in a work
folder; ``combine_batches`` joins every batch's features and counts the organisation's
distinct messages. Why results on disk rather than in memory:

- memory stays bounded by one batch whatever the size of the organisation: the message ids
  (one per row, the only state that grows with the rows) are never all in memory; DuckDB
  counts the distinct ones with a ``memory_limit`` and spills past it to a ``temp_directory``
  inside the work folder;
- a run killed mid-profile restarts where it stopped: a batch whose result is on disk, for
  the same files (path, size, modification time) and the same calendar settings, is not read
  again;
- the same two functions are what a cluster runs: ``profile_batch`` is one idempotent task per
  batch (a task run twice writes the same files, each renamed into place), ``combine_batches``
  the final step, on a work folder every worker sees.

Why DuckDB for the distinct count: ``pd.unique`` over every id needs all ids plus a hash table
in memory (hundreds of MB at 20 M rows, and slow once the table leaves the CPU caches); DuckDB
reads the spilled ids column by column, aggregates on every core and spills past its limit.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from mailstudy import schema
from mailstudy.profile.batches import Partition, read_batch
from mailstudy.profile.config import ProfileConfig
from mailstudy.profile.features import batch_features
from mailstudy.store import atomic_write_table

#: Bumped when batch_features changes what it computes: older batch results are then stale.
WORK_VERSION = 1
_ROWS_KEY = b"mailstudy.rows"


@dataclass(frozen=True)
class BatchResult:
    """Where one batch's result lies: its mailboxes' features and its message ids."""

    key: str
    features: Path
    ids: Path


def batch_key(batch: Sequence[Partition], cfg: ProfileConfig) -> str:
    """A fingerprint of a batch's files (path, size, mtime) and of the settings its features
    depend on (the calendar and working hours; thresholds and habits apply later)."""
    settings = [WORK_VERSION, cfg.workdays, cfg.work_start, cfg.work_end,
                cfg.public_holidays, cfg.extra_holidays]
    files = [[p.mailbox, [list(f) for f in p.files]] for p in batch]
    blob = json.dumps([settings, files], separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:32]


def _paths(work_dir: Path, key: str) -> BatchResult:
    return BatchResult(key, work_dir / f"batch-{key}.features.parquet",
                       work_dir / f"batch-{key}.ids.parquet")


def empty_features() -> pd.DataFrame:
    """The columns ``batch_features`` returns, with no row."""
    ints = ("n_messages", "active_days", "_n_sent")
    floats = [*schema.FEATURE_NAMES, "_before", "_after", "_within"]
    return pd.DataFrame({"person": pd.Series(dtype=object),
                         **{c: pd.Series(dtype="int64") for c in ints},
                         **{c: pd.Series(dtype="float64") for c in floats}})


def profile_batch(messages_dir: Path | str, batch: Sequence[Partition], cfg: ProfileConfig,
                  work_dir: Path | str) -> BatchResult:
    """Profile one batch of mailbox partitions (``plan_batches`` makes them) and leave its
    result in ``work_dir``: ``batch-KEY.ids.parquet`` (column ``id``, uint64, the batch's
    message ids, drafts and junk left out) then ``batch-KEY.features.parquet`` (one row per
    mailbox, the ``batch_features`` columns; the batch's row count in its metadata).

    Idempotent: when the features file of this key exists, nothing is read. Each file is
    written to a temporary name and renamed, the features last, so a killed task leaves
    either a whole result or none.
    """
    work_dir = Path(work_dir)
    out = _paths(work_dir, batch_key(batch, cfg))
    if out.features.exists() and out.ids.exists():
        return out
    table = read_batch(messages_dir, batch)
    rows = len(table)
    if rows:
        feats, ids = batch_features(table, cfg)
    else:
        feats, ids = empty_features(), np.zeros(0, dtype=np.uint64)
    del table
    atomic_write_table(pa.table({"id": pa.array(ids, pa.uint64())}), out.ids)
    ftable = pa.Table.from_pandas(feats, preserve_index=False)
    ftable = ftable.replace_schema_metadata({**(ftable.schema.metadata or {}),
                                             _ROWS_KEY: str(rows).encode()})
    atomic_write_table(ftable, out.features)
    pa.default_memory_pool().release_unused()  # give the batch's buffers back before the next
    return out


def combine_batches(results: Sequence[BatchResult], cfg: ProfileConfig
                    ) -> tuple[pd.DataFrame, int, int]:
    """Every batch's features (one row per person), the number of distinct message ids across
    all batches, and the number of rows read.

    A person in two batches (only when the input was split by hand) keeps the first row, as
    for in-memory input. The distinct count runs in DuckDB within ``cfg.duckdb_memory_mb``,
    spilling to a folder beside the results.
    """
    parts, rows = [], 0
    for r in results:
        t = pq.read_table(r.features)
        rows += int((t.schema.metadata or {}).get(_ROWS_KEY, b"0"))
        if t.num_rows:
            parts.append(t.to_pandas())
    feats = dedupe_people(parts)
    if not results:
        return feats, 0, 0
    spill = results[0].ids.parent / "duckdb-spill"
    return feats, count_distinct_ids([r.ids for r in results], cfg.duckdb_memory_mb, spill), rows


def dedupe_people(parts: list[pd.DataFrame]) -> pd.DataFrame:
    feats = pd.concat(parts, ignore_index=True) if parts else empty_features()
    if feats["person"].duplicated().any():
        feats = feats.groupby("person", sort=True).first().reset_index()
    return feats


def count_distinct_ids(files: Sequence[Path], memory_mb: int, spill_dir: Path) -> int:
    """Distinct values of column ``id`` over Parquet ``files``, by DuckDB in ``memory_mb``
    (spilling to ``spill_dir``, removed afterwards)."""
    import duckdb

    if not files:
        return 0
    spill_dir.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(":memory:", config={
        "memory_limit": f"{max(int(memory_mb), 64)}MB", "temp_directory": str(spill_dir),
        "preserve_insertion_order": False})
    try:
        con.execute("SET enable_progress_bar = false")  # it would print into the output
        row = con.execute("SELECT count(DISTINCT id) FROM read_parquet(?)",
                          [[str(f) for f in files]]).fetchone()
    finally:
        con.close()
        shutil.rmtree(spill_dir, ignore_errors=True)
    return int(row[0]) if row else 0


#: How the batches are run: ``(messages_dir, batches, cfg, work_dir) -> results`` in the
#: batches' order, each result what ``profile_batch`` returns for that batch (a cluster maps
#: ``profile_batch`` over them as tasks; the default runs them here, one after the other).
BatchRunner = Callable[[Path, list[list[Partition]], ProfileConfig, Path], list[BatchResult]]


def run_batches_here(messages_dir: Path, batches: list[list[Partition]], cfg: ProfileConfig,
                     work_dir: Path) -> list[BatchResult]:
    """The default :data:`BatchRunner`: every batch in this process, in order (memory holds
    one batch at a time)."""
    return [profile_batch(messages_dir, b, cfg, work_dir) for b in batches]


def prune_work_dir(work_dir: Path, keep: Sequence[BatchResult]) -> int:
    """Remove the results in ``work_dir`` that no batch of the current plan uses (a store
    changed since a killed run); returns how many files went."""
    if not work_dir.exists():
        return 0
    wanted = {p.name for r in keep for p in (r.features, r.ids)}
    gone = 0
    for f in work_dir.iterdir():
        if f.is_file() and f.name not in wanted:
            f.unlink(missing_ok=True)
            gone += 1
    return gone


def planned_results(batches: Sequence[Sequence[Partition]], cfg: ProfileConfig,
                    work_dir: Path) -> list[BatchResult]:
    """Where each planned batch's result lies (written or not yet)."""
    return [_paths(work_dir, batch_key(b, cfg)) for b in batches]
