"""One error family: every failure a user may see derives from :class:`MailstudyError`.

Why one family: the command line maps it to one clear line and exit code 2 in one place
(``cli/_app.py``), and ``mailstudy run`` records its message in the run report, because
these messages are written to carry no identity (pseudonyms, counts and reasons only).
Anything else is an internal error whose message is never shown (a library's message may
quote a header, a cell or a path).

Python functions raise messages that name their *parameters* (``owner``, ``k``); the CLI
names its flags in its own help. This module sits below every other, ``anonymise`` included.

Why a message keeps its template: translation happens at the edge, where the reader is known
(the CLI speaks the user's locale). An error is raised with an English template and its values,
``ConfigError("[x] y must be {n}", n=n)``; ``str(exc)`` is the English text, filled in, for
logs, the run report and tests, while the CLI looks the template up in the catalogue
(msgctxt ``error``) and fills the same values into the French text. The values are as
identity-free as the message itself (counts, pseudonyms, parameter names).
"""

from __future__ import annotations

from typing import Any


class MailstudyError(Exception):
    """A failure whose message is meant for the user as is and names no person."""

    def __init__(self, msgid: str, /, **values: Any) -> None:
        # a template without values is the text itself (it may hold a literal brace)
        super().__init__(msgid.format(**values) if values else msgid)
        self.msgid = msgid
        self.values = values

    def __reduce__(self) -> tuple[Any, ...]:
        # Dask workers pickle errors back to the client: keep the template and the values,
        # whatever a subclass's __init__ takes (Exception's default re-calls it with args)
        return _restore, (type(self), self.args, self.__dict__)


def _restore(cls: type[MailstudyError], args: tuple[Any, ...],
             state: dict[str, Any]) -> MailstudyError:
    exc = cls.__new__(cls, *args)
    exc.args = args
    exc.__dict__.update(state)
    return exc


class ConfigError(MailstudyError):
    """The workspace or its configuration needs fixing; the message says how."""


class InputError(MailstudyError, ValueError):
    """A file or an argument given by the user cannot be used as it is."""


class PrivacyError(MailstudyError):
    """A privacy rule refuses the operation (keys, escrow, disclosure, release gate)."""


class CollectError(MailstudyError):
    """A mailbox or a server could not be read."""


class StageError(MailstudyError):
    """A stage of the pipeline cannot run (missing inputs, no solution, bad data)."""
