"""One error family: every failure a user may see derives from :class:`MailstudyError`.

Why one family: the command line maps it to one clear line and exit code 2 in one place
(``cli/_app.py``), and ``mailstudy run`` records its message in the run report, because
these messages are written to carry no identity (pseudonyms, counts and reasons only).
Anything else is an internal error whose message is never shown (a library's message may
quote a header, a cell or a path).

Python functions raise messages that name their *parameters* (``owner``, ``k``); the CLI
names its flags in its own help. This module sits below every other, ``anonymise`` included.
"""

from __future__ import annotations


class MailstudyError(Exception):
    """A failure whose message is meant for the user as is and names no person."""


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
