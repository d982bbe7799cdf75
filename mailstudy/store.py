"""The pseudonymised message store: a hive-partitioned Parquet dataset.

Layout: ``data/messages/mailbox=<pseudonym>/part-<hash>.parquet``. ``pandas.read_parquet`` on
``data/messages`` reads it whole; stages that stream read one partition at a time.

Why this is crash-safe without a separate checkpoint: the dataset *is* the checkpoint. Each
batch is written to a hidden temporary file (readers ignore names starting with ``.``), synced,
then renamed into place, which is atomic. A collector that restarts reads the ``item_id``
column of the mailbox's partition and skips what is there, so a SIGKILL at any moment loses at
most an uncommitted batch, which the re-run redoes, and never doubles a row. The batch file name
is a hash of its item ids, so the same batch always lands under the same name.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mailstudy import schema

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow.dataset as ds

PARTITION = "mailbox"


def file_schema() -> pa.Schema:
    """Schema of one Parquet file: the contract minus the partition column."""
    full = schema.arrow_schema("messages")
    return full.remove(full.get_field_index(PARTITION))


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_table(table: pa.Table, path: Path,
                       guard: Callable[[], None] | None = None) -> None:
    """Write ``table`` to ``path`` so that readers see all of it or nothing. ``guard`` runs
    just before the file is published (a collector's worker checks there that its collector
    still lives: writing and syncing can take longer than the collector's death)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{uuid.uuid4().hex}.parquet")
    try:
        pq.write_table(table, tmp, compression="zstd")
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        if guard is not None:
            guard()
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    _fsync_dir(path.parent)


def rows_table(rows: list[dict[str, Any]]) -> pa.Table:
    """Rows (dicts of the messages contract) as one file's table."""
    fs = file_schema()
    # column by column: several times faster than from_pylist's row dicts
    return pa.Table.from_pydict({k: [r.get(k) for r in rows] for k in fs.names}, schema=fs)


class MessageStore:
    """Appends batches of rows per mailbox, atomically and idempotently."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def partition(self, mailbox: str) -> Path:
        return self.root / f"{PARTITION}={mailbox}"

    def files(self, mailbox: str | None = None) -> list[Path]:
        base = self.partition(mailbox) if mailbox else self.root
        pattern = "part-*.parquet" if mailbox else f"{PARTITION}=*/part-*.parquet"
        return sorted(base.glob(pattern)) if base.exists() else []

    def clean_tmp(self) -> int:
        """Remove temporary files left by a killed writer; returns how many."""
        n = 0
        for t in self.root.glob(f"{PARTITION}=*/.tmp-*"):
            t.unlink(missing_ok=True)
            n += 1
        return n

    def mailboxes(self) -> list[str]:
        if not self.root.exists():
            return []
        return sorted(p.name.split("=", 1)[1] for p in self.root.glob(f"{PARTITION}=*")
                      if p.is_dir() and any(p.glob("part-*.parquet")))

    def read_columns(self, mailbox: str, columns: Sequence[str]) -> pa.Table:
        files = self.files(mailbox)
        if not files:
            return pa.table({c: pa.array([], file_schema().field(c).type) for c in columns})
        return pa.concat_tables(pq.read_table(f, columns=list(columns)) for f in files)

    def existing_items(self, mailbox: str) -> set[str]:
        return set(self.read_columns(mailbox, ["item_id"]).column("item_id").to_pylist())

    def write_batch(self, mailbox: str, rows: list[dict[str, Any]],
                    guard: Callable[[], None] | None = None) -> Path | None:
        """Commit ``rows`` (dicts of the messages contract) for ``mailbox``."""
        if not rows:
            return None
        table = rows_table(rows)
        path = self.part_path(mailbox, table)
        atomic_write_table(table, path, guard)
        return path

    def part_path(self, mailbox: str, table: pa.Table) -> Path:
        """Where a batch lands: named by a hash of its item ids, so the same batch always
        lands under the same name."""
        ids = sorted(table.column("item_id").to_pylist())
        name = hashlib.sha256("\n".join(ids).encode()).hexdigest()[:24]
        return self.partition(mailbox) / f"part-{name}.parquet"

    def delete_rows(self, mailbox: str, predicate: Callable[[pa.Table], pa.Array]) -> int:
        """Remove the rows of ``mailbox`` where ``predicate(table)`` is true; each file is
        rewritten in place (temp + rename), so a crash leaves either the old or the new file."""
        removed = 0
        for f in self.files(mailbox):
            t = pq.read_table(f)
            mask = predicate(t)
            n = pc.sum(mask).as_py() or 0
            if not n:
                continue
            removed += n
            keep = t.filter(pc.invert(mask))
            if keep.num_rows:
                atomic_write_table(keep, f)
            else:
                f.unlink()
                _fsync_dir(f.parent)
        return removed


    def drop_partition(self, mailbox: str) -> int:
        """Delete a mailbox's partition (an objection); returns the rows it held."""
        import shutil

        files = self.files(mailbox)
        rows = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
        part = self.partition(mailbox)
        if part.exists():
            shutil.rmtree(part)
        self.lock_path(mailbox).unlink(missing_ok=True)
        _fsync_dir(self.root)
        return rows

    def lock_path(self, mailbox: str) -> Path:
        """The lock a collector holds while it writes a mailbox's partition."""
        return self.root / f".lock-{mailbox}"

    def replace_people(self, persons: set[str], marker: str) -> tuple[int, int]:
        """Replace the pseudonyms ``persons`` by ``marker`` in every sender and recipient
        column of every file; only files that hold one are rewritten (temp + rename).
        Returns (files rewritten, references replaced)."""
        wanted = pa.array(sorted(persons), pa.string())
        files = n_refs = 0
        for f in self.files():
            refs = _count_refs(pq.read_table(f, columns=list(PERSON_COLUMNS)), wanted)
            if not refs:
                continue
            table = pq.read_table(f)
            for col in PERSON_COLUMNS:
                i = table.schema.get_field_index(col)
                table = table.set_column(i, col, _replace(table.column(col), wanted, marker))
            atomic_write_table(table, f)
            files += 1
            n_refs += refs
        return files, n_refs


#: Columns of the message store that hold person pseudonyms (besides the partition).
PERSON_COLUMNS = ("sender", "to", "cc", "bcc")


def _count_refs(table: pa.Table, wanted: pa.Array) -> int:
    n = 0
    for col in table.columns:
        values = pc.list_flatten(col) if pa.types.is_list(col.type) else col
        n += pc.sum(pc.is_in(values, value_set=wanted)).as_py() or 0
    return n


def _replace(col: pa.ChunkedArray, wanted: pa.Array, marker: str) -> pa.ChunkedArray:
    chunks = []
    for ch in col.chunks:
        if pa.types.is_list(ch.type):
            flat = ch.values
            new = pc.if_else(pc.is_in(flat, value_set=wanted), marker, flat)
            chunks.append(pa.ListArray.from_arrays(ch.offsets, new, mask=ch.is_null()))
        else:
            chunks.append(pc.if_else(pc.is_in(ch, value_set=wanted), marker, ch))
    return pa.chunked_array(chunks, type=col.type)


def dataset(root: Path) -> ds.Dataset:
    # imported here: pyarrow.dataset imports pandas (~0.3 s), which collection never needs
    import pyarrow.dataset as ds

    return ds.dataset(str(root), format="parquet", partitioning="hive",
                      exclude_invalid_files=False, ignore_prefixes=[".", "_"])


def read_messages(root: Path, columns: Iterable[str] | None = None,
                  mailboxes: Iterable[str] | None = None) -> pd.DataFrame:
    """The message table (or some columns of it) as a DataFrame, checked against the contract
    when read whole."""
    root = Path(root)
    cols = list(columns) if columns is not None else None
    if not root.exists() or not any(root.glob(f"{PARTITION}=*/part-*.parquet")):
        empty = schema.arrow_schema("messages").empty_table().to_pandas()
        return empty[cols] if cols else empty
    d = dataset(root)
    flt = None
    if mailboxes is not None:
        import pyarrow.dataset as ds

        flt = ds.field(PARTITION).isin(list(mailboxes))
    df = d.to_table(columns=cols, filter=flt).to_pandas()
    if PARTITION in df.columns:
        df[PARTITION] = df[PARTITION].astype(str)
    if cols is None:
        schema.check(df, "messages")
    return df
