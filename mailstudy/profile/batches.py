"""Reading the messages dataset in bounded batches, and the Arrow helpers that turn its
columns into numpy without Python objects.

The dataset is streamed partition by partition (whole mailboxes, grouped into batches of about
``ProfileConfig.batch_budget`` of Parquet, derived from ``[profile] memory_mb``) so memory
stays bounded by the batch, not the organisation; the address lists are reduced in Arrow to two
booleans (is the owner in To, in Cc) before any Python object exists.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from mailstudy import schema
from mailstudy.profile.config import ProfileError
from mailstudy.store import PARTITION

#: Columns of MESSAGES that profile reads (the benchmark reads exactly these with pandas).
NEEDED_COLUMNS = [
    "mailbox", "direction", "folder_role", "folder_id", "message_id", "in_reply_to",
    "date_utc", "date_local", "is_bulk", "seen", "client_family", "n_to", "n_cc", "n_bcc",
    "n_external", "n_attachments", "text_bytes", "is_reply", "is_forward", "to", "cc",
]


def _id64(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """uint64 of string ids; nulls -> 0. Pseudonyms ('m' + 16 hex) are parsed, not hashed."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    n = len(arr)
    if n == 0:
        return np.zeros(0, dtype=np.uint64)
    nulls = arr.is_null().to_numpy(zero_copy_only=False) if arr.null_count else None
    filled = pc.fill_null(arr, "x0000000000000000") if arr.null_count else arr
    filled = filled.cast(pa.string())
    lens = pc.utf8_length(filled).to_numpy(zero_copy_only=False)
    if (lens == 17).all():
        offs = np.frombuffer(filled.buffers()[1], dtype=np.int32)[filled.offset:]
        data = np.frombuffer(filled.buffers()[2], dtype=np.uint8)
        chars = data[offs[0]:offs[0] + 17 * n].reshape(n, 17)[:, 1:]
        vals = _HEX[chars]
        if (vals != 255).all():
            ids = np.zeros(n, dtype=np.uint64)
            for i in range(16):
                ids = (ids << np.uint64(4)) | vals[:, i].astype(np.uint64)
            if nulls is not None:
                ids[nulls] = 0
            return ids
    ids = pd.util.hash_array(np.asarray(filled.to_pylist(), dtype=object)).astype(np.uint64)
    if nulls is not None:
        ids[nulls] = 0
    return ids


_HEX = np.full(256, 255, dtype=np.uint8)
for _i, _c in enumerate("0123456789abcdef"):
    _HEX[ord(_c)] = _i
    _HEX[ord(_c.upper())] = _i


def _owner_in(lists: pa.ChunkedArray | pa.Array, row_code: np.ndarray,
              names: pa.Array) -> np.ndarray:
    """Row mask: does the row's list hold the row's owner? Pure Arrow/numpy: list items are
    coded against the batch's mailbox dictionary and compared with the row's code."""
    if isinstance(lists, pa.ChunkedArray):
        lists = lists.combine_chunks()
    n = len(lists)
    out = np.zeros(n, dtype=bool)
    if n == 0:
        return out
    flat = pc.list_flatten(lists)
    if len(flat) == 0:
        return out
    parent = pc.list_parent_indices(lists).to_numpy()
    code = pc.fill_null(pc.index_in(flat, value_set=names), -1).to_numpy()
    out[parent[code == row_code[parent]]] = True
    return out


def _first(key: np.ndarray) -> np.ndarray:
    """Mask of the first occurrence of each key (hash-based, order kept)."""
    return ~pd.Series(key, copy=False).duplicated().to_numpy()


@dataclass(frozen=True)
class Partition:
    """One mailbox's files: paths relative to the dataset root, with their size and mtime
    (the fingerprint of a finished batch)."""

    mailbox: str
    files: tuple[tuple[str, int, int], ...]  # (relative path, bytes, mtime in ns)

    @property
    def nbytes(self) -> int:
        return sum(f[1] for f in self.files)


def _hidden(name: str) -> bool:
    return name.startswith((".", "_"))  # what Arrow's discovery ignores (temp files, locks)


def _partition_files(root: str, rel: str) -> list[tuple[str, int, int]]:
    """Every visible file under ``root/rel``, with one stat each (from ``scandir``)."""
    out = []
    with os.scandir(os.path.join(root, rel)) as entries:
        for e in entries:
            if _hidden(e.name):
                continue
            sub = f"{rel}/{e.name}"
            if e.is_dir():
                out += _partition_files(root, sub)
            else:
                st = e.stat()
                out.append((sub, st.st_size, st.st_mtime_ns))
    return out


def discover_partitions(path: Path | str) -> list[Partition]:
    """The mailbox partitions of the messages dataset, sorted by mailbox, files sorted by path
    (the order Arrow's discovery used, so rows come in the same order).

    Why not ``pyarrow.dataset`` discovery: it builds one fragment and one partition
    expression per file in Python, seconds at tens of thousands of mailboxes, and its
    fragments keep their Parquet footers alive as long as the dataset. One ``scandir`` per
    folder costs a stat per file and holds nothing.
    """
    root = str(path)
    if not os.path.isdir(root):
        return []
    parts = []
    with os.scandir(root) as entries:
        for e in entries:
            if _hidden(e.name):
                continue
            key, eq, value = e.name.partition("=")
            if not e.is_dir() or key != PARTITION or not eq:
                raise ProfileError("the messages dataset is not partitioned by mailbox")
            files = sorted(_partition_files(root, e.name))
            if files:
                parts.append(Partition(unquote(value), tuple(files)))
    return sorted(parts, key=lambda p: p.mailbox)


def plan_batches(partitions: Iterable[Partition], batch_bytes: int) -> list[list[Partition]]:
    """Whole mailboxes grouped into batches of about ``batch_bytes`` of Parquet (0: one
    mailbox per batch); a bigger mailbox is a batch alone."""
    batches: list[list[Partition]] = []
    pending: list[Partition] = []
    size = 0
    for part in partitions:
        if pending and size + part.nbytes > batch_bytes:
            batches.append(pending)
            pending, size = [], 0
        pending.append(part)
        size += part.nbytes
    if pending:
        batches.append(pending)
    return batches


def read_batch(path: Path | str, batch: Sequence[Partition]) -> pa.Table:
    """The needed columns of a batch's files, read together by Arrow's threaded scanner,
    the mailbox column coming from each file's hive partition."""
    root = str(path)
    files = [os.path.join(root, rel) for part in batch for rel, _, _ in part.files]
    if not files:
        return schema.arrow_schema("messages").empty_table().select(NEEDED_COLUMNS)
    hive = ds.partitioning(pa.schema([(PARTITION, pa.string())]), flavor="hive")
    sub = ds.dataset(files, schema=schema.arrow_schema("messages"), format="parquet",
                     partitioning=hive, partition_base_dir=root)
    return sub.to_table(columns=NEEDED_COLUMNS)


def iter_message_batches(path: Path | str,
                         batch_bytes: int = 128 * 2**20) -> Iterator[pa.Table]:
    """Arrow tables of the needed columns, whole mailboxes at a time, about ``batch_bytes`` of
    Parquet files per batch (0: one mailbox per batch)."""
    for batch in plan_batches(discover_partitions(path), batch_bytes):
        yield read_batch(path, batch)


def _frames_to_tables(frames: Iterable[pd.DataFrame]) -> Iterator[pa.Table]:
    target = schema.arrow_schema("messages")
    fields = [target.field(c) for c in NEEDED_COLUMNS]
    for df in frames:
        schema.check(df, "messages")
        yield pa.Table.from_pandas(df[NEEDED_COLUMNS], schema=pa.schema(fields),
                                   preserve_index=False)



def _np(col: pa.ChunkedArray, fill: Any = None) -> np.ndarray:
    if fill is not None and col.null_count:
        col = pc.fill_null(col, fill)
    return col.to_numpy()


def _ts(col: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """int64 microseconds and a validity mask."""
    micros = col.cast(pa.timestamp("us", tz=col.type.tz)) if col.type.unit != "us" else col
    valid = ~pc.is_null(micros).to_numpy(zero_copy_only=False)
    return pc.fill_null(micros.cast(pa.int64()), 0).to_numpy(), valid
