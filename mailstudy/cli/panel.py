"""``mailstudy panel`` (a fair lottery on any pool, no study) and ``mailstudy panel verify``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mailstudy.cli._app import UserError, app, clean_errors, console, new_app

# new_app: help in the user's language and -h, like every other command group
panel_app = new_app("A fair panel from a respondents file and a categories file "
                    "(Sortition Foundation formats), and its public verification.",
                    invoke_without_command=True, no_args_is_help=False)
app.add_typer(panel_app, name="panel")

PathOpt = Annotated[Path | None, typer.Option(help="CSV or .xlsx file.", show_default=False)]


@panel_app.callback()
@clean_errors
def panel_cmd(
    ctx: typer.Context,
    respondents: Annotated[Path | None, typer.Option(
        "--respondents", help="One row per person: an id column and one column per feature "
        "(CSV or .xlsx; French or English headers).")] = None,
    categories: Annotated[Path | None, typer.Option(
        "--categories", help="One row per feature value: feature, value, min, max.")] = None,
    size: Annotated[int | None, typer.Option("--size", help="Seats on the panel.")] = None,
    algorithm: Annotated[str, typer.Option(
        "--algorithm", help="leximin (fairest), maximin, or legacy (for comparison).")
    ] = "leximin",
    seed: Annotated[int, typer.Option("--seed", help="Seed of the rounding and, without "
                                      "--number, of the draw.")] = 1,
    out: Annotated[Path, typer.Option("--out", help="Folder for the outputs.")] = Path("panel"),
    panels: Annotated[int, typer.Option("--panels", help="Panels in the published list (M).")
                      ] = 1000,
    number: Annotated[int | None, typer.Option(
        "--number", help="The panel number drawn in public (1..M); default: a seeded draw.")
    ] = None,
    time_limit: Annotated[float | None, typer.Option(
        "--time-limit", help="Seconds; the result then says which levels are proven.")] = None,
) -> None:
    """Compute the lottery, publish M panels, draw one: probabilities.csv, panel.csv,
    lottery.csv, lottery.json, distribution.json, fairness.json in --out."""
    if ctx.invoked_subcommand:
        return
    if respondents is None or categories is None or size is None:
        raise UserError("give --respondents FILE, --categories FILE and --size K")
    from mailstudy.pipeline.panel import run_panel

    r = run_panel(respondents, categories, size, algorithm=algorithm, seed=seed, out=out,
                  panels=panels, number=number, time_limit=time_limit)
    f = r.fairness
    proven = ("every level proven optimal" if f["solver_optimal"] else
              f"stopped ({f['solver_stopped']}) after {f['solver_levels']} proven level(s)")
    console.print(f"{algorithm}: panel of {f['size']} from a pool of {f['pool']}; {proven}")
    console.print(f"minimum probability {f['min_probability']:.4f} "
                  f"({f['min_over_equal_share']:.2f} x size/pool), {f['people_at_minimum']} "
                  f"people at the minimum; Gini {f['gini']:.3f}; share below size/pool "
                  f"{f['share_below_equal_share']:.1%}")
    console.print(f"published list: {r.uniform.panels} panels, sha256 {r.uniform.sha256}; "
                  f"minimum probability {r.uniform.min_probability:.4f} "
                  f"(loss {r.uniform.loss:.4f})")
    console.print(f"panel number {r.number} ({f['number_from']}) written to {r.out}")
    if f.get("values_without_respondents"):
        console.print("check the categories: no respondent has "
                      + ", ".join(f["values_without_respondents"]))
    for feature, n in f.get("respondents_with_unlisted_value", {}).items():
        console.print(f"check the categories: {n} respondent(s) have a {feature} value the "
                      "categories do not list (no quota applies to them)")


@panel_app.command("verify")
@clean_errors
def verify_cmd(
    lottery: Annotated[Path, typer.Option("--lottery", help="The published list "
                                          "(lottery.csv).")],
    number: Annotated[int, typer.Option("--number", help="The panel number drawn.")],
    sha256: Annotated[str | None, typer.Option(
        "--sha256", help="The list's hash announced before the draw, or lottery.json.")] = None,
    panel: Annotated[Path | None, typer.Option("--panel", help="The announced panel "
                                               "(panel.csv) to check.")] = None,
) -> None:
    """Recompute the panel from the published list and the drawn number; exit 1 if the list
    or the panel does not match what was announced."""
    from mailstudy.pipeline.panel import verify_panel

    v = verify_panel(lottery, number, sha256, panel)
    for _, r in v.panel.iterrows():
        console.print(f"{r['seat']} {r['person']} {r['role']}")
    console.print(f"list sha256 {v.sha256}")
    if not v.ok:
        for p in v.problems:
            console.print(f"NOT VERIFIED: {p}")
        raise typer.Exit(1)
    console.print(f"verified: panel {number} of the published list"
                  + (" matches the announced panel" if panel else ""))
