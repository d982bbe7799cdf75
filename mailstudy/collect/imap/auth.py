"""Who is collected and with which secrets: accounts (from a CSV file), and the secrets from
the environment, the keyring, a prompt or an OAuth2 token command whose tokens each process
keeps a few minutes (:class:`TokenCache`)."""

from __future__ import annotations

import os
import shlex
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from mailstudy.collect.imap.errors import ImapError, LoginRefused, kind_of, login_is_transient
from mailstudy.text import is_env_name

MASTER_SEPARATORS = ("*",)  # Dovecot master-user syntax: mailbox*admin
TOKEN_TTL = 300.0  # seconds a token from an OAuth2 token command is reused (tokens last ~1 h)


@dataclass(frozen=True)
class Account:
    """One mailbox: its owner's address (hashed at once, never logged) and the login that
    opens it (the address itself, or e.g. ``agent@x*admin`` for a Dovecot master user)."""

    address: str
    login: str

    def __repr__(self) -> str:  # keep identities out of tracebacks and debug output
        return "Account(<hidden>)"


@dataclass(frozen=True)
class Auth:
    """Secrets. ``passwords`` maps a login to its password (keyring look-ups done by the
    caller); ``password`` serves every login without its own (an admin/master password).
    ``oauth2_command`` prints a bearer token; ``{login}`` in it stands for the login (for
    per-mailbox delegated tokens; without it, one token serves every mailbox, as an app-only
    Microsoft 365 token does). Its token is kept by each process for ``TOKEN_TTL`` seconds
    and fetched again at once when the server rejects it (bearer tokens expire)."""

    password: str | None = None
    passwords: dict[str, str] = field(default_factory=dict)
    oauth2_token: str | None = None
    oauth2_command: str | None = None

    def __repr__(self) -> str:
        return "Auth(<hidden>)"

    def login(self, client: IMAPClient, login: str) -> None:
        if self.oauth2_command is not None:
            token, fresh = TOKENS.get(self.oauth2_command, login)
            try:
                client.oauth2_login(login, token)
            except LoginError as exc:
                if fresh or login_is_transient(exc):
                    raise
                # expired or revoked since it was cached: one more try with a new token
                token, _ = TOKENS.get(self.oauth2_command, login, rejected=token)
                client.oauth2_login(login, token)
            return
        if self.oauth2_token is not None:
            client.oauth2_login(login, self.oauth2_token)
            return
        pw = self.passwords.get(login, self.password)
        if pw is None:
            raise LoginRefused("no password for this mailbox")
        client.login(login, pw)



class TokenCache:
    """Tokens of OAuth2 token commands, kept by this process: a command such as ``az account
    get-access-token`` takes a second or two, too slow to run for every mailbox. One lock per
    command and login: threads waiting for the same token share one run, and a token that
    another thread already replaced is not fetched again."""

    def __init__(self, ttl: float = TOKEN_TTL) -> None:
        self.ttl = ttl
        self._tokens: dict[tuple[str, str], tuple[str, float]] = {}
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._locks_lock = threading.Lock()  # guards _locks only

    def clear(self) -> None:
        self._tokens.clear()

    def get(self, command: str, login: str, rejected: str | None = None) -> tuple[str, bool]:
        """(token, whether it was just fetched) for ``login``, from the cache unless older
        than ``ttl`` or ``rejected`` by the server."""
        key = (command, login if "{login}" in command else "")
        with self._locks_lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            hit = self._tokens.get(key)
            if (hit is not None and hit[0] != rejected
                    and time.monotonic() - hit[1] < self.ttl):
                return hit[0], rejected is not None  # after a rejection: a newer token
            token = run_token_command(command, login=login)
            self._tokens[key] = (token, time.monotonic())
            return token, True


TOKENS = TokenCache()  # this process's tokens


def run_token_command(command: str, timeout: float = 60.0, login: str = "") -> str:
    """Run a command that prints a bearer token (e.g. an ``az`` or ``oauth2l`` call), without
    a shell; ``{login}`` in an argument becomes the login (and tells the token cache that
    tokens are per login)."""
    try:
        args = [a.replace("{login}", login) for a in shlex.split(command)]
        proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout,
                              check=False)
    except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
        raise LoginRefused("the OAuth2 token command failed ({kind})",
                           kind=type(exc).__name__) from None
    token = proc.stdout.strip()
    if proc.returncode != 0 or not token:
        raise LoginRefused("the OAuth2 token command failed (exit code {code})",
                           code=proc.returncode)
    return token.splitlines()[-1].strip()



def read_accounts(path: Path) -> list[Account]:
    """Accounts CSV: a ``mailbox`` (or ``address``/``email``) column and an optional
    ``login`` (or ``user``) column; without a header, the columns are mailbox then login.
    Lines starting with '#' are comments."""
    import csv

    text = Path(path).read_text(encoding="utf-8-sig")
    rows = [r for r in csv.reader(line for line in text.splitlines()
                                  if line.strip() and not line.lstrip().startswith("#"))]
    if not rows:
        return []
    head = [c.strip().lower() for c in rows[0]]
    mail_cols = ("mailbox", "address", "email", "mail", "adresse")
    login_cols = ("login", "user", "username", "identifiant")
    if any(c in mail_cols for c in head):
        mi = next(i for i, c in enumerate(head) if c in mail_cols)
        li = next((i for i, c in enumerate(head) if c in login_cols), None)
        rows = rows[1:]
    else:
        mi, li = 0, (1 if len(rows[0]) > 1 else None)
    out = []
    for n, r in enumerate(rows, start=2 if li is not None or mi else 1):
        if mi >= len(r) or not r[mi].strip():
            raise ImapError("accounts file: line {line} has no mailbox address", line=n)
        address = r[mi].strip()
        login = r[li].strip() if li is not None and li < len(r) and r[li].strip() else address
        out.append(Account(address, login))
    return out


def mailbox_of_login(login: str) -> str | None:
    """The mailbox address inside a login: the login itself, or its part before a master-user
    separator ('agent@x*admin')."""
    for sep in MASTER_SEPARATORS:
        if sep in login:
            login = login.split(sep, 1)[0]
    return login if "@" in login else None


def auth_from_options(logins: Sequence[str], *, service: str = "mailstudy-imap",
                      password_env: str | None = None, use_keyring: bool = False,
                      oauth2_token_env: str | None = None,
                      oauth2_token_command: str | None = None,
                      interactive: bool = False) -> Auth:
    """Secrets for ``logins`` from the environment, the keyring, a token command or a hidden
    prompt, in that order of the options given. Messages never quote a secret or a login."""
    if sum(x is not None and x is not False for x in
           (password_env, use_keyring or None, oauth2_token_env, oauth2_token_command)) > 1:
        raise ImapError("choose one of password_env, use_keyring, oauth2_token_env and "
                        "oauth2_token_command")
    for name in (oauth2_token_env, password_env):
        if name is not None and not is_env_name(name):
            raise ImapError("the value given as an environment variable's name is not a name "
                            "(a secret itself? it is not shown): give the variable's name, "
                            "e.g. MS_PW, and put the secret in it")
    if oauth2_token_env is not None:
        token = os.environ.get(oauth2_token_env)
        if not token:
            raise ImapError("the environment variable {name} is not set",
                            name=oauth2_token_env)
        return Auth(oauth2_token=token.strip())
    if oauth2_token_command is not None:
        # fail now rather than in every worker (a per-login command is checked with the
        # first login); the token is kept for this process
        TOKENS.get(oauth2_token_command, next(iter(logins), ""))
        return Auth(oauth2_command=oauth2_token_command)
    if password_env is not None:
        pw = os.environ.get(password_env)
        if pw is None or pw == "":
            raise ImapError("the environment variable {name} is not set", name=password_env)
        return Auth(password=pw)
    if use_keyring:
        import keyring
        from keyring.errors import KeyringError

        found: dict[str, str] = {}
        try:
            for login in dict.fromkeys(logins):
                pw = keyring.get_password(service, login)
                if pw is not None:
                    found[login] = pw
        except KeyringError as exc:
            raise ImapError("the system keyring is not usable ({kind})",
                            kind=kind_of(exc)) from None
        missing = len(set(logins) - set(found))
        if missing:
            raise ImapError("no keyring entry for {n} login(s) under the service "
                            "'{service}' (add them with: keyring set {service} LOGIN)",
                            n=missing, service=service)
        return Auth(passwords=found)
    if interactive:
        import getpass

        pw = getpass.getpass("IMAP password (input hidden): ")
        if not pw:
            raise ImapError("no password given")
        return Auth(password=pw)
    raise ImapError("no secret given: give password_env, use_keyring, oauth2_token_env or "
                    "oauth2_token_command (or interactive, to be prompted)")
