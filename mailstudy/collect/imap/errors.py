"""IMAP errors, all described without any address, login, password or folder name, and the
classification of refused logins into fixed phrases (the server's own text may echo the
login)."""

from __future__ import annotations

import imaplib
import re

from mailstudy.errors import CollectError


class ImapError(CollectError):
    """An IMAP failure described without any address, login, password or folder name."""


class LoginRefused(ImapError):
    """The server refused the credentials for one mailbox: retrying will not help."""


class TransientError(ImapError):
    """The connection failed or dropped: reconnecting may help."""



class ResponseError(ValueError):
    """A FETCH response that does not parse."""


def kind_of(exc: BaseException) -> str:
    """The exception's type name: the only part of it safe to report (no data in it)."""
    return type(exc).__name__


_LOGIN_REASONS = [
    (re.compile(rb"AUTHENTICATIONFAILED|authentication failed|invalid credentials", re.I),
     "authentication failed (wrong login or password)"),
    (re.compile(rb"CONTACTADMIN|locked|disabled|suspended", re.I),
     "account locked or disabled"),
    (re.compile(rb"AUTHORIZATIONFAILED|not authori[sz]ed", re.I),
     "not authorised to open this mailbox"),
    (re.compile(rb"UNAVAILABLE|try again|temporar|shutting down", re.I),
     "server temporarily unavailable"),
    (re.compile(rb"EXPIRED", re.I), "credentials expired"),
]
_REFUSED = "login refused"
#: Every phrase :func:`login_reason` may give: a refused login raises one of them as its
#: message template (no values), so each has its French text in the catalogue.
LOGIN_REASONS = (*(reason for _, reason in _LOGIN_REASONS), _REFUSED)


def login_is_transient(exc: BaseException) -> bool:
    """A login that failed because the server is stopping, overloaded or dropped the
    connection, not because of the account: worth retrying. Judged by the first reason that
    matches, so "authentication failed, try again" is never retried (retries could lock an
    account)."""
    if isinstance(exc.__context__, imaplib.IMAP4.abort):  # imapclient wraps an EOF in LOGIN
        return True
    return login_reason(exc) == "server temporarily unavailable"


def login_reason(exc: BaseException) -> str:
    """A fixed phrase for a refused login: the server's own text may echo the login."""
    text = str(exc).encode("utf-8", "replace") if not isinstance(exc, bytes) else exc
    for pat, reason in _LOGIN_REASONS:
        if pat.search(text):
            return reason
    return _REFUSED

