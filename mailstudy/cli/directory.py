"""``mailstudy directory import FILE``: pseudonymised HR directory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mailstudy.cli._app import StudyOpt, UserError, app, clean_errors, console, new_app

directory_app = new_app("Import the HR directory (pseudonymised on import).",
                            no_args_is_help=True)
app.add_typer(directory_app, name="directory")


def _parse_columns(items: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        if "=" not in item:
            raise UserError("--column expects field=HEADER, got {item!r}", item=item)
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


@directory_app.command("import")
@clean_errors
def import_cmd(
    file: Annotated[Path, typer.Argument(help="Directory file: .csv (comma or semicolon, "
                                         "UTF-8 or Windows-1252) or .xlsx.")],
    column: Annotated[list[str] | None, typer.Option(
        "--column", help="Map a field to a header: email=Courriel pro (repeatable). Fields: "
        "email, title, category, direction, service, roles, manager, fte, first_name, "
        "last_name, name.")] = None,
    study: StudyOpt = None,
) -> None:
    """Pseudonymise the directory into data/directory.parquet; names go to the escrow.

    Job titles map onto the ladder of hierarchical levels; adjust it in [directory.ladder]
    of study.toml, and map unusual headers in [directory.columns] or with --column."""
    from mailstudy.intake.directory import import_directory
    from mailstudy.study import open_study

    s = open_study(study)
    _, summary = import_directory(s, file, _parse_columns(column))
    console.print(f"rows read: {summary.rows}; imported: {summary.imported}; "
                  f"rejected: {summary.n_rejected}; opted out (dropped): {summary.opted_out}; "
                  f"identities sealed: {summary.sealed}")
    console.print("columns: " + ", ".join(f"{k}={v}" for k, v in summary.columns.items()))
    for reason, lines in summary.rejected.items():
        shown = ", ".join(str(x) for x in lines[:20]) + (" ..." if len(lines) > 20 else "")
        console.print(f"  rejected ({reason}): {len(lines)} on line(s) {shown}")
    console.print("levels: " + ", ".join(f"{k}: {v}" for k, v in summary.levels.items()))
    if summary.unmatched_titles:
        console.print(f"  titles matching no level ('non renseigné'): "
                      f"{summary.unmatched_titles}; adjust [directory.ladder] in study.toml")
