"""Per-person usage profiles from pseudonymised messages, and group profiles safe to publish.

``build_people`` streams the messages dataset whole mailboxes at a time, so memory stays bounded
by the batch, not the organisation; within a batch everything is vectorised numpy and Arrow.

- :mod:`.config`: ``ProfileConfig`` (working days and hours, thresholds), habit ``Rule``\\ s,
  the default habits and working-pattern thresholds, ``ProfileError``.
- :mod:`.batches`: ``discover_partitions`` and ``plan_batches`` (the dataset in bounded
  batches of whole mailboxes), ``read_batch``, and the Arrow helpers that turn columns into
  numpy.
- :mod:`.features`: ``batch_features``, every feature of every mailbox in one batch.
- :mod:`.work`: ``profile_batch`` (one batch of partitions, its result on disk: the unit a
  cluster runs as a task) and ``combine_batches`` (every batch's features, and the distinct
  messages counted by DuckDB within the memory budget).
- :mod:`.people`: ``build_people`` (the PEOPLE table, with working pattern and habits),
  ``write_people`` / ``load_people``.
- :mod:`.groups`: ``group_profiles``, the group tables with small cells hidden.
- :mod:`.run`: ``run_profile``, the ``mailstudy profile`` stage.
"""

from mailstudy.profile.batches import (
    NEEDED_COLUMNS,
    Partition,
    discover_partitions,
    iter_message_batches,
    plan_batches,
    read_batch,
)
from mailstudy.profile.config import (
    DEFAULT_HABITS,
    DEFAULT_WORK_PATTERN,
    WORK_PATTERNS,
    ProfileConfig,
    ProfileError,
    Rule,
)
from mailstudy.profile.features import batch_features
from mailstudy.profile.groups import GROUPINGS, NO_HABIT, TOTAL_LABEL, GroupProfiles, group_profiles
from mailstudy.profile.people import (
    build_people,
    load_people,
    work_pattern,
    write_people,
)
from mailstudy.profile.run import ProfileResult, run_profile
from mailstudy.profile.work import (
    BatchResult,
    BatchRunner,
    combine_batches,
    profile_batch,
    run_batches_here,
)

__all__ = [
    "DEFAULT_HABITS", "DEFAULT_WORK_PATTERN", "GROUPINGS", "NEEDED_COLUMNS", "NO_HABIT",
    "TOTAL_LABEL", "WORK_PATTERNS", "BatchResult", "BatchRunner", "GroupProfiles",
    "Partition", "ProfileConfig", "ProfileError", "ProfileResult", "Rule", "batch_features",
    "build_people", "combine_batches", "discover_partitions", "group_profiles",
    "iter_message_batches", "load_people", "plan_batches", "profile_batch", "read_batch",
    "run_batches_here", "run_profile", "work_pattern", "write_people",
]
