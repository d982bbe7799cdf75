"""``mailstudy optout add|list|remove``: objections (GDPR art. 21)."""

from __future__ import annotations

from typing import Annotated

import typer

from mailstudy.cli._app import StudyOpt, UserError, app, clean_errors, console, new_app

optout_app = new_app("Record people who object to the study (GDPR art. 21).",
                         no_args_is_help=True)
app.add_typer(optout_app, name="optout")

Addresses = Annotated[list[str], typer.Argument(help="Addresses of the people concerned.")]


def _check(addresses: list[str]) -> None:
    from mailstudy.text import is_address

    bad = sum(1 for a in addresses if not is_address(a.strip().lower()))
    if bad:
        raise UserError("{bad} of the arguments are not e-mail addresses; nothing recorded",
                        bad=bad)


@optout_app.command("add")
@clean_errors
def optout_add(addresses: Addresses, study: StudyOpt = None) -> None:
    """Record objections: the mailboxes are never read again, and what was already collected
    about these people is removed everywhere (downstream stages then run again)."""
    from mailstudy.intake.objection import record_objections
    from mailstudy.study import open_study

    _check(addresses)
    added, present, r = record_objections(open_study(study), addresses)
    console.print(f"opt-outs recorded: {added} new, {present} already present")
    tables = ", ".join(f"{n} {t}" for t, n in r.table_rows.items()) or "none"
    withdrawn = "yes" if r.draw_withdrawn else "no"
    console.print(f"removed: {r.mailbox_rows} rows of their mailboxes; pseudonym replaced in "
                  f"{r.references_replaced} places ({r.files_rewritten} files rewritten); "
                  f"table rows: {tables}; manager links: {r.manager_links}; run-summary "
                  f"entries: {r.run_entries}; draw withdrawn: {withdrawn}")
    console.print("profile, personas, invite and report will run again at the next "
                  "'mailstudy run'")


@optout_app.command("list")
@clean_errors
def optout_list(study: StudyOpt = None) -> None:
    """How many objections are recorded, and their keyed hashes (never an address)."""
    from mailstudy.optout import load_optouts
    from mailstudy.study import open_study

    o = load_optouts(open_study(study))
    console.print(f"{len(o)} objection(s) recorded")
    for h in sorted(o.hashes | o.legacy):
        console.print(h)


@optout_app.command("remove")
@clean_errors
def optout_remove(addresses: Addresses, study: StudyOpt = None) -> None:
    """Withdraw objections: these people may be collected again (what was removed stays
    removed)."""
    from mailstudy.optout import remove_optouts
    from mailstudy.study import open_study

    _check(addresses)
    n = remove_optouts(open_study(study), addresses)
    console.print(f"objections withdrawn: {n} (of {len(addresses)} given)")
