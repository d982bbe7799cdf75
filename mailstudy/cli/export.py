"""``mailstudy export analyst DIR``: the analyst package."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mailstudy.cli._app import StudyOpt, app, clean_errors, console, new_app

export_app = new_app("Write what may leave the collection machine.",
                         no_args_is_help=True)
app.add_typer(export_app, name="export")


@export_app.command("analyst")
@clean_errors
def export_analyst_cmd(
    directory: Annotated[Path, typer.Argument(help="A new folder for the package.")],
    study: StudyOpt = None,
) -> None:
    """Operator: write a k-anonymous analyst package (no message data, no key, no names)."""
    from mailstudy.export import export_analyst
    from mailstudy.study import open_study

    r = export_analyst(open_study(study), directory)
    g = r.generalisation
    steps = ", ".join(f"{c} x{n}" for c, n in g.steps.items() if n) or "none"
    console.print(f"analyst package written to {r.directory}: {r.people} people, every "
                  f"combination of quasi-identifiers >= {g.k} (generalised: {steps}; "
                  f"rows suppressed: {g.suppressed_rows})")
    console.print(f"open it with: mailstudy personas --study {r.directory}")
