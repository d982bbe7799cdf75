"""``mailstudy collect imap``: collect mailboxes from an IMAP server.

Secrets never come from the command line (they would show in ``ps`` and shell history): a
password comes from the environment variable ``--password-env`` names, the system keyring
(``--keyring``) or a hidden prompt; an OAuth2 bearer token from ``--oauth2-token-env`` or the
output of ``--oauth2-token-command``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from mailstudy.cli._app import (
    StudyOpt,
    UserError,
    clean_errors,
    collect_app,
    err_console,
    is_interactive,
    styled,
)


@collect_app.command("imap")
@clean_errors
def collect_imap_cmd(
    host: Annotated[str, typer.Option(help="IMAP server host name.")],
    port: Annotated[int | None, typer.Option(
        help="Port (default 993 with TLS, 143 with --starttls or --plaintext).")] = None,
    user: Annotated[str | None, typer.Option(
        "--user", help="Login of one mailbox (e.g. agent@x.fr, or agent@x.fr*admin for a "
        "Dovecot master user).")] = None,
    mailbox: Annotated[str | None, typer.Option(
        help="Address of that mailbox's owner, when the login is not the address.")] = None,
    accounts: Annotated[Path | None, typer.Option(
        help="CSV of mailboxes: columns 'mailbox' (address) and 'login'.")] = None,
    password_env: Annotated[str | None, typer.Option(
        help="Name of the environment variable holding the password.")] = None,
    keyring: Annotated[bool, typer.Option(
        "--keyring", help="Read each login's password from the system keyring (service "
        "'mailstudy-imap/HOST').")] = False,
    oauth2_token_env: Annotated[str | None, typer.Option(
        help="Environment variable holding an OAuth2 bearer token (XOAUTH2, Microsoft 365)."
    )] = None,
    oauth2_token_command: Annotated[str | None, typer.Option(
        help="Command printing an OAuth2 bearer token, run without a shell. One token serves "
        "every mailbox unless the command holds '{login}', which becomes each mailbox's login "
        "(visible to local users in ps). A token is reused for 5 minutes and fetched again "
        "when the server rejects it.")] = None,
    starttls: Annotated[bool, typer.Option(
        "--starttls", help="Upgrade a plain connection with STARTTLS (port 143).")] = False,
    ca_file: Annotated[Path | None, typer.Option(
        help="PEM file of the CA that signed the server's certificate.")] = None,
    plaintext: Annotated[bool, typer.Option(
        "--plaintext", help="No TLS: only to a loopback address (tests, local tunnels).")
    ] = False,
    allow_plaintext: Annotated[bool, typer.Option(
        "--allow-plaintext", help="Allow --plaintext to a remote host. Passwords cross the "
        "network unencrypted: never on a production network.")] = False,
    include: Annotated[list[str] | None, typer.Option(
        help="Collect only folders matching this pattern (repeatable, e.g. 'Archives/*').")
    ] = None,
    exclude: Annotated[list[str] | None, typer.Option(
        help="Skip folders matching this pattern (repeatable).")] = None,
    workers: Annotated[int, typer.Option(help="Parallel connections (processes).")] = 4,
    batch_size: Annotated[int, typer.Option(
        help="Messages per FETCH and per committed batch.")] = 1000,
    timeout: Annotated[float, typer.Option(
        help="Read timeout in seconds (a silent server is dropped and reconnected).")] = 120.0,
    cluster: Annotated[str | None, typer.Option(
        "--cluster", help="Dask scheduler address (tcp://host:8786) whose workers collect, "
             "one mailbox per task (each worker needs the study mounted at the same path and "
             "a route to the IMAP server); default: [cluster] address in study.toml, else "
             "this machine's processes (--workers).")] = None,
    study: StudyOpt = None,
) -> None:
    """Collect message metadata from an IMAP server into data/messages/ (never bodies).

    Re-running fetches only new messages; an interrupted run resumes where it stopped.
    """
    from mailstudy.collect.imap.auth import Account as ImapAccount
    from mailstudy.collect.imap.auth import auth_from_options, mailbox_of_login, read_accounts
    from mailstudy.collect.imap.connection import Server
    from mailstudy.collect.imap.errors import ImapError
    from mailstudy.pipeline.cluster_imap import collect_imap_on
    from mailstudy.study import open_study

    s = open_study(study)
    if (user is None) == (accounts is None):
        raise UserError("give either --user LOGIN (one mailbox) or --accounts FILE")
    try:
        if accounts is not None:
            if mailbox is not None:
                raise UserError("--mailbox goes with --user, not --accounts")
            accs = read_accounts(accounts)
            if not accs:
                raise UserError("the accounts file lists no mailbox")
        else:
            assert user is not None
            address = mailbox or mailbox_of_login(user)
            if address is None:
                raise UserError("the login is not an address: give the owner's address with "
                                "--mailbox")
            accs = [ImapAccount(address, user)]
        server = Server(host, port, starttls=starttls, plaintext=plaintext,
                        allow_plaintext=allow_plaintext,
                        ca_file=str(ca_file) if ca_file else None, read_timeout=timeout)
        auth = auth_from_options(
            [a.login for a in accs], service=f"mailstudy-imap/{host}",
            password_env=password_env, use_keyring=keyring, oauth2_token_env=oauth2_token_env,
            oauth2_token_command=oauth2_token_command, interactive=is_interactive())

        def warn(text: str) -> None:
            err_console.print(styled("WARNING:", "bold red", text))

        with Progress(TextColumn("[bold]collect imap[/bold]"), BarColumn(),
                      TextColumn("{task.completed}/{task.total} messages"),
                      TextColumn("{task.fields[boxes]} mailboxes"), TimeElapsedColumn(),
                      console=err_console, transient=True,
                      disable=not err_console.is_terminal) as progress:
            task = progress.add_task("imap", total=None, boxes="0/" + str(len(accs)))

            def on_progress(done: int, planned: int, boxes: int, total: int) -> None:
                progress.update(task, completed=done, total=planned or None,
                                boxes=f"{boxes}/{total}")

            summary = collect_imap_on(s, server, accs, auth, cluster=cluster,
                                      include=include or (), exclude=exclude or (),
                                      workers=workers, batch_size=batch_size,
                                      on_progress=on_progress, warn=warn)
    except ImapError as exc:
        raise UserError(exc.msgid, **exc.values) from None
    from mailstudy.cli.collect import print_summary

    print_summary(summary)
    if summary.failures:
        raise typer.Exit(1)
