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

import typer
from rich.console import Console
from rich.markup import escape

from mailstudy.errors import MailstudyError

app = typer.Typer(
    name="mailstudy",
    help="Pseudonymised audit of mailbox usage for participatory workshops.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
collect_app = typer.Typer(help="Collect message metadata, pseudonymised at the door.",
                          no_args_is_help=True)
app.add_typer(collect_app, name="collect")

def _console(stderr: bool) -> Console:
    # Messages are never wrapped mid-sentence; logs and pipes get wide tables.
    c = Console(stderr=stderr, highlight=False, soft_wrap=True)
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
            err_console.print(f"[red]error:[/red] {escape(_safe_message(exc))}")
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            err_console.print("interrupted; committed work is kept, re-run to resume")
            raise typer.Exit(130) from None
        except Exception as exc:  # noqa: BLE001 - last line of defence
            if os.environ.get("MAILSTUDY_DEBUG") == "1":
                raise
            err_console.print(f"[red]internal error:[/red] {type(exc).__name__} "
                              "(set MAILSTUDY_DEBUG=1 for details)")
            raise typer.Exit(3) from None

    return wrapper  # type: ignore[return-value]


def _safe_message(exc: BaseException) -> str:
    # OSErrors carry the offending path, which may name a person: keep only the reason.
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)


def fail(message: str) -> None:
    raise UserError(message)


def is_interactive() -> bool:
    return sys.stdin.isatty()
