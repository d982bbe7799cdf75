"""Running the stages: selection, skipping by fingerprints, reports."""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mailstudy.errors import MailstudyError
from mailstudy.pipeline.bodies import StageContext
from mailstudy.pipeline.registry import STAGES, Stage
from mailstudy.pipeline.state import fingerprint, load_state, save_state
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
from mailstudy.study import Study


# -- the run ---------------------------------------------------------------------------------
@dataclass
class StageResult:
    name: str
    status: str
    seconds: float = 0.0
    message: str = ""
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status not in (FAILED, NOT_RUN)

    def to_json(self) -> dict[str, Any]:
        return {"stage": self.name, "status": self.status, "seconds": round(self.seconds, 3),
                "message": self.message, "summary": self.summary}


@dataclass
class RunReport:
    started: str
    stages: list[StageResult] = field(default_factory=list)
    seconds: float = 0.0
    path: Path | None = None

    @property
    def ok(self) -> bool:
        """True when every stage succeeded (ran, was unchanged or is not configured)."""
        return all(r.ok for r in self.stages)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def status(self, name: str) -> str:
        return next(r.status for r in self.stages if r.name == name)

    @property
    def ran(self) -> list[str]:
        return [r.name for r in self.stages if r.status == RAN]

    def to_json(self) -> dict[str, Any]:
        return {"kind": "pipeline", "started": self.started, "seconds": round(self.seconds, 3),
                "ok": self.ok, "stages": [r.to_json() for r in self.stages]}


def _user_errors() -> tuple[type[BaseException], ...]:
    """Error types whose messages are written for users (counts, pseudonyms, reasons)."""
    return (MailstudyError,)


def _safe_error(exc: BaseException) -> str:
    """A message fit for logs: the stages' own errors speak for themselves (they are written
    to carry no identity); others give only their type, since a library's message may quote
    a header, a cell or a path."""
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    if isinstance(exc, _user_errors()):
        return str(exc)
    return f"internal error: {type(exc).__name__} (set MAILSTUDY_DEBUG=1 for details)"


def _select(names: list[str], from_stage: str | None,
            only: str | None) -> tuple[set[str], set[str]]:
    """Stages selected, and those forced (run even when unchanged)."""
    if from_stage and only:
        raise PipelineError("--from and --only exclude each other")
    for name in (from_stage, only):
        if name is not None and name not in names:
            raise PipelineError("unknown stage {name!r}; stages are: {names}",
                                name=name, names=", ".join(names))
    if only:
        return {only}, {only}
    if from_stage:
        chosen = set(names[names.index(from_stage):])
        return chosen, chosen
    return set(names), set()


def run_pipeline(study: Study, from_stage: str | None = None, only: str | None = None, *,
                 force: bool = False, lang: str | None = None,
                 progress: ProgressFn | None = None, on_event: EventFn | None = None,
                 stages: list[Stage] | None = None) -> RunReport:
    """Run the configured stages in order and return what each did.

    ``from_stage`` runs that stage and every later one, ``only`` that stage alone; the stages
    named that way run even when their inputs are unchanged (the user asked for them), the
    others only when their fingerprints changed (``force`` runs everything selected). The
    first failing stage stops the run: later stages would read stale or partial tables.
    ``lang`` overrides ``[report] lang`` for the report. The run is saved to ``data/runs/``.
    """
    registry = stages if stages is not None else STAGES
    selected, forced = _select([s.name for s in registry], from_stage, only)
    if force:
        forced = set(selected)
    report = RunReport(started=_now())
    state = load_state(study)
    ctx = StageContext(study, progress or (lambda *a: None), lang)
    t_run = time.monotonic()
    failed = False
    for stage in registry:
        if stage.name not in selected:
            report.stages.append(StageResult(stage.name, NOT_SELECTED))
            continue
        if failed:
            report.stages.append(StageResult(stage.name, NOT_RUN,
                                             message="an earlier stage failed"))
            continue
        r = _run_stage(stage, ctx, state, stage.name in forced, on_event)
        failed = r.status == FAILED
        report.stages.append(r)
        if on_event:
            on_event(stage.name, r.status, r)
    report.seconds = time.monotonic() - t_run
    _save_report(study, report)
    return report


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _run_stage(stage: Stage, ctx: StageContext, state: dict[str, Any], forced: bool,
               on_event: EventFn | None) -> StageResult:
    """Run one selected stage, or skip it when it is unconfigured or its inputs are unchanged.

    The state records a stage only after it succeeded, with the fingerprints of its inputs
    and outputs; a failure removes its record, so the next run retries it.
    """
    study, lang = ctx.study, ctx.lang
    reason = stage.configured(study)
    if reason is not None:
        return StageResult(stage.name, NOT_CONFIGURED, message=reason)
    lang_key = {"lang": lang} if (stage.name == "report" and lang) else {}
    fp_in = fingerprint(stage.inputs(study), {"config": stage.config(study), **lang_key})
    key = stage.name + (f":{lang}" if lang_key else "")
    prev = state["stages"].get(key, {})
    if (not stage.always and not forced and prev.get("status") == "ok"
            and prev.get("inputs") == fp_in
            and prev.get("outputs") == fingerprint(stage.outputs(study))):
        return StageResult(stage.name, SKIPPED, message="inputs unchanged",
                           summary=prev.get("summary", {}))
    if on_event:
        on_event(stage.name, "start", None)
    t0 = time.monotonic()
    try:
        summary = stage.run(ctx)
        r = StageResult(stage.name, RAN, time.monotonic() - t0, summary=summary)
        # Fingerprint the inputs again: a stage may add to them (invite imports the
        # volunteers file into data/), and the next run must compare with that.
        fp_after = fingerprint(stage.inputs(study), {"config": stage.config(study), **lang_key})
        state["stages"][key] = {
            "status": "ok", "inputs": fp_after, "outputs": fingerprint(stage.outputs(study)),
            "finished": _now(), "seconds": round(r.seconds, 3), "summary": summary}
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # noqa: BLE001 - a stage failure is reported, not raised
        if os.environ.get("MAILSTUDY_DEBUG") == "1":
            raise
        r = StageResult(stage.name, FAILED, time.monotonic() - t0, _safe_error(exc),
                        getattr(exc, "summary", {}))
        state["stages"].pop(key, None)
    save_state(study, state)
    return r


def _save_report(study: Study, report: RunReport) -> None:
    study.runs_dir.mkdir(parents=True, exist_ok=True)
    stamp = report.started.replace(":", "").replace("-", "")
    path = study.runs_dir / f"{stamp}-pipeline.json"
    n = 1
    while path.exists():
        n += 1
        path = study.runs_dir / f"{stamp}-pipeline-{n}.json"
    path.write_text(json.dumps(report.to_json(), indent=2, ensure_ascii=False),
                    encoding="utf-8")
    report.path = path
