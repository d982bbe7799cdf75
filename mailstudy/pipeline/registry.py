"""The stages of ``mailstudy run``, in order: what each reads, the configuration it depends
on, what it writes, and when it has nothing to do."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mailstudy.pipeline.bodies import (
    StageContext,
    _config,
    _imap_config,
    _messages_present,
    _optfile,
    _run_collect,
    _run_directory,
    _run_imap,
    _run_invite,
    _run_personas,
    _run_profile,
    _run_report,
    collect_sources,
    resolve_path,
)
from mailstudy.pipeline.status import PipelineError
from mailstudy.study import Study


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
            s.catalog.path("reidentification_log"),  # the report counts its lines
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
    raise PipelineError("unknown stage {name!r}; stages are: {stage_names}",
                        name=name, stage_names=", ".join(STAGE_NAMES))
