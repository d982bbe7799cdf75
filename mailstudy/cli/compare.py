"""``mailstudy compare DIR1 DIR2``: a follow-up campaign compared with the first."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mailstudy.cli._app import UserError, app, clean_errors, console


@app.command("compare")
@clean_errors
def compare_cmd(
    first: Annotated[Path, typer.Argument(help="The first campaign's study folder.")],
    second: Annotated[Path, typer.Argument(
        help="The follow-up campaign's study folder (out/compare/ is written there).")],
    lang: Annotated[str | None, typer.Option("--lang", help="fr (default) or en: language of "
                                             "the XLSX tables.")] = None,
    n_boot: Annotated[int, typer.Option("--resamples", min=100,
                                        help="Bootstrap resamples.")] = 1000,
    seed: Annotated[int | None, typer.Option("--seed", help="Bootstrap seed.")] = None,
) -> None:
    """Differences by group with 95 % bootstrap intervals (paired over people when the second
    study is a follow-up of the first), the multiple-comparison guard, persona drift; small
    groups of either campaign suppressed. Re-run `mailstudy report` in the second study to
    add the section to the audit report."""
    from mailstudy.compare import SEED
    from mailstudy.pipeline import compare_campaigns

    if lang is not None and lang not in ("fr", "en"):
        raise UserError("--lang must be fr or en")
    out = compare_campaigns(first, second, lang=lang, n_boot=n_boot,
                            seed=SEED if seed is None else seed)
    s = out["summary"]
    console.print(f"compared {s['people_before']} and {s['people_after']} people "
                  f"({s['bootstrap']} bootstrap, {s['n_boot']} resamples)")
    if s.get("turnover"):
        t = s["turnover"]
        console.print(f"  in both campaigns: {t['linked']}, arrivals: {t['arrivals']}, "
                      f"departures: {t['departures']}")
    console.print(f"  {s['rows_significant']} of {s['rows_tested']} differences significant "
                  f"after the Benjamini-Hochberg guard; {s['groups_hidden']} group(s) hidden")
    d = s.get("drift")
    if d and d.get("drift_share") == d.get("drift_share"):
        per_month = d.get("drift_per_month")
        console.print(f"  persona drift: {100 * d['drift_share']:.1f} %"
                      + (f" ({100 * per_month:.1f} % a month)"
                         if per_month == per_month and per_month is not None else ""))
    console.print(f"written: {out['paths']['summary'].parent}")
