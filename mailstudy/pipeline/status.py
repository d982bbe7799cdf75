"""Stage statuses, callbacks and the pipeline's error."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from mailstudy.study import StudyError

if TYPE_CHECKING:
    from mailstudy.pipeline.run import StageResult  # noqa: F401

# Stage statuses.
RAN = "ran"
SKIPPED = "skipped"
NOT_CONFIGURED = "not configured"
FAILED = "failed"
NOT_RUN = "not run"  # an earlier stage failed
NOT_SELECTED = "not selected"  # outside --only / --from

#: ``progress(stage, done, total, unit)``: advance of a long stage (total may be None).
ProgressFn = Callable[[str, int, int | None, str], None]
#: ``event(stage, status, result)``: a stage starts (status "start") or ends.
EventFn = Callable[[str, str, "StageResult | None"], None]



class PipelineError(StudyError):
    """The run was asked something impossible (an unknown stage name...)."""
