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
"""

from __future__ import annotations

import datetime as dt
import glob
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mailstudy.errors import MailstudyError, StageError
from mailstudy.study import Study, StudyError

STATE_VERSION = 1
#: Files above this size are fingerprinted by size and time instead of content.
HASH_LIMIT = 256 * 1024 * 1024

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


# -- fingerprints --------------------------------------------------------------------------
def _hash_file(h: Any, p: Path, st: os.stat_result) -> None:
    if st.st_size > HASH_LIMIT:
        h.update(f"{st.st_size}:{st.st_mtime_ns}".encode())
        return
    with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)


def fingerprint_path(path: Path, exclude: Iterable[str] = ()) -> str:
    """Digest of a file (content) or a folder (relative names, sizes, mtimes); hidden files
    (temporary writes) and the top-level entries named in ``exclude`` are ignored."""
    h = hashlib.sha256()
    path = Path(path)
    try:
        st = path.stat()
    except OSError:
        return "missing"
    if path.is_file():
        h.update(b"F")
        _hash_file(h, path, st)
        return h.hexdigest()
    skip = set(exclude)
    h.update(b"D")
    for dirpath, dirnames, filenames in os.walk(path):
        rel = os.path.relpath(dirpath, path)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".")
                             and not (rel == "." and d in skip))
        for name in sorted(filenames):
            if name.startswith(".") or (rel == "." and name in skip):
                continue
            try:
                fst = os.stat(os.path.join(dirpath, name))
            except OSError:
                continue
            h.update(f"{rel}/{name}\0{fst.st_size}\0{fst.st_mtime_ns}\n".encode())
    return h.hexdigest()


def fingerprint(paths: Iterable[Path | tuple[Path, tuple[str, ...]]],
                config: Any = None) -> str:
    """One digest over several inputs (in the given order) and a JSON-able config value."""
    h = hashlib.sha256()
    for item in paths:
        p, excl = item if isinstance(item, tuple) else (item, ())
        h.update(fingerprint_path(p, excl).encode())
        h.update(b"\n")
    h.update(json.dumps(config, sort_keys=True, default=str).encode())
    return h.hexdigest()


def load_state(study: Study) -> dict[str, Any]:
    p = study.catalog.path("pipeline_state")
    try:
        state = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"version": STATE_VERSION, "stages": {}}
    if state.get("version") != STATE_VERSION:
        return {"version": STATE_VERSION, "stages": {}}
    return state


def save_state(study: Study, state: dict[str, Any]) -> None:
    study.runs_dir.mkdir(parents=True, exist_ok=True)
    p = study.catalog.path("pipeline_state")
    tmp = p.with_name(f".{p.name}.tmp")
    tmp.write_text(json.dumps(state, indent=2, ensure_ascii=False), encoding="utf-8")
    tmp.replace(p)


# -- where the stages read and write -------------------------------------------------------
def resolve_path(study: Study, value: str | Path) -> Path:
    """A path from study.toml: absolute, or relative to the study folder."""
    p = Path(os.path.expanduser(str(value)))
    return p if p.is_absolute() else study.root / p


def collect_sources(study: Study) -> tuple[list[Path], list[int]]:
    """The mailbox sources of ``[collect] sources`` (globs expanded, sorted, deduplicated),
    and the positions of the patterns that matched nothing."""
    out: list[Path] = []
    unmatched: list[int] = []
    for i, pattern in enumerate(study.section("collect").get("sources") or []):
        full = str(resolve_path(study, pattern))
        hits = sorted(glob.glob(full)) if glob.has_magic(full) else (
            [full] if os.path.exists(full) else [])
        if not hits:
            unmatched.append(i + 1)
        for h in hits:
            p = Path(h)
            if p not in out:
                out.append(p)
    return out, unmatched


def _optfile(study: Study, key: str) -> Path | None:
    v = study.section("workshop").get(key) or ""
    return resolve_path(study, v) if v else None


def _imap_config(study: Study) -> dict[str, Any]:
    cfg = study.section("collect").get("imap") or {}
    return cfg if isinstance(cfg, dict) else {}


def _messages_present(study: Study) -> bool:
    d = study.messages_dir
    return d.exists() and any(d.glob("mailbox=*/*.parquet"))


def _config(study: Study, *names: str) -> dict[str, Any]:
    from mailstudy import __version__

    return {"version": __version__, **{n: study.section(n) for n in names}}


# -- stage bodies ----------------------------------------------------------------------------
@dataclass
class StageContext:
    study: Study
    progress: ProgressFn
    lang: str | None = None


def _run_collect(ctx: StageContext) -> dict[str, Any]:
    from mailstudy.collect.run import collect_files

    sources, unmatched = collect_sources(ctx.study)
    if unmatched:
        raise StudyError(f"[collect] sources: pattern(s) number {unmatched} match nothing")

    def on_progress(msgs: int, boxes: int) -> None:
        ctx.progress("collect", boxes, len(sources), f"mailboxes, {msgs} messages")

    summary = collect_files(ctx.study, sources, on_progress=on_progress)
    return _collection_result(summary)


def _collection_result(summary: Any) -> dict[str, Any]:
    """A collection's stage result; any failed mailbox fails the stage (exit code != 0)."""
    t = summary.totals()
    if summary.failures:
        raise StageFailure(f"{len(summary.failures)} of {t['mailboxes']} mailbox(es) failed "
                           "(see the collection summary in data/runs/)", t)
    return {k: t[k] for k in ("mailboxes", "folders", "messages_written", "already_present",
                              "skipped", "defects")}


def _run_imap(ctx: StageContext) -> dict[str, Any]:
    """IMAP accounts from ``[collect.imap]``: host, port, starttls, plaintext, ca_file,
    accounts (a CSV of mailbox,login), password_env (or keyring = true, or
    oauth2_token_env / oauth2_token_command), include, exclude, workers."""
    from mailstudy.collect.imap.auth import auth_from_options, read_accounts
    from mailstudy.collect.imap.connection import Server
    from mailstudy.collect.imap.run import collect_imap

    cfg = _imap_config(ctx.study)
    server = Server(host=str(cfg["host"]), port=cfg.get("port"),
                    starttls=bool(cfg.get("starttls", False)),
                    plaintext=bool(cfg.get("plaintext", False)),
                    allow_plaintext=bool(cfg.get("allow_plaintext", False)),
                    ca_file=str(resolve_path(ctx.study, cfg["ca_file"]))
                    if cfg.get("ca_file") else None)
    accounts = read_accounts(resolve_path(ctx.study, cfg["accounts"]))
    auth = auth_from_options([a.login for a in accounts],
                             password_env=cfg.get("password_env"),
                             use_keyring=bool(cfg.get("keyring", False)),
                             oauth2_token_env=cfg.get("oauth2_token_env"),
                             oauth2_token_command=cfg.get("oauth2_token_command"))

    def on_progress(msgs: int, planned: int, boxes: int, n_boxes: int) -> None:
        ctx.progress("imap", boxes, n_boxes, f"mailboxes, {msgs}/{planned} messages")

    summary = collect_imap(ctx.study, server, accounts, auth,
                           include=list(cfg.get("include") or []),
                           exclude=list(cfg.get("exclude") or []),
                           workers=int(cfg.get("workers", 4)), on_progress=on_progress)
    return _collection_result(summary)


def _run_directory(ctx: StageContext) -> dict[str, Any]:
    from mailstudy.intake.directory import import_directory

    path = resolve_path(ctx.study, ctx.study.section("directory")["file"])
    _, s = import_directory(ctx.study, path)
    return {"rows": s.rows, "imported": s.imported, "rejected": s.n_rejected,
            "opted_out": s.opted_out, "unmatched_titles": s.unmatched_titles}


def _run_profile(ctx: StageContext) -> dict[str, Any]:
    from mailstudy.profile.run import run_profile

    res = run_profile(ctx.study)
    sup = res.groups.suppression
    return {**{k: int(v) for k, v in res.counts.items()},
            "cells_suppressed": int(sup["primary"].sum() + sup["secondary"].sum())}


def _run_personas(ctx: StageContext) -> dict[str, Any]:
    from mailstudy.personas.run import run_personas

    model, _ = run_personas(ctx.study)
    return {"personas": int(model.card["k"]), "structure_ok": bool(model.structure_ok),
            "silhouette": round(float(model.card["silhouette"]), 3)}


def _run_invite(ctx: StageContext) -> dict[str, Any]:
    from mailstudy.intake.answers import import_availability, import_volunteers
    from mailstudy.invite.run import run_invite

    study = ctx.study
    # The operator's copy re-imports the configured files (this stage runs only when they or
    # the tables changed); an analyst's copy without the key uses what was imported before.
    if study.has_key():
        if (p := _optfile(study, "volunteers_file")) is not None:
            import_volunteers(study, p)
        if (p := _optfile(study, "availability_file")) is not None:
            import_availability(study, p)
    inv, notes = run_invite(study)
    fair = inv.fairness
    return {"panel": int(len(inv.panel)), "reserves": int(len(inv.reserves)),
            "min_over_equal_share": round(float(fair["min_over_equal_share"]), 3),
            "cells_suppressed": int(inv.suppressed), "notes": list(notes)}


def _run_report(ctx: StageContext) -> dict[str, Any]:
    from mailstudy.report import run_report

    paths = run_report(ctx.study, lang=ctx.lang)
    return {"files": len(paths)}


class StageFailure(StageError):
    """A stage ran but did not fully succeed; ``summary`` still says what it did."""

    def __init__(self, message: str, summary: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.summary = summary or {}


# -- the registry ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Stage:
    """One step of the pipeline.

    ``configured`` returns None when study.toml (or the workspace) asks for the stage, else the
    reason it does not run. ``inputs`` and ``config`` feed the input fingerprint; ``outputs``
    the output fingerprint (an empty list: the stage's output is not checked, e.g. the
    append-only message store). ``always`` stages cannot be fingerprinted (a remote server)
    and run each time; they are incremental themselves.
    """

    name: str
    help: str
    run: Callable[[StageContext], dict[str, Any]]
    configured: Callable[[Study], str | None]
    inputs: Callable[[Study], list[Any]]
    config: Callable[[Study], Any]
    outputs: Callable[[Study], list[Any]] = lambda s: []
    always: bool = False


def _cfg_collect(s: Study) -> str | None:
    return None if s.section("collect").get("sources") else "no [collect] sources"


def _cfg_imap(s: Study) -> str | None:
    c = _imap_config(s)
    if not c.get("host") or not c.get("accounts"):
        return "no [collect.imap] host and accounts"
    return None


def _cfg_directory(s: Study) -> str | None:
    return None if s.section("directory").get("file") else "no [directory] file"


def _cfg_profile(s: Study) -> str | None:
    return None if _messages_present(s) else "no collected messages yet"


def _cfg_personas(s: Study) -> str | None:
    return None if s.catalog.path("people").exists() else "nobody profiled yet"


def _cfg_invite(s: Study) -> str | None:
    w = s.section("workshop")
    if not w.get("sessions"):
        return "no [[workshop.sessions]] planned"
    if not s.catalog.path("people").exists():
        return "nobody profiled yet"
    return None


def _cfg_report(s: Study) -> str | None:
    return None if s.catalog.path("people").exists() else "nobody profiled yet"


def _invite_inputs(s: Study) -> list[Any]:
    extra = [p for k in ("volunteers_file", "availability_file") if (p := _optfile(s, k))]
    c = s.catalog
    return [c.path("people"), c.path("personas"), c.path("directory"), c.path("optouts"),
            *extra, c.path("volunteers"), c.path("availability")]


def _report_inputs(s: Study) -> list[Any]:
    tpl = Path(__file__).resolve().parents[1] / "reports"
    runs = sorted(p for p in s.runs_dir.glob("*-collect-*.json")) if s.runs_dir.exists() else []
    return [s.messages_dir, s.catalog.path("directory"), s.catalog.path("people"),
            s.catalog.path("personas"), s.catalog.path("optouts"), s.catalog.path("profiles"),
            s.catalog.path("persona_outputs"), (s.catalog.path("invitations"), ("named",)), *runs,
            tpl / "templates", tpl / "audit.py"]


def _report_outputs(s: Study) -> list[Any]:
    from mailstudy.report import report_paths

    return list(report_paths(s, s.section("report").get("lang", "fr")).values())


STAGES: list[Stage] = [
    Stage("collect", "read the mailbox exports of [collect] sources", _run_collect,
          _cfg_collect, lambda s: [*collect_sources(s)[0], s.catalog.path("optouts")],
          lambda s: {"sources": s.section("collect").get("sources"),
                     **_config(s, "organisation"),
                     "personal_folders": s.section("privacy").get("personal_folders")}),
    Stage("imap", "collect the IMAP accounts of [collect.imap]", _run_imap, _cfg_imap,
          lambda s: [], lambda s: _imap_config(s), always=True),
    Stage("directory", "import the HR directory of [directory] file", _run_directory,
          _cfg_directory,
          lambda s: [resolve_path(s, s.section("directory").get("file", "")),
                     s.catalog.path("optouts")],
          lambda s: _config(s, "organisation", "directory"),
          lambda s: [s.catalog.path("directory")]),
    Stage("profile", "per-person features and group profiles", _run_profile, _cfg_profile,
          lambda s: [s.messages_dir, s.catalog.path("directory"), s.catalog.path("optouts")],
          lambda s: _config(s, "time", "profile", "privacy", "report"),
          lambda s: [s.catalog.path("people"), s.catalog.path("profiles")]),
    Stage("personas", "personas and their sheets", _run_personas, _cfg_personas,
          lambda s: [s.catalog.path("people"), s.messages_dir],
          lambda s: _config(s, "personas", "privacy", "report"),
          lambda s: [s.catalog.path("personas"), s.catalog.path("persona_outputs")]),
    Stage("invite", "the workshop panel and its reserves", _run_invite, _cfg_invite,
          _invite_inputs, lambda s: _config(s, "workshop", "privacy", "report"),
          lambda s: [(s.catalog.path("invitations"), ("named",))]),
    Stage("report", "the audit report (HTML and PDF)", _run_report, _cfg_report,
          _report_inputs, lambda s: _config(s, *sorted(s.config)), _report_outputs),
]
STAGE_NAMES = [s.name for s in STAGES]


def get_stage(name: str) -> Stage:
    for s in STAGES:
        if s.name == name:
            return s
    raise PipelineError(f"unknown stage {name!r}; stages are: {', '.join(STAGE_NAMES)}")


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
            raise PipelineError(f"unknown stage {name!r}; stages are: {', '.join(names)}")
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
    report = RunReport(started=dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
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
        reason = stage.configured(study)
        if reason is not None:
            r = StageResult(stage.name, NOT_CONFIGURED, message=reason)
            report.stages.append(r)
            if on_event:
                on_event(stage.name, r.status, r)
            continue
        lang_key = {"lang": lang} if (stage.name == "report" and lang) else {}
        fp_in = fingerprint(stage.inputs(study), {"config": stage.config(study), **lang_key})
        key = stage.name + (f":{lang}" if lang_key else "")
        prev = state["stages"].get(key, {})
        if (not stage.always and stage.name not in forced and prev.get("status") == "ok"
                and prev.get("inputs") == fp_in
                and prev.get("outputs") == fingerprint(stage.outputs(study))):
            r = StageResult(stage.name, SKIPPED, message="inputs unchanged",
                            summary=prev.get("summary", {}))
            report.stages.append(r)
            if on_event:
                on_event(stage.name, r.status, r)
            continue
        if on_event:
            on_event(stage.name, "start", None)
        t0 = time.monotonic()
        try:
            summary = stage.run(ctx)
            r = StageResult(stage.name, RAN, time.monotonic() - t0, summary=summary)
            # Fingerprint the inputs again: a stage may add to them (invite imports the
            # volunteers file into data/), and the next run must compare with that.
            fp_after = fingerprint(stage.inputs(study),
                                   {"config": stage.config(study), **lang_key})
            state["stages"][key] = {
                "status": "ok", "inputs": fp_after,
                "outputs": fingerprint(stage.outputs(study)),
                "finished": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "seconds": round(r.seconds, 3), "summary": summary}
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # noqa: BLE001 - a stage failure is reported, not raised
            if os.environ.get("MAILSTUDY_DEBUG") == "1":
                raise
            r = StageResult(stage.name, FAILED, time.monotonic() - t0, _safe_error(exc),
                            getattr(exc, "summary", {}))
            state["stages"].pop(key, None)
            failed = True
        save_state(study, state)
        report.stages.append(r)
        if on_event:
            on_event(stage.name, r.status, r)
    report.seconds = time.monotonic() - t_run
    _save_report(study, report)
    return report


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
