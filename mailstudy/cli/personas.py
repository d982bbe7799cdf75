"""``mailstudy personas``: stable, named personas and their printable sheets (no key needed)."""

from __future__ import annotations

from typing import Annotated

import typer

from mailstudy.cli._app import (
    StudyOpt,
    UserError,
    app,
    clean_errors,
    console,
    err_console,
    styled,
)


@app.command("personas")
@clean_errors
def personas_cmd(
    study: StudyOpt = None,
    k: Annotated[str | None, typer.Option(
        "--k", help="Number of personas to force, or 'auto' to choose it: the largest k whose "
        "prediction strength and bootstrap stability both pass (default: study.toml, auto)."
    )] = None,
    k_range: Annotated[str | None, typer.Option(
        "--k-range", metavar="A..B", help="The ks 'auto' searches, e.g. 3..8 (default: "
        "study.toml k_min..k_max, 2..10).")] = None,
    lang: Annotated[str | None, typer.Option("--lang", help="Sheet language: fr or en.")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Random seed (default: study.toml)."
                                             )] = None,
) -> None:
    """Cluster data/people.parquet into personas; write data/personas.parquet,
    out/personas/model.json and the sheets (out/personas/personas.html and .pdf)."""
    from mailstudy.personas.run import run_personas
    from mailstudy.personas.settings import PersonaError
    from mailstudy.study import open_study

    if lang is not None and lang not in ("fr", "en"):
        raise UserError("--lang must be fr or en")
    if k is not None and k != "auto" and not (k.isdigit() and int(k) >= 2):
        raise UserError("--k must be 'auto' or a whole number of at least 2")
    bounds = _k_range(k_range)
    try:
        model, paths = run_personas(open_study(study), k=k, lang=lang, seed=seed,
                                    k_range=bounds)
    except PersonaError as exc:
        raise UserError(exc.msgid, **exc.values) from None
    card = model.card
    d = model.diagnostics
    console.print(f"k tried: {', '.join(str(int(v)) for v in d.k)}")
    for r in d.itertuples():
        console.print(f"  k={int(r.k)}: prediction strength {r.prediction_strength:.2f}, "
                      f"stability median {r.stability_median:.2f}, p10 {r.stability_p10:.2f}, "
                      f"silhouette {r.silhouette:.2f}")
    console.print(f"why: {card['k_reason']}")
    console.print(f"personas: {card['k']} (k {card['k_mode']} = {card['k_chosen']}, "
                  f"{card['merged_small_clusters']} small group(s) merged); silhouette "
                  f"{card['silhouette']:.2f}")
    for p in card["personas"]:
        console.print(f"  {p['persona']}. {p['name']}: {p['size']} people "
                      f"({100 * p['share']:.0f}%), stability (Jaccard) {p['jaccard']:.2f}")
    if not model.structure_ok:
        err_console.print(styled("warning: the data hold no stable structure", "red") + (
            f"(prediction strength {card['prediction_strength']:.2f}, needs >= "
            f"{card['thresholds']['prediction_strength']}; "
            f"median stability {card['stability_median']:.2f}, needs >= "
            f"{card['thresholds']['stability_median_target']}): these personas are rough "
            "landmarks, not real groups; the sheets say so."))
    weak = [str(p["persona"]) for p in card["personas"]
            if p["jaccard"] < card["thresholds"]["jaccard_target"]]
    if weak:
        err_console.print(styled("note:", "yellow") + f"persona(s) {', '.join(weak)} less stable "
                          f"(Jaccard < {card['thresholds']['jaccard_target']})")
    if "pdf" not in paths:
        err_console.print(styled("note:", "yellow", "PDF not written"))
    console.print("wrote data/personas.parquet, out/personas/model.json, "
                  "out/personas/personas.html and personas.pdf")


def _k_range(text: str | None) -> tuple[int, int] | None:
    """``A..B`` as (A, B); None when not given."""
    if text is None:
        return None
    first, sep, last = text.partition("..")
    if not (sep and first.isdigit() and last.isdigit() and 2 <= int(first) <= int(last)):
        raise UserError("--k-range must read A..B with 2 <= A <= B, e.g. 3..8")
    return int(first), int(last)
