"""Where the stages read and write, and the body of each stage (one call to the stage's
Python function, whose summary becomes the stage's result)."""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mailstudy.errors import StageError
from mailstudy.pipeline.status import ProgressFn
from mailstudy.study import Study, StudyError


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
    from mailstudy.pipeline.cluster import collect_files_on

    sources, unmatched = collect_sources(ctx.study)
    if unmatched:
        raise StudyError("[collect] sources: pattern(s) number {unmatched} match nothing",
                         unmatched=unmatched)

    def on_progress(msgs: int, boxes: int) -> None:
        ctx.progress("collect", boxes, len(sources), f"mailboxes, {msgs} messages")

    summary = collect_files_on(ctx.study, sources, on_progress=on_progress)
    return _collection_result(summary)


def _collection_result(summary: Any) -> dict[str, Any]:
    """A collection's stage result; any failed mailbox fails the stage (exit code != 0)."""
    t = summary.totals()
    if summary.failures:
        raise StageFailure("{n_failures} of {mailboxes} mailbox(es) failed "
                           "(see the collection summary in data/runs/)", t,
                           n_failures=len(summary.failures), mailboxes=t["mailboxes"])
    return {k: t[k] for k in ("mailboxes", "folders", "messages_written", "already_present",
                              "skipped", "defects")}


def _run_imap(ctx: StageContext) -> dict[str, Any]:
    """IMAP accounts from ``[collect.imap]``: host, port, starttls, plaintext, ca_file,
    accounts (a CSV of mailbox,login), password_env (or keyring = true, or
    oauth2_token_env / oauth2_token_command), include, exclude, workers; on the Dask
    cluster of ``[cluster] address`` when it is set."""
    from mailstudy.collect.imap.auth import auth_from_options, read_accounts
    from mailstudy.collect.imap.connection import Server
    from mailstudy.pipeline.cluster_imap import collect_imap_on

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

    summary = collect_imap_on(ctx.study, server, accounts, auth,
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
    from mailstudy.pipeline.cluster import profile_on

    res = profile_on(ctx.study)
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

    def __init__(self, msgid: str, summary: dict[str, Any] | None = None,
                 **values: Any) -> None:
        super().__init__(msgid, **values)
        self.summary = summary or {}
