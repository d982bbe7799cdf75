"""The typer application and what every command shares: finding the study, clean errors.

Commands live in one module per stage under ``mailstudy/cli/``; each is a thin wrapper that
parses options, calls the stage's Python function and prints its summary.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import click
import typer
from rich.console import Console
from rich.markup import escape
from rich.text import Text
from typer import core as _typer_core

from mailstudy import __version__
from mailstudy.errors import MailstudyError
from mailstudy.i18n import catalogue, cli_lang, tr

#: Commands in the order of a campaign, grouped in help panels (typer rich_help_panel).
#: A command not listed here (a new stage) is shown after them in its own panel, or in
#: the panel its module gives it with ``rich_help_panel=``.
WORKFLOW: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("1. Set up the study", ("init", "keyholder-keygen", "optout")),
    ("2. Collect", ("collect", "directory", "volunteers", "availability")),
    ("3. Analyse", ("profile", "personas", "invite", "panel", "report", "compare", "run")),
    ("4. Key holder", ("reveal",)),
    ("5. Share and close", ("export", "purge")),
    ("Tools", ("demo", "pseudonym", "columns")),
)
_ORDER = [name for _, names in WORKFLOW for name in names]
_PANEL = {name: title for title, names in WORKFLOW for name in names}
CONTEXT = {"help_option_names": ["-h", "--help"]}


def _tr(text: str | None) -> str | None:
    return tr(cli_lang(), text) if text else text


def _help(text: str | None) -> str | None:
    """Help text translated and escaped for rich: "[directory.ladder]" shows as written."""
    return escape(tr(cli_lang(), text)) if text else text


def _no_type_tag(self: Any, ctx: click.Context) -> str | None:
    """Help shows a value's name (``FILE``, ``N``, or the option's name in capitals), never
    typer's developer type tags (``<list[str]>``, ``<bool>``)."""
    if self.metavar is not None:
        return str(self.metavar)
    if getattr(self, "is_flag", False) or getattr(self, "count", False):
        return None
    if isinstance(self, click.Argument):
        return None  # the usage line names it already
    return (self.name or "value").upper()


_typer_core.TyperOption.display_type_rich = _no_type_tag  # type: ignore[method-assign]
_typer_core.TyperArgument.display_type_rich = _no_type_tag  # type: ignore[method-assign]


def _translate_params(cmd: click.Command) -> None:
    if getattr(cmd, "_mailstudy_lang", None) == cli_lang():
        return
    english = getattr(cmd, "_mailstudy_en", None)
    if english is None:
        english = (cmd.help, cmd.short_help, [getattr(p, "help", None) for p in cmd.params],
                   [getattr(p, "show_default", None) for p in cmd.params])
        cmd._mailstudy_en = english  # type: ignore[attr-defined]
    cmd.help, cmd.short_help = _help(english[0]), _help(english[1])
    for p, h, d in zip(cmd.params, english[2], english[3], strict=True):
        if hasattr(p, "help"):
            p.help = _help(h)
        if isinstance(d, str):
            p.show_default = _help(d)
    cmd._mailstudy_lang = cli_lang()  # type: ignore[attr-defined]


class _Localised:
    """Help in the user's language: panel titles, "Usage:", the -h option, "[required]"."""

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        pieces = self.collect_usage_pieces(ctx)  # type: ignore[attr-defined]
        formatter.write_usage(ctx.command_path, " ".join(pieces), prefix=_tr("Usage:") + " ")

    def get_help_option(self, ctx: click.Context) -> click.Option | None:
        opt = super().get_help_option(ctx)  # type: ignore[misc]
        if opt is not None:
            opt.help = _help("Show this message and exit.")
        return opt

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        from typer import rich_utils

        _translate_params(self)  # type: ignore[arg-type]
        for name, text in (("ARGUMENTS_PANEL_TITLE", "Arguments"),
                           ("OPTIONS_PANEL_TITLE", "Options"),
                           ("COMMANDS_PANEL_TITLE", "Commands"),
                           ("REQUIRED_LONG_STRING", "[required]")):
            setattr(rich_utils, name, _tr(text))
        super().format_help(ctx, formatter)  # type: ignore[misc]


class WorkflowCommand(_Localised, _typer_core.TyperCommand):
    """A command whose help speaks the user's language (LANG/LC_ALL), from the catalogue."""


class WorkflowGroup(_Localised, _typer_core.TyperGroup):
    """A group that lists its commands in workflow order, in translated help panels."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = list(self.commands)
        rank = {n: i for i, n in enumerate(_ORDER)}
        ordered = sorted(names, key=lambda n: (rank.get(n, len(_ORDER)), names.index(n)))
        for n in ordered:
            cmd = self.commands[n]
            panel = getattr(cmd, "_mailstudy_panel", None) or getattr(
                cmd, "rich_help_panel", None) or _PANEL.get(n)
            cmd._mailstudy_panel = panel  # type: ignore[attr-defined]
            if panel:
                cmd.rich_help_panel = _tr(panel)  # type: ignore[attr-defined]
            _translate_params(cmd)
        return ordered


def new_app(help: str, **kw: Any) -> typer.Typer:
    """A typer application as every mailstudy command group is made: help text escaped for
    rich (``[directory.ladder]`` prints as written), ``-h``, workflow order in help panels,
    help in the user's language (the English strings are the catalogue's msgids)."""
    kw.setdefault("no_args_is_help", True)
    t = typer.Typer(help=help, rich_markup_mode="rich", cls=WorkflowGroup,
                    context_settings=CONTEXT, **kw)
    command = t.command

    def workflow_command(*args: Any, **ckw: Any) -> Any:
        ckw.setdefault("cls", WorkflowCommand)
        return command(*args, **ckw)

    t.command = workflow_command  # type: ignore[method-assign]
    return t


app = new_app("Pseudonymised audit of mailbox usage for participatory workshops.",
              name="mailstudy", pretty_exceptions_enable=False, add_completion=False)


def _version(value: bool) -> None:
    if value:
        print(f"mailstudy {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True,
        help="Print the version and exit.")] = False) -> None:
    """Pseudonymised audit of mailbox usage for participatory workshops."""


collect_app = new_app("Collect message metadata, pseudonymised at the door.")
app.add_typer(collect_app, name="collect")


def _console(stderr: bool) -> Console:
    # Messages are never wrapped mid-sentence; logs and pipes get wide tables.
    # markup=False: a message quoting "[directory.ladder]" prints it as written.
    c = Console(stderr=stderr, highlight=False, soft_wrap=True, markup=False)
    if not c.is_terminal:
        c.width = 160
    return c


console = _console(stderr=False)
err_console = _console(stderr=True)

StudyOpt = Annotated[
    Path | None,
    typer.Option("--study", help="Study folder (default: $MAILSTUDY_STUDY, else the current "
                 "directory).", show_default=False),
]

F = TypeVar("F", bound=Callable[..., Any])


class UserError(MailstudyError):
    """A command-line mistake (an option's value), reported like every error of the family."""


def _expected_errors() -> tuple[type[BaseException], ...]:
    return (MailstudyError, OSError)


def clean_errors(fn: F) -> F:
    """Turn expected failures into one line on stderr and exit code 2, never a traceback.

    Unexpected exceptions are also reported without their traceback (which could quote a
    header or a path) unless MAILSTUDY_DEBUG=1 is set by a developer.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except typer.Exit:
            raise
        except _expected_errors() as exc:
            err_console.print(Text.assemble((_tr("error:"), "red"), " ", user_message(exc)))
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            err_console.print(_tr("interrupted; committed work is kept, re-run to resume"))
            raise typer.Exit(130) from None
        except Exception as exc:  # noqa: BLE001 - last line of defence
            if os.environ.get("MAILSTUDY_DEBUG") == "1":
                raise
            err_console.print(Text.assemble((_tr("internal error:"), "red"), " ",
                                            type(exc).__name__, " ",
                                            _tr("(set MAILSTUDY_DEBUG=1 for details)")))
            raise typer.Exit(3) from None

    return wrapper  # type: ignore[return-value]


def user_message(exc: BaseException) -> str:
    """An expected failure's message in the user's language: a :class:`MailstudyError`'s
    template through the catalogue (msgctxt ``error``) with its values filled in, else the
    English text (a sentence the catalogue knows without context is still translated)."""
    lang = cli_lang()
    if isinstance(exc, MailstudyError) and ("error", exc.msgid) in catalogue(lang):
        return tr(lang, exc.msgid, context="error", **exc.values)
    return tr(lang, _safe_message(exc))


def _safe_message(exc: BaseException) -> str:
    # OSErrors carry the offending path, which may name a person: keep only the reason.
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)


def msg(text: str, **fmt: Any) -> str:
    """A message of the command line in the user's language (LANG/LC_ALL)."""
    return tr(cli_lang(), text, **fmt)


def styled(label: str, style: str, rest: str = "") -> Text:
    """``label`` (translated) in ``style``, then ``rest`` as written: no markup is parsed."""
    return Text.assemble((_tr(label) or label, style), " ", rest)


def fail(msgid: str, /, **values: Any) -> None:
    """Refuse a command-line value: ``msgid`` is an English template (see ``errors``)."""
    raise UserError(msgid, **values)


def is_interactive() -> bool:
    return sys.stdin.isatty()
