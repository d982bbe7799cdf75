"""The profile stage's per-batch work as Dask tasks: one task per batch of whole mailboxes
(partitions), grouped by size as the embedded run groups them; the client keeps only the small
per-person results and does the cross-mailbox part (deduplication of message ids, thresholds,
objections, the directory join) as the embedded run does.

A task receives file paths of the shared store and the profile settings; it returns
pseudonymised per-person features and message-id hashes (no identity exists in the store).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mailstudy.profile.config import ProfileConfig


def batch_files(messages: Path, batch_bytes: int) -> list[list[str]]:
    """The files of each batch: whole mailboxes, about ``batch_bytes`` of Parquet each."""
    import pyarrow.dataset as ds

    from mailstudy import schema
    from mailstudy.profile.batches import _fragments_by_mailbox

    if not Path(messages).exists():
        return []
    dataset = ds.dataset(messages, schema=schema.arrow_schema("messages"), format="parquet",
                         partitioning="hive")
    out: list[list[str]] = []
    pending: list[str] = []
    size = 0
    for _mb, frags, nbytes in _fragments_by_mailbox(dataset):
        if pending and size + nbytes > batch_bytes:
            out.append(pending)
            pending, size = [], 0
        pending.extend(f.path for f in frags)
        size += nbytes
    if pending:
        out.append(pending)
    return out


def profile_batch_task(messages: str, files: list[str], cfg: ProfileConfig
                       ) -> tuple[pd.DataFrame, np.ndarray, int]:
    """On a worker: read one batch's needed columns and compute its per-person features."""
    import pyarrow.dataset as ds

    from mailstudy import schema
    from mailstudy.profile.batches import NEEDED_COLUMNS
    from mailstudy.profile.features import batch_features

    d = ds.dataset(files, schema=schema.arrow_schema("messages"), format="parquet",
                   partitioning="hive", partition_base_dir=messages)
    table = d.to_table(columns=NEEDED_COLUMNS)
    feats, ids = batch_features(table, cfg)
    return feats, ids, len(table)


def cluster_batch_map(client: Any):  # -> Callable[[Path, ProfileConfig], BatchResults]
    """A ``batch_map`` for :func:`mailstudy.profile.run.run_profile` that runs on ``client``."""

    def run(messages: Path, cfg: ProfileConfig) -> Iterator[tuple[pd.DataFrame, np.ndarray,
                                                                  int]]:
        from distributed import as_completed

        run_id = uuid.uuid4().hex[:12]
        futures = [client.submit(profile_batch_task, str(messages), files, cfg, pure=False,
                                 key=f"profile-{run_id}-{i}")
                   for i, files in enumerate(batch_files(messages, cfg.batch_bytes))]
        results = {}
        for f in as_completed(futures, loop=client.loop):
            results[f.key] = f.result()
        # in batch order, so the result never depends on which worker finished first
        for f in futures:
            r = results.pop(f.key)
            if r[2]:
                yield r

    return run
