"""``mailstudy profile``: per-person features and group profiles (no key needed)."""

from __future__ import annotations

from typing import Annotated

import typer

from mailstudy.cli._app import StudyOpt, app, clean_errors, console, msg

COUNT_LABELS = {
    "rows": "message rows read",
    "messages_unique": "distinct messages (deduplicated across mailboxes)",
    "mailboxes": "mailboxes",
    "directory_people": "people in the directory",
    "people": "people profiled",
    "below_min_messages": "mailboxes below min_messages (not profiled)",
    "below_min_active_days": "mailboxes below min_active_days (not profiled)",
    "opted_out": "opted-out mailboxes dropped",
    "mailbox_without_directory": "mailboxes with no directory row",
    "directory_without_mailbox": "directory people with no mailbox",
    "people_without_directory": "profiled people with no directory row (level unknown)",
}


@app.command("profile")
@clean_errors
def profile_cmd(
    study: StudyOpt = None,
    lang: Annotated[str | None, typer.Option("--lang", help="fr or en (charts).")] = None,
    plain_csv: Annotated[bool, typer.Option(
        "--plain-csv", help="Write plain CSV (comma, decimal point, no BOM) instead of "
        "French Excel's (default for a French study; see [report] csv).")] = False,
) -> None:
    """Write data/people.parquet and the group profiles under out/profiles/."""
    from mailstudy.profile.run import run_profile
    from mailstudy.study import open_study

    res = run_profile(open_study(study), lang=lang, plain_csv=plain_csv or None)
    for k, label in COUNT_LABELS.items():
        console.print(f"{msg(label)}: {res.counts.get(k, 0)}")
    sup = res.groups.suppression
    console.print(f"group cells suppressed: {int(sup['primary'].sum())} under the threshold, "
                  f"{int(sup['secondary'].sum())} complementary; statistics blanked (too few "
                  f"values): {int(sup['blanked_statistics'].sum())}")
    console.print(msg("wrote {n} files under out/profiles/", n=len(res.files)))
