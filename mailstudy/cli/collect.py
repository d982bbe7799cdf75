"""Workspace and file-collection commands: init, keyholder-keygen, collect files, pseudonym."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from mailstudy.cli._app import (
    StudyOpt,
    UserError,
    app,
    clean_errors,
    collect_app,
    console,
    err_console,
    is_interactive,
    styled,
)


@app.command()
@clean_errors
def init(
    directory: Annotated[Path, typer.Argument(help="Folder to create the study in.")],
    domain: Annotated[list[str] | None, typer.Option(
        "--domain", help="Organisation e-mail domain (repeatable).")] = None,
    partner: Annotated[list[str] | None, typer.Option(
        "--partner", help="Partner organisation domain (repeatable).")] = None,
    keyholder: Annotated[str | None, typer.Option(
        "--keyholder", help="Key holder's age public key (age1...) or a file holding it.")
    ] = None,
    name: Annotated[str, typer.Option(help="Name of the organisation.")] = "",
    follow_up: Annotated[Path | None, typer.Option(
        "--follow-up", help="Earlier campaign to follow up: reuse its key, key holder, "
        "opt-outs, thresholds and configuration (see README, Follow-up campaigns).")] = None,
) -> None:
    """Create a study workspace: study.toml, secrets/pseudonym.key (0600), data/, out/."""
    from mailstudy.study import init_study

    if follow_up is not None:
        _init_follow_up(directory, follow_up)
        return

    domains = list(domain or [])
    if not domains and is_interactive():
        domains = [d.strip() for d in typer.prompt("Organisation domain(s), comma-separated")
                   .split(",") if d.strip()]
    if keyholder is None and is_interactive():
        keyholder = typer.prompt("Key holder's public key (age1..., empty to set later)",
                                 default="", show_default=False) or None
    study = init_study(directory, domains, keyholder=keyholder,
                       partner_domains=list(partner or []), name=name)
    console.print(f"study created in {study.root}")
    console.print(f"  domains: {', '.join(study.domains)}")
    if not keyholder:
        err_console.print(styled("warning:", "yellow") + "no key holder public key yet: collection "
                          "refuses to run until secrets/keyholder.pub holds one "
                          "(see 'mailstudy keyholder-keygen')")


def _init_follow_up(directory: Path, first: Path) -> None:
    from mailstudy.study import init_follow_up

    study = init_follow_up(directory, first)
    console.print(f"follow-up study created in {study.root} (same key as {first})")
    console.print(f"  domains: {', '.join(study.domains)}")
    if study.section("collect").get("sources") or study.section("directory").get("file"):
        err_console.print(styled("warning:", "yellow", "study.toml still names the first "
                                 "campaign's sources and directory file: point them to the "
                                 "new exports before 'mailstudy run'"))


@app.command("keyholder-keygen")
@clean_errors
def keyholder_keygen(
    file: Annotated[Path, typer.Argument(help="Where to write the key holder's identity.")],
) -> None:
    """Make the key holder's identity file (age format) and print the public recipient to give
    to the collection operator. Keep the identity file away from the study."""
    from anonymise.escrow import generate_identity

    if file.exists():
        raise UserError("that file exists already; choose another name")
    recipient = generate_identity(file)
    console.print(recipient)
    err_console.print("identity written (mode 0600); give the line above to the operator "
                      "(mailstudy init --keyholder ...)")


@collect_app.command("files")
@clean_errors
def collect_files_cmd(
    sources: Annotated[list[Path], typer.Argument(
        help="Mailbox exports, one mailbox each: Maildir folders, mbox files or folders, .eml "
             "folders, .msg folders, .pst files.")],
    owner: Annotated[str | None, typer.Option(
        help="The mailbox owner's address (with a single source).")] = None,
    fmt: Annotated[str | None, typer.Option(
        "--format", help="Force the format: maildir, mbox, eml, msg or pst.")] = None,
    workers: Annotated[int | None, typer.Option(
        help="Processes to use (default: one per core).")] = None,
    batch_rows: Annotated[int, typer.Option(
        help="Rows per committed batch: a kill loses at most one batch per process, which "
             "the next run redoes.")] = 5000,
    cluster: Annotated[str | None, typer.Option(
        "--cluster", help="Dask scheduler address (tcp://host:8786) whose workers collect; "
             "default: [cluster] address in study.toml, else this machine's cores.")] = None,
    study: StudyOpt = None,
) -> None:
    """Read exported mailboxes and add their metadata, pseudonymised, to data/messages/."""
    from mailstudy.pipeline.cluster import collect_files_on
    from mailstudy.study import open_study

    s = open_study(study)
    if owner is not None and len(sources) != 1:
        raise UserError("--owner goes with a single SOURCE")
    with Progress(TextColumn("[bold]collect[/bold]"), BarColumn(),
                  TextColumn("{task.completed}/{task.total} mailboxes"),
                  TextColumn("{task.fields[msgs]} messages"), TimeElapsedColumn(),
                  console=err_console, transient=True, disable=not err_console.is_terminal
                  ) as progress:
        task = progress.add_task("collect", total=len(sources), msgs=0)

        def on_progress(msgs: int, boxes: int) -> None:
            progress.update(task, completed=boxes, msgs=msgs)

        summary = collect_files_on(s, sources, cluster=cluster, owner=owner, fmt=fmt,
                                   workers=workers, on_progress=on_progress,
                                   batch_rows=batch_rows)
    print_summary(summary)
    if summary.failures:
        raise typer.Exit(1)


def print_summary(summary) -> None:  # summary: RunSummary
    """Print a run summary (counts and pseudonyms only)."""
    t = summary.totals()
    table = Table(title="collection summary", show_header=True)
    for col in ("mailbox", "format", "owner", "folders", "written", "present", "skipped",
                "defects", "msg/s", "status"):
        table.add_column(col)
    for m in summary.mailboxes:
        rate = m.messages_per_second
        table.add_row(m.mailbox or f"source #{m.index + 1}", m.format, m.owner_from,
                      str(m.folders), str(m.messages_written), str(m.already_present),
                      str(sum(v for k, v in m.skipped.items() if k != "personal_folders")),
                      str(sum(m.defects.values())), "" if rate is None else f"{rate:.0f}",
                      m.error or "ok")
    console.print(table)
    console.print(f"mailboxes: {t['mailboxes']} ({t['mailboxes_failed']} failed), folders: "
                  f"{t['folders']}, messages written: {t['messages_written']}, already present: "
                  f"{t['already_present']}, in {t['seconds']} s "
                  f"({t['messages_per_second'] or 0} msg/s)")
    if t["skipped"]:
        console.print("skipped: " + ", ".join(f"{k}={v}" for k, v in t["skipped"].items()))
    if t["defects"]:
        console.print("defects: " + ", ".join(f"{k}={v}" for k, v in t["defects"].items()))
    for m in summary.failures:
        err_console.print(styled("failed:", "red", f"{m.mailbox or f'source #{m.index + 1}'}: "
                                                 f"{m.error or ''}"))
    if summary.path is not None:
        console.print(f"summary saved: {summary.path}")


@app.command()
@clean_errors
def pseudonym(
    addresses: Annotated[list[str], typer.Argument(help="Addresses to look up.")],
    study: StudyOpt = None,
) -> None:
    """Print the pseudonym of each address (needs the key: operator only)."""
    from mailstudy.study import open_study

    s = open_study(study)
    ps = s.pseudonymiser()
    for a in addresses:
        console.print(ps.person(s.normal_address(a)))


@app.command()
@clean_errors
def columns(
    table: Annotated[list[str] | None, typer.Argument(
        help="Tables to describe (default: all).")] = None,
) -> None:
    """Print the definition of every column (the text of docs/columns.md)."""
    from mailstudy import schema

    unknown = [t for t in table or [] if t not in schema.TABLES]
    if unknown:
        raise UserError("unknown table(s) {unknown}; known: {known}",
                        unknown=", ".join(unknown), known=", ".join(schema.TABLES))
    print(schema.markdown(table or None))
