"""``mailstudy invite``, ``reveal``, ``volunteers import``, ``availability import``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from mailstudy.cli._app import StudyOpt, UserError, app, clean_errors, console, new_app

volunteers_app = new_app("Import the volunteers file (pseudonymised on import).",
                             no_args_is_help=True)
availability_app = new_app("Import who can attend which session (pseudonymised).",
                               no_args_is_help=True)
app.add_typer(volunteers_app, name="volunteers")
app.add_typer(availability_app, name="availability")

FileArg = Annotated[Path, typer.Argument(help="CSV (comma or semicolon, UTF-8 or "
                                         "Windows-1252) or .xlsx with an address column "
                                         "(email, courriel, mail, adresse).")]


def _print_summary(summary: Any) -> None:
    console.print(f"rows read: {summary.rows}; imported: {summary.imported}; "
                  f"rejected: {summary.n_rejected}; opted out (dropped): {summary.opted_out}; "
                  f"identities sealed: {summary.sealed}")
    for reason, lines in summary.rejected.items():
        shown = ", ".join(str(x) for x in lines[:20]) + (" ..." if len(lines) > 20 else "")
        console.print(f"  rejected ({reason}): {len(lines)} on line(s) {shown}")


def _user_errors(fn: Any, *args: Any, **kwargs: Any) -> Any:
    from mailstudy.invite.plan import InviteError

    try:
        return fn(*args, **kwargs)
    except InviteError as exc:
        raise UserError(exc.msgid, **exc.values) from None


@volunteers_app.command("import")
@clean_errors
def volunteers_import(file: FileArg, study: StudyOpt = None) -> None:
    """Pseudonymise volunteers into data/volunteers.parquet; addresses go to the escrow."""
    from mailstudy.intake.answers import import_volunteers
    from mailstudy.study import open_study

    _print_summary(_user_errors(import_volunteers, open_study(study), file))


@availability_app.command("import")
@clean_errors
def availability_import(file: FileArg, study: StudyOpt = None) -> None:
    """Pseudonymise availability (one yes/no column per session id) into
    data/availability.parquet."""
    from mailstudy.intake.answers import import_availability
    from mailstudy.study import open_study

    _print_summary(_user_errors(import_availability, open_study(study), file))


@app.command("invite")
@clean_errors
def invite_cmd(
    size: Annotated[int | None, typer.Option("--size", help="Panel size (default: "
                                             "[workshop] panel_size).")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Lottery seed (default: "
                                             "[workshop] seed).")] = None,
    lang: Annotated[str | None, typer.Option("--lang", help="fr or en.")] = None,
    algorithm: Annotated[str | None, typer.Option(
        "--algorithm", help="leximin (default: [workshop] algorithm, else leximin), maximin "
        "or legacy.")] = None,
    number: Annotated[int | None, typer.Option(
        "--number", help="The panel number drawn in public from the published list "
        "(1..M); default: a seeded draw. With --verify: the number to check.")] = None,
    verify: Annotated[bool, typer.Option(
        "--verify", help="Only recompute the panel from out/invitations/lottery.csv and the "
        "drawn number, and check it against the announced hash and panel.")] = False,
    study: StudyOpt = None,
) -> None:
    """Draw a fair panel (leximin lottery, rounded to a published list of panels) and its
    reserves into out/invitations/."""
    from mailstudy.invite.run import run_invite, verify_invitation
    from mailstudy.study import open_study

    s = open_study(study)
    if verify:
        v = _user_errors(verify_invitation, s, number)
        console.print(f"list sha256 {v.sha256}")
        if not v.ok:
            for p in v.problems:
                console.print(f"NOT VERIFIED: {p}")
            raise typer.Exit(1)
        console.print("verified: the panel is the drawn number of the published list")
        return
    inv, notes = _user_errors(run_invite, s, size, seed, lang, None, algorithm, number)
    f = inv.fairness
    for n in notes:
        console.print(f"note: {n}")
    console.print(f"panel of {f['size']} drawn from a pool of {f['pool']} (seed {f['seed']}); "
                  f"{len(inv.reserves)} reserves")
    console.print(f"minimum selection probability {f['min_probability']:.4f} = "
                  f"{f['min_over_equal_share']:.2f} x size/pool; Gini {f['gini']:.3f}; "
                  f"share below size/pool {f['share_below_equal_share']:.1%}")
    console.print(f"distribution sha256 {f['distribution_sha256']} ({f['algorithm']}, "
                  f"{f['people_at_minimum']} people at the minimum)")
    if f["published_list_sha256"]:
        console.print(f"published list of {f['panels_published']} panels, sha256 "
                      f"{f['published_list_sha256']} (minimum probability "
                      f"{f['published_list_min_probability']:.4f}, loss "
                      f"{f['published_list_loss']:.4f}); panel number {f['panel_number']} "
                      f"({f['number_from']})")
    else:
        console.print("no published list ([workshop] published_panels = 0): seeded draw")
    listed = "lottery.csv, " if f["published_list_sha256"] else ""
    console.print(f"written: {s.out / 'invitations'} (panel.csv, reserves.csv, {listed}"
                  "composition.csv, fairness.json, why.csv)")


@app.command("reveal")
@clean_errors
def reveal_cmd(
    identity: Annotated[Path | None, typer.Option(
        "--identity", help="The key holder's age identity file (AGE-SECRET-KEY-...).")] = None,
    verify: Annotated[bool, typer.Option(
        "--verify", help="Only check the re-identification log's hash chain.")] = False,
    receipt: Annotated[str | None, typer.Option(
        "--receipt", help="With --verify: a receipt printed by an earlier reveal, which must "
        "be on the chain.")] = None,
    lang: Annotated[str | None, typer.Option("--lang", help="fr or en.")] = None,
    study: StudyOpt = None,
) -> None:
    """Key holder only: name the panel and reserves, write .ics invitations, log the reveal."""
    from mailstudy.reveal import reveal, verify_log
    from mailstudy.study import open_study

    s = open_study(study)
    log = s.catalog.path("reidentification_log")
    if verify:
        check = verify_log(log, receipt)
        console.print(f"re-identification log intact: {check.entries} reveal(s), last receipt "
                      f"{check.last_hash}")
        return
    if identity is None:
        raise UserError("give the key holder's identity file with --identity FILE")
    r = reveal(s, identity, lang=lang)
    console.print(f"named {r.named} people ({r.panel} on the panel, {r.reserves} reserves); "
                  f"not in the escrow: {r.missing}")
    console.print(f"written under {s.catalog.path('named')}: "
                  + ", ".join(p.name for p in r.files))
    console.print(f"logged in {log.relative_to(s.root)}; receipt (keep it): {r.receipt}")
