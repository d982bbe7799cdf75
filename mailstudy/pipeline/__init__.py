"""``mailstudy run``: every configured stage in order, skipping those whose inputs are unchanged.

Why fingerprints and not timestamps of the last run: an audit is re-run many times over a
campaign (a new export arrives, a threshold is changed in study.toml, an opt-out comes in), and
most stages are slow. Each stage declares its inputs (files and folders) and the study.toml
sections it reads; their fingerprint is stored in ``data/runs/state.json`` after a successful
run, together with a fingerprint of the stage's outputs. A stage is skipped when both are as
stored: nothing it reads changed and nobody touched what it wrote.

Fingerprints: a single file is hashed by content (so a stage that rewrites identical bytes does
not wake up the next one); a folder by the names, sizes and modification times of its files
(hashing every exported mailbox by content on each run would cost as much as collecting it).
Only digests are stored: never a path, since paths under exports carry names.


Map: ``state`` (fingerprints, ``data/runs/state.json``), ``bodies`` (where the stages read and
write, and each stage's body), ``registry`` (the ordered ``STAGES``), ``run``
(:func:`run_pipeline` and its report), ``status`` (statuses, callbacks, ``PipelineError``),
``compare`` (:func:`compare_campaigns`: ``mailstudy compare``, two studies wired together).
"""

from mailstudy.pipeline.bodies import StageContext, StageFailure, collect_sources, resolve_path
from mailstudy.pipeline.compare import compare_campaigns, comparison
from mailstudy.pipeline.registry import STAGE_NAMES, STAGES, Stage, get_stage
from mailstudy.pipeline.run import RunReport, StageResult, run_pipeline
from mailstudy.pipeline.state import fingerprint, fingerprint_path, load_state, save_state
from mailstudy.pipeline.status import (
    FAILED,
    NOT_CONFIGURED,
    NOT_RUN,
    NOT_SELECTED,
    RAN,
    SKIPPED,
    EventFn,
    PipelineError,
    ProgressFn,
)

__all__ = ["FAILED", "NOT_CONFIGURED", "NOT_RUN", "NOT_SELECTED", "RAN", "SKIPPED", "STAGES",
           "STAGE_NAMES", "EventFn", "PipelineError", "ProgressFn", "RunReport", "Stage",
           "StageContext", "StageFailure", "StageResult", "collect_sources", "compare_campaigns",
           "comparison", "fingerprint",
           "fingerprint_path", "get_stage", "load_state", "resolve_path", "run_pipeline",
           "save_state"]
