"""Reading the messages dataset in bounded batches, and the Arrow helpers that turn its
columns into numpy without Python objects.

The dataset is streamed partition by partition (whole mailboxes, grouped into batches of about
``[profile] batch_mb`` of Parquet, 128 by default) so memory stays bounded by the batch, not
the organisation; the address lists are reduced in Arrow to two booleans (is the owner in To,
in Cc) before any Python object exists.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from mailstudy import schema
from mailstudy.profile.config import ProfileError

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
            v = np.zeros(n, dtype=np.uint64)
            for i in range(16):
                v = (v << np.uint64(4)) | vals[:, i].astype(np.uint64)
            if nulls is not None:
                v[nulls] = 0
            return v
    v = pd.util.hash_array(np.asarray(filled.to_pylist(), dtype=object)).astype(np.uint64)
    if nulls is not None:
        v[nulls] = 0
    return v


_HEX = np.full(256, 255, dtype=np.uint8)
for _i, _c in enumerate("0123456789abcdef"):
    _HEX[ord(_c)] = _i
    _HEX[ord(_c.upper())] = _i


def _owner_in(lists: pa.ChunkedArray | pa.Array, g: np.ndarray,
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
    out[parent[code == g[parent]]] = True
    return out


def _first(key: np.ndarray) -> np.ndarray:
    """Mask of the first occurrence of each key (hash-based, order kept)."""
    return ~pd.Series(key, copy=False).duplicated().to_numpy()


def _fragments_by_mailbox(dataset: ds.FileSystemDataset
                          ) -> list[tuple[str, list[ds.Fragment], int]]:
    """(mailbox, its files, their size in bytes), by mailbox. Sizes come from one stat per
    file: opening 5,000 Parquet footers just to count rows would cost seconds."""
    frags = list(dataset.get_fragments())
    sizes = [i.size for i in dataset.filesystem.get_file_info([f.path for f in frags])]
    groups: dict[str, tuple[list[ds.Fragment], list[int]]] = {}
    for frag, size in zip(frags, sizes, strict=True):
        mb = ds.get_partition_keys(frag.partition_expression).get("mailbox")
        if mb is None:
            raise ProfileError("the messages dataset is not partitioned by mailbox")
        g = groups.setdefault(str(mb), ([], [0]))
        g[0].append(frag)
        g[1][0] += int(size or 0)
    return [(mb, f, n[0]) for mb, (f, n) in sorted(groups.items())]


def iter_message_batches(path: Path | str,
                         batch_bytes: int = 128 * 2**20) -> Iterator[pa.Table]:
    """Arrow tables of the needed columns, whole mailboxes at a time, about ``batch_bytes`` of
    Parquet files per batch (0: one mailbox per batch).

    A batch never splits a mailbox (a bigger mailbox is a batch alone); its files are read
    together by Arrow's threaded scanner, the mailbox column coming from each file's hive
    partition.
    """
    path = Path(path)
    if not path.exists():
        return
    target = schema.arrow_schema("messages")
    dataset = ds.dataset(path, schema=target, format="parquet", partitioning="hive")
    pending: list[ds.Fragment] = []
    size = 0

    def read(frags: list[ds.Fragment]) -> pa.Table:
        sub = ds.FileSystemDataset(frags, target, dataset.format, dataset.filesystem)
        return sub.to_table(columns=NEEDED_COLUMNS)

    for _mb, frags, nbytes in _fragments_by_mailbox(dataset):
        if pending and size + nbytes > batch_bytes:
            yield read(pending)
            pending, size = [], 0
        pending.extend(frags)
        size += nbytes
    if pending:
        yield read(pending)


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
    c = col.cast(pa.timestamp("us", tz=col.type.tz)) if col.type.unit != "us" else col
    valid = ~pc.is_null(c).to_numpy(zero_copy_only=False)
    v = pc.fill_null(c.cast(pa.int64()), 0).to_numpy()
    return v, valid
