"""The profile stage's per-batch work as Dask tasks: one task per batch of whole mailboxes
(partitions), planned within ``[profile] memory_mb`` as the embedded run plans them; the
client keeps only the cross-mailbox part (distinct message ids, thresholds, objections, the
directory join), exactly as the embedded run does.

A task receives paths of the shared store and the profile settings, and writes its result
into the study's ``profile_work`` folder (operator zone, inside the shared study): per-person
pseudonymised features and message-id hashes; no identity exists in the store. A batch whose
result is already there is not read again, so a task re-run after a worker loss, or a run
restarted after a kill, ends like an uninterrupted run.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from mailstudy.profile import BatchResult, Partition, ProfileConfig, profile_batch
from mailstudy.profile.work import BatchRunner


def cluster_batch_runner(client: Any) -> BatchRunner:
    """A ``batch_runner`` for :func:`mailstudy.profile.run.run_profile` that runs on
    ``client``: every batch a task, the results returned in batch order (never in the order
    workers finished, so the result does not depend on the cluster)."""

    def run(messages: Path, batches: list[list[Partition]], cfg: ProfileConfig,
            work_dir: Path) -> list[BatchResult]:
        run_id = uuid.uuid4().hex[:12]
        futures = [client.submit(profile_batch, str(messages), batch, cfg, str(work_dir),
                                 pure=False, key=f"profile-{run_id}-{i}")
                   for i, batch in enumerate(batches)]
        return client.gather(futures)

    return run
