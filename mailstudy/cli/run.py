"""``mailstudy run``, ``demo``, ``report`` and ``purge``: batch runs and the end of a campaign."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from mailstudy.cli._app import (
    StudyOpt,
    UserError,
    app,
    clean_errors,
    console,
    err_console,
    is_interactive,
    msg,
)
from mailstudy.i18n import cli_lang, label

STATUS_STYLE = {"ran": "green", "skipped": "cyan", "not configured": "dim", "failed": "red",
                "not run": "yellow", "not selected": "dim"}


def _printer() -> tuple[Any, Any]:
    """Progress callbacks: one line per stage; a live line for long stages on a terminal."""
    live = err_console.is_terminal
    status_box: dict[str, Any] = {}

    def on_event(stage: str, status: str, result: Any) -> None:
        if status == "start":
            if live:
                status_box["s"] = err_console.status(Text(f"{stage} …", style="bold"))
                status_box["s"].start()
            else:
                err_console.print(f"{stage}: running")
            return
        s = status_box.pop("s", None)
        if s is not None:
            s.stop()
        style = STATUS_STYLE.get(status, "")
        extra = f" ({result.seconds:.1f} s)" if result is not None and result.seconds else ""
        msg = f": {result.message}" if result is not None and result.message else ""
        err_console.print(Text.assemble(f"{stage}: ", (status, style), extra, msg))

    def progress(stage: str, done: int, total: int | None, unit: str) -> None:
        s = status_box.get("s")
        if s is not None:
            s.update(Text(f"{stage} {done}/{total if total is not None else '?'} {unit}",
                          style="bold"))

    return progress, on_event


def print_run(report: Any) -> None:
    """The final summary: one row per stage (counts only, never an identity)."""
    table = Table(title=msg("pipeline summary"))
    for col in ("stage", "status", "seconds", "details"):
        table.add_column(msg(col))
    for r in report.stages:
        style = STATUS_STYLE.get(r.status, "")
        details = r.message or ", ".join(f"{k}={v}" for k, v in r.summary.items()
                                         if not isinstance(v, dict | list))
        table.add_row(r.name, Text(label(cli_lang(), "status", r.status), style=style),
                      f"{r.seconds:.1f}" if r.seconds else "", details)
    console.print(table)
    ran = sum(r.status == "ran" for r in report.stages)
    skipped = sum(r.status == "skipped" for r in report.stages)
    failed = [r.name for r in report.stages if r.status == "failed"]
    console.print(msg("{ran} stage(s) ran, {skipped} unchanged (skipped), in {s} s", ran=ran,
                      skipped=skipped, s=f"{report.seconds:.1f}")
                  + (msg("; FAILED: {names}", names=", ".join(failed)) if failed else ""))


@app.command("run")
@clean_errors
def run_cmd(
    from_stage: Annotated[str | None, typer.Option(
        "--from", help="Run this stage and every later one, even if unchanged.")] = None,
    only: Annotated[str | None, typer.Option(
        "--only", help="Run only this stage, even if unchanged.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Run every stage, changed or not."
                                        )] = False,
    study: StudyOpt = None,
) -> None:
    """Run every stage study.toml configures (collect, imap, directory, profile, personas,
    invite, report), skipping those whose inputs have not changed. Exit code 0 only when
    every stage succeeded."""
    from mailstudy.pipeline import run_pipeline
    from mailstudy.study import open_study

    progress, on_event = _printer()
    report = run_pipeline(open_study(study), from_stage=from_stage, only=only, force=force,
                          progress=progress, on_event=on_event)
    print_run(report)
    if not report.ok:
        raise typer.Exit(1)


@app.command("report")
@clean_errors
def report_cmd(
    lang: Annotated[str | None, typer.Option("--lang", help="fr (default) or en.")] = None,
    study: StudyOpt = None,
) -> None:
    """Write the audit report: out/report/rapport.html and .pdf (report.* with --lang en)."""
    from mailstudy.report import run_report
    from mailstudy.study import open_study

    if lang is not None and lang not in ("fr", "en"):
        raise UserError("--lang must be fr or en")
    paths = run_report(open_study(study), lang=lang)
    console.print(msg("report: {path}", path=paths["html"]))
    if "pdf" in paths:
        console.print(f"        {paths['pdf']}")


@app.command("demo")
@clean_errors
def demo_cmd(
    directory: Annotated[Path, typer.Argument(help="Folder for the demo (created).")] = Path(
        "mailstudy-demo"),
    agents: Annotated[int, typer.Option(help="Agents in the synthetic council.")] = 120,
    weeks: Annotated[int, typer.Option(help="Weeks of mail traffic.")] = 6,
    seed: Annotated[int, typer.Option(help="Random seed of the council.")] = 7,
    lang: Annotated[str, typer.Option("--lang", help="fr or en.")] = "fr",
    imap: Annotated[bool, typer.Option(
        "--imap/--no-imap", help="Serve half of the mailboxes from a local Dovecot and "
        "collect them over IMAP (when Dovecot is installed).")] = True,
) -> None:
    """Generate a synthetic regional council, run the whole pipeline on it, reveal the panel
    with the key holder's identity, and print where to open the report."""
    from mailstudy.demo.run import run_demo

    progress, on_event = _printer()
    res = run_demo(directory, agents=agents, weeks=weeks, seed=seed, lang=lang,
                   progress=progress, on_event=on_event, say=err_console.print, imap=imap)
    if res.imap is not None:
        t = res.imap.totals()
        console.print(f"imap: {t['mailboxes']} mailboxes ({t['mailboxes_failed']} failed), "
                      f"{t['messages_written']} messages collected over IMAP in {t['seconds']} s")
    print_run(res.run)
    if not res.run.ok or (res.imap is not None and res.imap.failures):
        raise typer.Exit(1)
    if res.revealed is not None:
        console.print(f"reveal (key holder): {res.revealed.named} people named in "
                      f"{res.study.out / 'invitations' / 'named'}")
    console.print(msg("open the report: {path}", path=res.report_html.resolve()))
    console.print(msg("             PDF: {path}", path=res.report_pdf.resolve()))
    console.print(msg("persona sheets:  {path}",
                      path=(res.study.out / "personas" / "personas.html").resolve()))


@app.command("purge")
@clean_errors
def purge_cmd(
    all_: Annotated[bool, typer.Option(
        "--all", help="End the campaign: destroy the data, outputs, pseudonymisation key and "
        "escrow now.")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    study: StudyOpt = None,
) -> None:
    """Delete what is past the study's retention date ([privacy] retention_until); with
    --all, everything, keys included (asks for confirmation)."""
    from mailstudy.purge import purge
    from mailstudy.study import open_study

    s = open_study(study)
    if all_ and not yes:
        try:
            ok = typer.confirm(msg("Destroy the data, the outputs, the pseudonymisation key "
                                   "and the escrow of this study? This cannot be undone"),
                               default=False)
        except typer.Abort:  # no answer could be read (no terminal, closed input)
            ok = False
        if not ok:
            err_console.print(msg("nothing deleted") + ("" if is_interactive() else msg(
                " (to confirm without a terminal, add --yes)")))
            raise typer.Exit(1)
    rep = purge(s, all=all_)
    if not rep.deleted:
        console.print("nothing is past its retention date: "
                      + ", ".join(f"{k} until {v}" for k, v in rep.kept.items()))
        return
    console.print("deleted: " + ", ".join(f"{k} ({v} file(s))" for k, v in rep.deleted.items()))
    if rep.kept:
        console.print("kept: " + ", ".join(f"{k} until {v}" for k, v in rep.kept.items()))
    console.print(f"logged in {rep.log}")
