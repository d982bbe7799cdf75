"""Collection from an IMAP server: many mailboxes, incremental, resumable, TLS by default.

What is fetched, per message and in batches of UIDs (never bodies): ``BODY.PEEK[HEADER]`` (the
whole header block, parsed by :mod:`headers` exactly as file collection parses it),
``BODYSTRUCTURE`` (the MIME outline: attachment counts and kinds, text size), ``FLAGS``,
``RFC822.SIZE`` and ``INTERNALDATE``. Rows are therefore those of file collection for the same
messages, apart from the source columns and the server flags.

Why a parser of our own for the FETCH responses: imapclient's generic response parser spends
~90% of the collection's CPU on BODYSTRUCTURE (see notes/imap-and-parsing.md). imapclient still
does everything else (TLS, STARTTLS, login, XOAUTH2, LIST, SELECT, SEARCH); only the bulk
``UID FETCH`` goes through its imaplib connection and the small tokenizer below, and so do
the pipelined STATUS and EXAMINE bursts (imapclient waits for each answer). A response it
cannot parse is still collected from its headers, with a ``bad_bodystructure`` defect.

Incremental and crash-safe: the message store is the checkpoint. For every folder it holds the
UIDVALIDITY and the UIDs already committed (``imap_uidvalidity``, ``imap_uid``); a run fetches
the UIDs the server has and the store lacks (so a re-run a week later fetches only new mail,
and a run killed at any moment resumes after its last committed batch with no gap and no
duplicate, even with several workers sharing a folder). A folder whose UIDVALIDITY changed has
its old rows deleted and is collected again.

Round trips are what a slow link costs, so planning a mailbox takes a fixed few of them
whatever its folder count: LIST, then one pipelined burst of STATUS (MESSAGES UIDNEXT
UIDVALIDITY) for every folder. A folder of at most ``batch_size`` messages is then fetched at
once, without SEARCH, by the UID ranges below UIDNEXT that the store lacks, with EXAMINE and
UID FETCH of several folders pipelined in one burst; larger folders are SEARCHed and cut into
chunk units.

Work is split into units (plan a mailbox, fetching its small folders when it has no large
one; fetch up to ``chunk_size`` messages of one mailbox, cut smaller so that every worker gets
a share of a large mailbox; fetch the small folders of a mailbox that also has large ones)
run by a pool of processes (parsing is CPU-bound), each keeping its own connections and up to
``inflight`` mailboxes in flight in threads (so a mailbox's round trips overlap another's
parsing); within a chunk unit a thread keeps one FETCH ahead of the parsing.
Errors never name an address, a login, a password or a folder (folders carry names: they
appear only as ``folder_id`` pseudonyms, and only in the data).
"""

from __future__ import annotations

import bisect
import contextlib
import ctypes
import datetime as dt
import fnmatch
import imaplib
import ipaddress
import multiprocessing as mp
import os
import queue
import random
import re
import shlex
import signal
import socket
import ssl
import subprocess
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import (
    FIRST_COMPLETED,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imapclient import IMAPClient, SocketTimeout
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError, LoginError

from mailstudy.collect.addresses import Identities
from mailstudy.collect.folders import folder_role, personal_matcher
from mailstudy.collect.headers import fold, parse_header_block
from mailstudy.collect.mailbox import MailboxResult
from mailstudy.collect.parts import MimeOutline, Part, extension_of
from mailstudy.collect.rows import Context, RowBuilder
from mailstudy.collect.run import RunSummary
from mailstudy.errors import CollectError
from mailstudy.store import MessageStore
from mailstudy.study import Study

SOURCE = "imap"
BATCH_SIZE = 1000  # UIDs per FETCH and per committed Parquet file
CHUNK_SIZE = 4000  # UIDs per unit of work given to a worker
INFLIGHT = 8  # mailboxes each worker plans and fetches at once (latency hides behind others)
PIPELINE = 50  # commands sent before reading answers: small enough never to fill TCP buffers
MAX_RETRIES = 6  # reconnections per unit of work before giving up (backoff ~0.5 s .. 16 s)
FETCH_ITEMS = "(UID FLAGS RFC822.SIZE INTERNALDATE BODYSTRUCTURE BODY.PEEK[HEADER])"
MASTER_SEPARATORS = ("*",)  # Dovecot master-user syntax: mailbox*admin


class ImapError(CollectError):
    """An IMAP failure described without any address, login, password or folder name."""


class LoginRefused(ImapError):
    """The server refused the credentials for one mailbox: retrying will not help."""


class TransientError(ImapError):
    """The connection failed or dropped: reconnecting may help."""


# ---------------------------------------------------------------------------------------------
# settings


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
            token, fresh = command_token(self.oauth2_command, login)
            try:
                client.oauth2_login(login, token)
            except LoginError as exc:
                if fresh or login_is_transient(exc):
                    raise
                # expired or revoked since it was cached: one more try with a new token
                token, _ = command_token(self.oauth2_command, login, rejected=token)
                client.oauth2_login(login, token)
            return
        if self.oauth2_token is not None:
            client.oauth2_login(login, self.oauth2_token)
            return
        pw = self.passwords.get(login, self.password)
        if pw is None:
            raise LoginRefused("no password for this mailbox")
        client.login(login, pw)


TOKEN_TTL = 300.0  # seconds a token from --oauth2-token-command is reused (tokens last ~1 h)
_TOKENS: dict[tuple[str, str], tuple[str, float]] = {}
_TOKEN_LOCKS: dict[tuple[str, str], threading.Lock] = {}
_TOKENS_LOCK = threading.Lock()  # guards _TOKEN_LOCKS only


def command_token(command: str, login: str, rejected: str | None = None) -> tuple[str, bool]:
    """(token, whether it was just fetched) for ``login``, from the process's cache unless
    older than ``TOKEN_TTL`` or ``rejected`` by the server: a command such as ``az account
    get-access-token`` takes a second or two, too slow to run for every mailbox. One lock per
    command and login: threads waiting for the same token share one run, and a token that
    another thread already replaced is not fetched again."""
    key = (command, login if "{login}" in command else "")
    with _TOKENS_LOCK:
        lock = _TOKEN_LOCKS.setdefault(key, threading.Lock())
    with lock:
        hit = _TOKENS.get(key)
        if (hit is not None and hit[0] != rejected
                and time.monotonic() - hit[1] < TOKEN_TTL):
            return hit[0], rejected is not None  # after a rejection: a newer token
        token = run_token_command(command, login=login)
        _TOKENS[key] = (token, time.monotonic())
        return token, True


def run_token_command(command: str, timeout: float = 60.0, login: str = "") -> str:
    """Run a command that prints a bearer token (e.g. an ``az`` or ``oauth2l`` call), without
    a shell; ``{login}`` in an argument becomes the login (and tells the token cache that
    tokens are per login)."""
    try:
        args = [a.replace("{login}", login) for a in shlex.split(command)]
        proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout,
                              check=False)
    except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
        raise LoginRefused(f"the OAuth2 token command failed ({type(exc).__name__})") from None
    token = proc.stdout.strip()
    if proc.returncode != 0 or not token:
        raise LoginRefused(f"the OAuth2 token command failed (exit code {proc.returncode})")
    return token.splitlines()[-1].strip()


@dataclass(frozen=True)
class Server:
    """Where and how to connect. Implicit TLS on 993 unless ``starttls`` (143) or
    ``plaintext`` (143, loopback only unless ``allow_plaintext``)."""

    host: str
    port: int | None = None
    starttls: bool = False
    plaintext: bool = False
    allow_plaintext: bool = False
    ca_file: str | None = None
    connect_timeout: float = 15.0
    read_timeout: float = 120.0

    @property
    def effective_port(self) -> int:
        if self.port:
            return self.port
        return 143 if (self.starttls or self.plaintext) else 993

    def ssl_context(self) -> ssl.SSLContext:
        """Certificates and host name always verified; ``ca_file`` for an internal CA."""
        try:
            return ssl.create_default_context(cafile=self.ca_file)
        except (OSError, ssl.SSLError):
            raise ImapError("cannot read the CA file given with --ca-file") from None

    def check(self) -> list[str]:
        """Refuse insecure settings; return warnings to print loudly."""
        warnings: list[str] = []
        if self.plaintext and self.starttls:
            raise ImapError("--plaintext and --starttls exclude each other")
        if self.plaintext:
            if is_loopback(self.host):
                warnings.append("connecting without TLS to a loopback address")
            elif self.allow_plaintext:
                warnings.append("PASSWORDS AND MAIL METADATA WILL CROSS THE NETWORK UNENCRYPTED "
                                "(--allow-plaintext): use only on an isolated test network")
            else:
                raise ImapError("plain-text IMAP is only allowed to a loopback address; add "
                                "--allow-plaintext to force it (strongly discouraged)")
        elif self.allow_plaintext:
            warnings.append("--allow-plaintext has no effect without --plaintext")
        return warnings

    def connect(self) -> IMAPClient:
        """An unauthenticated client, TLS established and verified (or plain, if allowed)."""
        timeout = SocketTimeout(self.connect_timeout, self.read_timeout)
        implicit = not (self.starttls or self.plaintext)
        try:
            client = IMAPClient(self.host, self.effective_port, ssl=implicit,
                                ssl_context=self.ssl_context() if implicit else None,
                                timeout=timeout)
            if self.starttls:
                client.starttls(self.ssl_context())
        except ssl.SSLCertVerificationError:
            raise ImapError("the server's TLS certificate is not trusted (for an internal CA "
                            "use --ca-file)") from None
        except ssl.SSLError as exc:
            raise TransientError(f"TLS failure ({exc.reason or 'handshake'})") from None
        except TimeoutError:
            raise TransientError("connection timed out") from None
        except OSError as exc:
            raise TransientError(f"cannot connect ({exc.strerror or type(exc).__name__})") \
                from None
        except imaplib.IMAP4.abort:  # e.g. a greeting of a server shutting down
            raise TransientError("the server closed the connection while greeting") from None
        except IMAPClientError as exc:  # e.g. STARTTLS not offered
            if _BYE_GREETING.match(str(exc)):  # the greeting of a server that is stopping
                raise TransientError("the server closed the connection while greeting") \
                    from None
            raise ImapError(f"the server refused the secure connection ({_kind(exc)})") \
                from None
        client.normalise_times = False
        # imaplib formats every line for imapclient's debug logger: costly, and it would put
        # headers in a debug log if one were enabled.
        client._imap.debug = 0  # noqa: SLF001
        return client


_BYE_GREETING = re.compile(r"""^(b['"])?\*?\s*BYE\b""", re.I)  # imaplib gives repr(bytes)


def is_loopback(host: str) -> bool:
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(i[4][0].split("%")[0]).is_loopback
                               for i in infos)


def _kind(exc: BaseException) -> str:
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
    return "login refused"


def open_session(server: Server, auth: Auth, login: str) -> IMAPClient:
    client = server.connect()
    try:
        auth.login(client, login)
    except LoginError as exc:
        _close(client)
        if login_is_transient(exc):
            raise TransientError(login_reason(exc)) from None  # retried with backoff
        raise LoginRefused(login_reason(exc)) from None
    except (IMAPClientAbortError, imaplib.IMAP4.abort, OSError):
        _close(client)
        raise TransientError("connection lost during login") from None
    except ImapError:
        _close(client)
        raise
    return client


def _close(client: IMAPClient | None) -> None:
    if client is None:
        return
    with contextlib.suppress(Exception):
        client._imap.sock.settimeout(2)  # noqa: SLF001
    with contextlib.suppress(Exception):
        client.logout()
    with contextlib.suppress(Exception):
        client.shutdown()


# ---------------------------------------------------------------------------------------------
# folders


@dataclass(frozen=True)
class Folder:
    name: str  # server name (never logged)
    path: tuple[str, ...]  # components, as file collection names them
    role: str

    def __repr__(self) -> str:
        return f"Folder(<hidden>, role={self.role})"


def folder_path(name: str, delimiter: str | None) -> tuple[str, ...]:
    """Path components of a server folder name, aligned with the Maildir walker: INBOX is
    ('INBOX',) and an 'INBOX' prefix (Cyrus style 'INBOX.Sent') is dropped."""
    parts = tuple(p for p in (name.split(delimiter) if delimiter else [name]) if p)
    if not parts:
        return ("INBOX",)
    if fold(parts[0]) == "inbox":
        parts = parts[1:] or ("INBOX",)
    return parts


def _pattern_matcher(patterns: Iterable[str]) -> Callable[[tuple[str, ...]], bool]:
    pats = [fold(p).replace("\\", "/") for p in patterns if p.strip()]

    def match(path: tuple[str, ...]) -> bool:
        s = fold("/".join(path))
        return any(fnmatch.fnmatchcase(s, p) or fnmatch.fnmatchcase(s, p + "/*") for p in pats)

    return match


def select_folders(listing: Iterable[tuple[Sequence[bytes], bytes | None, str]],
                   include: Sequence[str] = (), exclude: Sequence[str] = (),
                   personal: Sequence[str] = ()) -> tuple[list[Folder], Counter[str]]:
    """Folders to collect from a LIST answer, and counts of those skipped and why.

    Role from the SPECIAL-USE attribute when the server gives one, else from the name.
    ``include``/``exclude`` are shell patterns on the path ('Archives/*'), case and accents
    ignored; a pattern also covers the folder's subfolders.
    """
    inc = _pattern_matcher(include) if include else None
    exc = _pattern_matcher(exclude)
    is_personal = personal_matcher(personal)
    out: list[Folder] = []
    skipped: Counter[str] = Counter()
    seen: set[tuple[str, ...]] = set()
    for flags, delim, name in listing:
        fl = {f.decode("ascii", "replace").lower() if isinstance(f, bytes) else str(f).lower()
              for f in flags}
        if "\\noselect" in fl or "\\nonexistent" in fl:
            skipped["noselect_folders"] += 1
            continue
        d = delim.decode("ascii", "replace") if isinstance(delim, bytes) else delim
        path = folder_path(name if isinstance(name, str) else name.decode("utf-8", "replace"), d)
        if is_personal(path):
            skipped["personal_folders"] += 1
            continue
        if (inc is not None and not inc(path)) or exc(path):
            skipped["excluded_folders"] += 1
            continue
        if path in seen:  # two server names mapping to one path: keep the first
            skipped["duplicate_folder_paths"] += 1
            continue
        seen.add(path)
        special = next((f for f in fl if f in ("\\sent", "\\drafts", "\\trash", "\\junk",
                                               "\\archive", "\\all")), None)
        out.append(Folder(name if isinstance(name, str) else name.decode(), path,
                          folder_role(path, special)))
    return out, skipped


# ---------------------------------------------------------------------------------------------
# FETCH responses


# One token per match: "(", ")", a quoted string (quotes kept, so "" is told from no match),
# an atom (NIL, numbers, flags, BODY[HEADER], {123} literal markers), or a lone '"' (an
# unterminated string: the only text no other branch takes, so nothing is skipped unseen).
# Possessive quantifiers: an atom cannot be re-split on failure (no exponential backtracking).
_TOKEN = re.compile(rb'[ \t\r\n]*+(\(|\)|"(?:[^"\\]|\\.)*+"|[^ \t\r\n()"]++|")')
_NEW_RESPONSE = re.compile(rb"^\d+ \(")


class ResponseError(ValueError):
    """A FETCH response that does not parse."""


def _tree(entries: Sequence[Any]) -> list[Any]:
    """Nested lists of a FETCH response: atoms and strings as bytes, NIL as None, literals
    as bytes. The tokenizing loop runs in the regex engine (findall) and the Python loop
    branches on each token's first byte; text that is not a token raises."""
    root: list[Any] = []
    stack = [root]
    cur = root
    for e in entries:
        if isinstance(e, tuple):
            head, literal = e
            i = head.rfind(b"{")
            if i < 0 or not head.endswith(b"}"):
                raise ResponseError("literal without a size")
            text: bytes = head[:i]
        else:
            text, literal = e, None
        for tok in _TOKEN.findall(text):
            c = tok[0]
            if c == 40:  # (
                new: list[Any] = []
                cur.append(new)
                stack.append(new)
                cur = new
            elif c == 41:  # )
                if len(stack) == 1:
                    raise ResponseError("unbalanced parenthesis")
                stack.pop()
                cur = stack[-1]
            elif c == 34:  # "
                if len(tok) == 1:
                    raise ResponseError("unterminated string")
                q = tok[1:-1]
                cur.append(q.replace(b'\\"', b'"').replace(b"\\\\", b"\\") if b"\\" in q else q)
            else:
                cur.append(None if tok == b"NIL" else tok)
        if literal is not None:
            cur.append(bytes(literal))
    if len(stack) != 1:
        raise ResponseError("unbalanced parenthesis")
    return root


def split_responses(data: Sequence[Any]) -> list[list[Any]]:
    """Group imaplib's untagged FETCH data into one list of entries per message."""
    groups: list[list[Any]] = []
    for e in data:
        if e is None:
            continue
        head = e[0] if isinstance(e, tuple) else e
        if _NEW_RESPONSE.match(head) or not groups:
            groups.append([e])
        else:
            groups[-1].append(e)
    return groups


@dataclass
class Fetched:
    """What one FETCH response gave for one message."""

    uid: int
    header: bytes | None = None
    flags: tuple[bytes, ...] = ()
    size: int | None = None
    internaldate: dt.datetime | None = None
    parts: list[Part] | None = None  # None: BODYSTRUCTURE missing or malformed
    defects: list[str] = field(default_factory=list)


_UID_RE = re.compile(rb"\bUID (\d+)")
_SIZE_RE = re.compile(rb"\bRFC822\.SIZE (\d+)")
_FLAGS_RE = re.compile(rb"\bFLAGS \(([^)]*)\)")
_DATE_RE = re.compile(rb'\bINTERNALDATE "([^"]+)"')


def parse_fetch(entries: Sequence[Any]) -> Fetched:
    """One message's FETCH response; falls back to a lenient scan when the response (typically
    a broken BODYSTRUCTURE) does not parse, so the message is still collected."""
    try:
        tree = _tree(entries)
        if len(tree) != 2 or not isinstance(tree[1], list):
            raise ResponseError("not a FETCH response")
        items = tree[1]
        d: dict[bytes, Any] = {}
        for i in range(0, len(items) - 1, 2):
            k = items[i]
            d[k.upper() if isinstance(k, bytes) else k] = items[i + 1]
        f = Fetched(uid=int(d[b"UID"]))
        f.flags = tuple(x for x in d.get(b"FLAGS") or () if isinstance(x, bytes))
        if d.get(b"RFC822.SIZE") is not None:
            f.size = int(d[b"RFC822.SIZE"])
        f.internaldate = parse_internaldate(d.get(b"INTERNALDATE"))
        f.header = d.get(b"BODY[HEADER]")
        bs = d.get(b"BODYSTRUCTURE")
        if isinstance(bs, list):
            try:
                parts: list[Part] = []
                _walk_bodystructure(bs, parts, 0)
                f.parts = parts
            except (ValueError, TypeError, IndexError, AttributeError, UnicodeError):
                f.defects.append("bad_bodystructure")
        else:
            f.defects.append("bad_bodystructure")
        return f
    except (ResponseError, KeyError, ValueError, TypeError):
        return _lenient(entries)


def _lenient(entries: Sequence[Any]) -> Fetched:
    text = b" ".join(e[0] if isinstance(e, tuple) else e for e in entries)
    m = _UID_RE.search(text)
    if not m:
        raise ResponseError("FETCH response without a UID")
    f = Fetched(uid=int(m.group(1)), defects=["bad_bodystructure"])
    if (m := _SIZE_RE.search(text)) is not None:
        f.size = int(m.group(1))
    if (m := _FLAGS_RE.search(text)) is not None:
        f.flags = tuple(m.group(1).split())
    if (m := _DATE_RE.search(text)) is not None:
        f.internaldate = parse_internaldate(m.group(1))
    for e in entries:
        if isinstance(e, tuple) and re.search(rb"BODY\[HEADER\] \{\d+\}$", e[0]):
            f.header = bytes(e[1])
    return f


_MONTHS = {m: i for i, m in enumerate(
    (b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov",
     b"dec"), start=1)}
_IDATE = re.compile(rb"\s*(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)")


def parse_internaldate(value: Any) -> dt.datetime | None:
    """'26-Nov-2026 07:18:32 +0100' -> an aware datetime (strptime is 10x slower)."""
    if not isinstance(value, bytes):
        return None
    m = _IDATE.match(value)
    if m is None:
        return None
    d, mon, y, hh, mm, ss, sign, oh, om = m.groups()
    month = _MONTHS.get(mon.lower())
    if month is None:
        return None
    off = dt.timedelta(hours=int(oh), minutes=int(om))
    try:
        return dt.datetime(int(y), month, int(d), int(hh), int(mm), int(ss),
                           tzinfo=dt.timezone(off if sign == b"+" else -off))
    except ValueError:
        return None


def _s(x: Any) -> str:
    if x is None:
        return ""
    return (x.decode("utf-8", "replace") if isinstance(x, bytes) else str(x))


def _params(lst: Any) -> dict[str, str]:
    if not isinstance(lst, list):
        return {}
    return {_s(lst[i]).lower(): _s(lst[i + 1]) for i in range(0, len(lst) - 1, 2)}


def param_value(params: dict[str, str], name: str) -> str | None:
    """A MIME parameter, RFC 2231 forms included (``name*``, ``name*0``, ``name*0*``...),
    decoded the way the stdlib's ``get_param`` does for the file walker."""
    if name in params:
        return params[name]
    ext = params.get(name + "*")
    if ext is not None:
        return _rfc2231(ext)
    pieces = []
    i = 0
    while True:
        plain = params.get(f"{name}*{i}")
        enc = params.get(f"{name}*{i}*")
        if plain is None and enc is None:
            break
        pieces.append((plain, enc))
        i += 1
    if not pieces:
        return None
    out = []
    for k, (plain, enc) in enumerate(pieces):
        if enc is not None:
            out.append(_rfc2231(enc) if k == 0 else _pct(enc))
        else:
            out.append(plain or "")
    return "".join(out)


def _pct(s: str) -> str:
    from urllib.parse import unquote

    return unquote(s, encoding="latin-1", errors="replace")


def _rfc2231(value: str) -> str:
    from urllib.parse import unquote

    parts = value.split("'", 2)
    if len(parts) == 3:
        charset = parts[0] or "us-ascii"
        try:
            return unquote(parts[2], encoding=charset, errors="replace")
        except LookupError:
            return unquote(parts[2], encoding="latin-1", errors="replace")
    return unquote(value, encoding="latin-1", errors="replace")


def _walk_bodystructure(bs: list[Any], out: list[Part], depth: int) -> None:
    """Leaves of a BODYSTRUCTURE as :class:`Part`, like the file walker's outline."""
    if depth > 40:
        raise ValueError("too deep")
    if bs and isinstance(bs[0], list):  # multipart: parts, then the subtype
        for child in bs:
            if not isinstance(child, list):
                break
            _walk_bodystructure(child, out, depth + 1)
        return
    mtype, subtype = _s(bs[0]).lower(), _s(bs[1]).lower()
    params = _params(bs[2])
    size = int(bs[6]) if bs[6] is not None else 0
    if mtype == "text":
        ext = 8
    elif mtype == "message" and subtype in ("rfc822", "global"):
        ext = 10
    else:
        ext = 7
    disp = bs[ext + 1] if len(bs) > ext + 1 else None
    disposition = ""
    dparams: dict[str, str] = {}
    if isinstance(disp, list) and disp:
        disposition = _s(disp[0]).strip().lower()
        if disposition not in ("attachment", "inline"):
            disposition = "attachment" if disposition else ""
        dparams = _params(disp[1] if len(disp) > 1 else None)
    fn = param_value(dparams, "filename") or param_value(params, "name")
    out.append(Part(f"{mtype}/{subtype}", disposition, bool(fn), extension_of(fn), size))


def uid_set(uids: Sequence[int]) -> str:
    """A compact IMAP sequence set ('1:5,9,12:14') of exactly these UIDs."""
    s = sorted(uids)
    out: list[str] = []
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and s[j + 1] == s[j] + 1:
            j += 1
        out.append(str(s[i]) if i == j else f"{s[i]}:{s[j]}")
        i = j + 1
    return ",".join(out)


def uid_gaps(have: Iterable[int], top: int) -> list[tuple[int, int]]:
    """The UID ranges in 1..``top`` that are not in ``have`` (what a folder may hold that the
    store lacks), so one ``UID FETCH`` of them replaces a SEARCH round trip."""
    out: list[tuple[int, int]] = []
    lo = 1
    for u in sorted(u for u in set(have) if 1 <= u <= top):
        if u > lo:
            out.append((lo, u - 1))
        lo = u + 1
    if lo <= top:
        out.append((lo, top))
    return out


def ranges_spec(ranges: Sequence[tuple[int, int]]) -> str:
    """'1:5,9' for [(1, 5), (9, 9)]. Never '*': 'n:*' also matches the last message when n
    is above every UID."""
    return ",".join(str(a) if a == b else f"{a}:{b}" for a, b in ranges)


def in_ranges(uid: int, ranges: Sequence[tuple[int, int]]) -> bool:
    i = bisect.bisect_right(ranges, (uid, float("inf"))) - 1
    return i >= 0 and ranges[i][0] <= uid <= ranges[i][1]


_STATUS_RE = re.compile(rb"\(([^()]*)\)\s*$")


def parse_status(data: Sequence[Any] | None) -> tuple[int, int, int] | None:
    """(MESSAGES, UIDNEXT, UIDVALIDITY) from imaplib's untagged STATUS data, or None."""
    if not data:
        return None
    last = data[-1]
    text = last[0] if isinstance(last, tuple) else last
    m = _STATUS_RE.search(text or b"")
    if m is None:
        return None
    items = m.group(1).split()
    d = {items[i].upper(): items[i + 1] for i in range(0, len(items) - 1, 2)}
    try:
        return int(d[b"MESSAGES"]), int(d[b"UIDNEXT"]), int(d[b"UIDVALIDITY"])
    except (KeyError, ValueError):
        return None


def fetched_from(data: Sequence[Any], accept: Callable[[int], bool]) -> list[Fetched]:
    """Parsed FETCH responses whose UID ``accept`` wants, one per UID."""
    out: dict[int, Fetched] = {}
    for group in split_responses(data or []):
        try:
            f = parse_fetch(group)
        except ResponseError:
            continue
        # servers may add unsolicited FETCH responses (another client changed flags): keep
        # the one that answers our FETCH
        if accept(f.uid) and (f.uid not in out or out[f.uid].header is None):
            out[f.uid] = f
    return list(out.values())


def fetch_batch(client: IMAPClient, uids: Sequence[int]) -> list[Fetched]:
    """One ``UID FETCH`` of metadata for ``uids``; bodies are never requested."""
    imap = client._imap  # noqa: SLF001 - the bulk path bypasses imapclient's slow parser
    try:
        typ, data = imap.uid("FETCH", uid_set(uids), FETCH_ITEMS)
    except (imaplib.IMAP4.abort, OSError) as exc:
        raise TransientError(f"connection lost during FETCH ({_kind(exc)})") from None
    except imaplib.IMAP4.error:
        raise TransientError("the server rejected the FETCH") from None
    if typ != "OK":
        raise TransientError("the server refused the FETCH")
    wanted = set(uids)
    return fetched_from(data or [], wanted.__contains__)


# ---------------------------------------------------------------------------------------------
# work units (run in worker processes, or in-process with one worker)


def pack_chunks(index: int, account: Account, segments: Sequence[Segment], size: int
                ) -> list[ChunkJob]:
    """Cut a mailbox's folders into units of at most ``size`` messages: large folders are
    split, small ones share a unit (fewer commits, and workers get even shares)."""
    out: list[ChunkJob] = []
    cur: list[Segment] = []
    room = size
    for seg in segments:
        uids = seg.uids
        while uids:
            take = uids[:room]
            cur.append(Segment(seg.folder, seg.uidvalidity, take))
            uids = uids[len(take):]
            room -= len(take)
            if room == 0:
                out.append(ChunkJob(index, account, tuple(cur)))
                cur, room = [], size
    if cur:
        out.append(ChunkJob(index, account, tuple(cur)))
    return out


@dataclass(frozen=True)
class WorkerConfig:
    study_root: Path
    server: Server
    auth: Auth
    batch_size: int = BATCH_SIZE
    chunk_size: int = CHUNK_SIZE
    max_retries: int = MAX_RETRIES
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    backoff: float = 0.5
    workers: int = 1

    def __repr__(self) -> str:
        return "WorkerConfig(<hidden>)"


@dataclass(frozen=True)
class PlanJob:
    index: int
    account: Account


@dataclass(frozen=True)
class Segment:
    """UIDs of one folder (at one UIDVALIDITY) inside a unit of work."""

    folder: Folder
    uidvalidity: int
    uids: tuple[int, ...]


@dataclass(frozen=True)
class ChunkJob:
    """Up to ``chunk_size`` messages of one mailbox, possibly from several small folders (so
    small folders share Parquet commits instead of writing one small file each)."""

    index: int
    account: Account
    segments: tuple[Segment, ...]

    @property
    def n(self) -> int:
        return sum(len(s.uids) for s in self.segments)


@dataclass(frozen=True)
class GapsJob:
    """The small folders of a mailbox that also has large ones, fetched by any worker beside
    the mailbox's chunks instead of by its planner before they are handed out."""

    index: int
    account: Account
    gaps: tuple[_Gaps, ...]

    @property
    def n(self) -> int:
        return sum(g.todo for g in self.gaps)


Unit = PlanJob | ChunkJob | GapsJob


@dataclass
class PlanResult:
    index: int
    chunks: list[ChunkJob | GapsJob] = field(default_factory=list)
    folders: int = 0
    messages_on_server: int = 0
    already_present: int = 0
    replaced: int = 0  # rows dropped because their folder's UIDVALIDITY changed
    skipped: Counter[str] = field(default_factory=Counter)
    error: str | None = None
    inline: ChunkResult | None = None  # small folders fetched during planning


@dataclass(frozen=True)
class _Gaps:
    """A small folder fetched during planning by the UID ranges the store lacks."""

    folder: Folder
    uidvalidity: int
    ranges: tuple[tuple[int, int], ...]
    messages: int  # on the server, from STATUS
    todo: int  # estimate of those missing from the store (progress and error messages)


@dataclass
class ChunkResult:
    index: int
    written: int = 0
    vanished: int = 0
    defects: Counter[str] = field(default_factory=Counter)
    reconnects: int = 0
    error: str | None = None
    not_collected: int = 0
    uidvalidity_changed: bool = False
    skipped: Counter[str] = field(default_factory=Counter)


class _Worker:
    """Per-process state: the study's row builder, the store, and open connections."""

    def __init__(self, cfg: WorkerConfig, progress: Callable[[int], None] | None,
                 pool_worker: bool = False) -> None:
        from mailstudy.optout import load_optouts
        from mailstudy.study import open_study

        self.cfg = cfg
        self.progress = progress
        study = open_study(cfg.study_root)
        self.personal = study.personal_folders
        self.escrow = study.escrow()
        self.ids = Identities(study.pseudonymiser(), study.domains, study.partner_domains,
                              load_optouts(study), self.escrow)
        self.builder = RowBuilder(self.ids, study.tz)
        self.store = MessageStore(study.messages_dir)
        self.parent = os.getppid() if pool_worker else None
        self.collector: tuple[int, str] | None = None  # (pid, start time), set in a worker
        # Several units may run at once in threads (mailboxes in flight while others wait on
        # the network): each thread keeps its own connections; the study's state (row
        # builder, escrow, store) is shared under one lock.
        self.lock = threading.RLock()
        self.stopping = threading.Event()  # set on Ctrl-C: in-flight units end at once
        self._local = threading.local()
        self._all_conns: list[OrderedDict[str, tuple[IMAPClient, str | None]]] = []

    @property
    def conns(self) -> OrderedDict[str, tuple[IMAPClient, str | None]]:
        """This thread's open connections, by login (a chunk's fetching thread shares its
        unit's, see ``chunk``)."""
        c = getattr(self._local, "conns", None)
        if c is None:
            c = OrderedDict()
            self._local.conns = c
            with self.lock:
                self._all_conns.append(c)
        return c

    # connections ----------------------------------------------------------------------------
    def client(self, account: Account) -> IMAPClient:
        hit = self.conns.get(account.login)
        if hit is not None:
            self.conns.move_to_end(account.login)
            return hit[0]
        while len(self.conns) >= 2:  # per thread; several threads per worker
            _, (old, _sel) = self.conns.popitem(last=False)
            _close(old)
        c = open_session(self.cfg.server, self.cfg.auth, account.login)
        self.conns[account.login] = (c, None)
        return c

    def drop(self, account: Account) -> None:
        hit = self.conns.pop(account.login, None)
        if hit is not None:
            with contextlib.suppress(Exception):
                hit[0].shutdown()

    def select(self, account: Account, folder: Folder) -> dict[bytes, Any]:
        c = self.client(account)
        try:
            info = c.select_folder(folder.name, readonly=True)
        except (IMAPClientAbortError, imaplib.IMAP4.abort, OSError) as exc:
            raise TransientError(f"connection lost during SELECT ({_kind(exc)})") from None
        except IMAPClientError:
            raise ImapError("the server refused to open a folder") from None
        self.conns[account.login] = (c, folder.name)
        return info

    def close_all(self, abort: bool = False) -> None:
        """Log out of every connection; ``abort`` shuts the sockets down instead, which
        also wakes threads blocked reading them."""
        with self.lock:
            every = list(self._all_conns)
        for conns in every:
            while conns:
                try:
                    _, (c, _sel) = conns.popitem()
                except KeyError:  # emptied by its own thread meanwhile
                    break
                if abort:
                    with contextlib.suppress(Exception):
                        c.shutdown()
                else:
                    _close(c)

    def retrying(self, account: Account, fn: Callable[[], Any], counter: list[int],
                 stop: threading.Event | None = None) -> Any:
        """Run ``fn``; on a dropped connection or timeout reconnect with exponential backoff
        (plus jitter, so several workers do not hammer a restarting server in step)."""
        attempt = 0
        while True:
            try:
                return fn()
            except TransientError:
                self.drop(account)
                attempt += 1
                counter[0] += 1
                if (attempt > self.cfg.max_retries or self.stopping.is_set()
                        or (stop is not None and stop.is_set())):
                    raise
                delay = self.cfg.backoff * 2 ** (attempt - 1)
                time.sleep(delay * (1 + random.random() * 0.25))

    def run(self, unit: Unit) -> PlanResult | ChunkResult:
        """Run one unit; an unexpected error fails that unit's mailbox, never the run."""
        try:
            if isinstance(unit, PlanJob):
                return self.plan(unit)
            if isinstance(unit, GapsJob):
                return self._fetch_gaps(unit, self.ids.p.person(unit.account.address),
                                        unit.gaps, [0])
            return self.chunk(unit)
        except Exception as exc:  # noqa: BLE001 - reported by type only (no data in it)
            self.drop(unit.account)
            if isinstance(unit, PlanJob):
                return PlanResult(index=unit.index, error=f"unexpected {_kind(exc)}")
            return ChunkResult(index=unit.index, error=f"unexpected {_kind(exc)}",
                               not_collected=unit.n)

    # planning -------------------------------------------------------------------------------
    def plan(self, job: PlanJob) -> PlanResult:
        """List the folders, then one pipelined burst of STATUS for all of them (one round
        trip instead of SELECT+SEARCH per folder). A folder of at most ``batch_size``
        messages is fetched at once by the UID ranges the store lacks (``_Gaps``), several
        folders per pipelined burst; larger folders are SEARCHed and cut into chunk units."""
        res = PlanResult(index=job.index)
        mailbox = self.ids.p.person(job.account.address)
        try:
            counter = [0]
            listing = self.retrying(job.account, lambda: self._list(job.account), counter)
            folders, res.skipped = select_folders(listing, self.cfg.include, self.cfg.exclude,
                                                  self.personal)
            with self.lock:
                state = self._committed(mailbox)
            statuses: list[tuple[int, int, int] | None] = []
            for i in range(0, len(folders), PIPELINE):
                part = folders[i:i + PIPELINE]
                statuses += self.retrying(job.account,
                                          lambda p=part: self._statuses(job.account, p), counter)
            pending: list[Segment] = []
            gaps: list[_Gaps] = []
            for folder, st in zip(folders, statuses, strict=True):
                res.folders += 1
                with self.lock:
                    fid = self.builder.folder_id(folder.path)
                if st is not None and st[0] <= self.cfg.batch_size:
                    messages, uidnext, uidvalidity = st
                    res.replaced += self._drop_stale(mailbox, fid, uidvalidity, state)
                    res.messages_on_server += messages
                    have = state.get((fid, uidvalidity), set())
                    ranges = uid_gaps(have, uidnext - 1) if messages else []
                    if len(ranges_spec(ranges)) <= 2000:
                        if ranges:
                            n_have = sum(1 for u in have if u < uidnext)
                            gaps.append(_Gaps(folder, uidvalidity, tuple(ranges), messages,
                                              max(0, messages - n_have)))
                        else:  # every UID below UIDNEXT is committed
                            res.already_present += messages
                        continue
                    res.messages_on_server -= messages  # too fragmented: SEARCH it below
                info, uids = self.retrying(
                    job.account, lambda f=folder: self._folder_uids(job.account, f), counter)
                uidvalidity = int(info[b"UIDVALIDITY"])
                res.replaced += self._drop_stale(mailbox, fid, uidvalidity, state)
                have = state.get((fid, uidvalidity), set())
                todo = sorted(set(uids) - have)
                res.messages_on_server += len(uids)
                res.already_present += len(uids) - len(todo)
                if todo:
                    pending.append(Segment(folder, uidvalidity, tuple(todo)))
            # with several workers, enough units for each to get a share of a large mailbox
            # (a run of one mailbox would otherwise leave workers idle at its end)
            size = self.cfg.chunk_size
            if self.cfg.workers > 1:
                total = sum(len(seg.uids) for seg in pending)
                size = min(size, max(self.cfg.batch_size, -(-total // (2 * self.cfg.workers))))
            res.chunks = list(pack_chunks(job.index, job.account, pending, size))
        except ImapError as exc:
            res.error = str(exc)
            return res
        if gaps and res.chunks:
            res.chunks.insert(0, GapsJob(job.index, job.account, tuple(gaps)))
        elif gaps:  # a mailbox of small folders only: fetched now, on this connection
            res.inline = self._fetch_gaps(job, mailbox, gaps, counter)
            res.already_present += res.inline.skipped.pop("_already_present", 0)
        return res

    def _statuses(self, account: Account, folders: Sequence[Folder]
                  ) -> list[tuple[int, int, int] | None]:
        """STATUS (MESSAGES UIDNEXT UIDVALIDITY) of every folder, all commands sent before
        the first answer is read. None for a folder the server refuses to STATUS."""
        c = self.client(account)
        imap = c._imap  # noqa: SLF001 - imapclient cannot pipeline
        try:
            tags = [imap._command("STATUS", c._normalise_folder(f.name),  # noqa: SLF001
                                  "(MESSAGES UIDNEXT UIDVALIDITY)") for f in folders]
            out: list[tuple[int, int, int] | None] = []
            for tag in tags:
                imap.untagged_responses.pop("STATUS", None)
                typ, _ = imap._command_complete("STATUS", tag)  # noqa: SLF001
                data = imap.untagged_responses.pop("STATUS", None)
                out.append(parse_status(data) if typ == "OK" else None)
            return out
        except (imaplib.IMAP4.abort, OSError) as exc:
            raise TransientError(f"connection lost during STATUS ({_kind(exc)})") from None
        except imaplib.IMAP4.error:
            raise TransientError("the server rejected STATUS") from None

    def _fetch_group(self, account: Account, group: Sequence[_Gaps]
                     ) -> list[list[Fetched] | None]:
        """EXAMINE then UID FETCH of the missing ranges, for every folder of ``group``, all
        pipelined (one round trip). None for a folder whose UIDVALIDITY changed."""
        c = self.client(account)
        imap = c._imap  # noqa: SLF001
        self.conns[account.login] = (c, None)  # the selected folder is unknown from here
        try:
            imap.is_readonly = True
            tags = []
            for g in group:
                t1 = imap._command("EXAMINE", c._normalise_folder(g.folder.name))  # noqa: SLF001
                imap.state = "SELECTED"  # imaplib allows UID commands only once selected
                t2 = imap._command("UID", "FETCH", ranges_spec(g.ranges), FETCH_ITEMS)  # noqa: SLF001
                tags.append((t1, t2))
            out: list[list[Fetched] | None] = []
            refused = False
            for g, (t1, t2) in zip(group, tags, strict=True):
                for k in ("UIDVALIDITY", "FETCH"):
                    imap.untagged_responses.pop(k, None)
                typ1, _ = imap._command_complete("EXAMINE", t1)  # noqa: SLF001
                uv = imap.untagged_responses.pop("UIDVALIDITY", [None])[-1]
                imap.untagged_responses.pop("FETCH", None)
                typ2, _ = imap._command_complete("UID", t2)  # noqa: SLF001
                data = imap.untagged_responses.pop("FETCH", None) or []
                if typ1 != "OK":
                    refused = True
                    continue
                if uv is None or int(uv) != g.uidvalidity:
                    out.append(None)
                    continue
                if typ2 != "OK":
                    raise TransientError("the server refused the FETCH")
                out.append(fetched_from(data, lambda u, r=g.ranges: in_ranges(u, r)))
        except (imaplib.IMAP4.abort, OSError) as exc:
            raise TransientError(f"connection lost during FETCH ({_kind(exc)})") from None
        except imaplib.IMAP4.error:
            raise TransientError("the server rejected the FETCH") from None
        if refused:
            raise ImapError("the server refused to open a folder")
        return out

    def _fetch_gaps(self, job: PlanJob | GapsJob, mailbox: str, gaps: Sequence[_Gaps],
                    counter: list[int]) -> ChunkResult:
        """Fetch small folders in pipelined groups of at most ``batch_size`` messages, one
        commit per group (the store stays the checkpoint: a re-run fetches the gaps left)."""
        res = ChunkResult(index=job.index)
        groups: list[list[_Gaps]] = []
        size = self.cfg.batch_size
        for g in gaps:
            if (not groups or len(groups[-1]) >= PIPELINE // 2
                    or sum(x.messages for x in groups[-1]) + g.messages > size):
                groups.append([])
            groups[-1].append(g)
        present = 0
        left = sum(g.todo for g in gaps)
        try:
            for group in groups:
                got = self.retrying(job.account,
                                    lambda gr=group: self._fetch_group(job.account, gr),
                                    counter)
                rows: list[dict[str, Any]] = []
                for g, fetched in zip(group, got, strict=True):
                    if fetched is None:
                        res.uidvalidity_changed = True
                        continue
                    seg = Segment(g.folder, g.uidvalidity, ())
                    for f in fetched:
                        try:
                            rows.append(self._row(mailbox, seg, f))
                        except Exception as exc:  # noqa: BLE001 - counted, never fatal
                            res.skipped[f"unparsable_{_kind(exc)}"] += 1
                    present += max(0, g.messages - len(fetched))
                self._commit(mailbox, rows)
                for r in rows:
                    res.defects.update(r["defects"])
                res.written += len(rows)
                left -= sum(g.todo for g in group)
                if self.progress is not None and rows:
                    self.progress(len(rows))
        except ImapError as exc:
            res.error = str(exc)
            res.not_collected = left
        res.reconnects = counter[0]
        if present:
            res.skipped["_already_present"] = present
        return res

    def _list(self, account: Account) -> list[Any]:
        try:
            return list(self.client(account).list_folders())
        except (IMAPClientAbortError, imaplib.IMAP4.abort, OSError) as exc:
            raise TransientError(f"connection lost during LIST ({_kind(exc)})") from None

    def _folder_uids(self, account: Account, folder: Folder) -> tuple[dict[bytes, Any], list]:
        info = self.select(account, folder)
        if not info.get(b"EXISTS"):
            return info, []
        try:
            return info, list(self.client(account).search(["ALL"]))
        except (IMAPClientAbortError, imaplib.IMAP4.abort, OSError) as exc:
            raise TransientError(f"connection lost during SEARCH ({_kind(exc)})") from None

    def _committed(self, mailbox: str) -> dict[tuple[str, int], set[int]]:
        """(folder_id, UIDVALIDITY) -> UIDs already in the store for this mailbox."""
        t = self.store.read_columns(mailbox, ["source", "folder_id", "imap_uidvalidity",
                                              "imap_uid"])
        out: dict[tuple[str, int], set[int]] = {}
        cols = [t.column(c).to_pylist() for c in ("source", "folder_id", "imap_uidvalidity",
                                                  "imap_uid")]
        for src, fid, v, uid in zip(*cols, strict=True):
            if src == SOURCE and v is not None and uid is not None:
                out.setdefault((fid, int(v)), set()).add(int(uid))
        return out

    def _drop_stale(self, mailbox: str, fid: str, uidvalidity: int,
                    state: dict[tuple[str, int], set[int]]) -> int:
        with self.lock:
            return self._drop_stale_locked(mailbox, fid, uidvalidity, state)

    def _drop_stale_locked(self, mailbox: str, fid: str, uidvalidity: int,
                           state: dict[tuple[str, int], set[int]]) -> int:
        stale = [k for k in state if k[0] == fid and k[1] != uidvalidity]
        if not stale:
            return 0
        import pyarrow.compute as pc

        def pred(t: Any) -> Any:
            return pc.and_(pc.and_(pc.equal(t["source"], SOURCE), pc.equal(t["folder_id"], fid)),
                           pc.not_equal(t["imap_uidvalidity"], uidvalidity))

        n = self.store.delete_rows(mailbox, pred)
        for k in stale:
            del state[k]
        return n

    # fetching -------------------------------------------------------------------------------
    def chunk(self, job: ChunkJob) -> ChunkResult:
        """Fetch a unit's messages and commit their rows in batches of at most
        ``batch_size``. Network I/O runs in a thread one FETCH ahead of the parsing, so round
        trips and transfers overlap the CPU-bound row building."""
        res = ChunkResult(index=job.index)
        mailbox = self.ids.p.person(job.account.address)
        counter = [0]
        rows: list[dict[str, Any]] = []
        done = 0  # messages whose rows are committed
        in_rows = 0  # messages (fetched or vanished) covered by ``rows``
        plan = [(seg, list(seg.uids[i:i + self.cfg.batch_size]))
                for seg in job.segments for i in range(0, len(seg.uids), self.cfg.batch_size)]
        q: queue.Queue[Any] = queue.Queue(maxsize=2)
        stop = threading.Event()

        conns = self.conns

        def producer() -> None:
            self._local.conns = conns  # the unit's connections, not a new set
            try:
                for seg, batch in plan:
                    if stop.is_set():
                        return
                    got = self.retrying(job.account,
                                        lambda s=seg, b=batch: self._fetch(job, s, b), counter,
                                        stop)
                    q.put((seg, batch, got))
                    if got is None:
                        return
            except BaseException as exc:  # noqa: BLE001 - handed to the consumer
                q.put(exc)
                return
            q.put(None)

        def commit() -> None:
            nonlocal done, in_rows
            self._commit(mailbox, rows)
            for r in rows:
                res.defects.update(r["defects"])
            res.written += len(rows)
            done += in_rows
            if self.progress is not None and in_rows:
                self.progress(in_rows)
            rows.clear()
            in_rows = 0

        t = threading.Thread(target=producer, daemon=True)
        t.start()
        try:
            while True:
                item = q.get()
                if item is None:
                    break
                if isinstance(item, BaseException):
                    raise item
                seg, batch, fetched = item
                if fetched is None:
                    res.uidvalidity_changed = True
                    break
                for f in fetched:
                    try:
                        rows.append(self._row(mailbox, seg, f))
                    except Exception as exc:  # noqa: BLE001 - counted, never fatal
                        res.skipped[f"unparsable_{_kind(exc)}"] += 1
                res.vanished += len(batch) - len(fetched)
                in_rows += len(batch)
                if len(rows) >= self.cfg.batch_size:
                    commit()
            if rows or in_rows:
                commit()
        except ImapError as exc:
            res.error = str(exc)
        finally:
            stop.set()
            with contextlib.suppress(queue.Empty):
                while True:  # unblock the producer if it waits on a full queue
                    q.get_nowait()
            t.join(timeout=self.cfg.server.read_timeout + 5)
            if t.is_alive():  # never share a connection with a thread that is still reading
                self.conns.pop(job.account.login, None)
        res.not_collected = job.n - done if (res.error or res.uidvalidity_changed) else 0
        res.reconnects = counter[0]
        return res

    def _fetch(self, job: ChunkJob, seg: Segment, batch: list[int]) -> list[Fetched] | None:
        c, selected = self.conns.get(job.account.login, (None, None))
        if c is None or selected != seg.folder.name:
            info = self.select(job.account, seg.folder)
            if int(info[b"UIDVALIDITY"]) != seg.uidvalidity:
                return None
            c = self.conns[job.account.login][0]
        return fetch_batch(c, batch)

    def _row(self, mailbox: str, seg: Segment, f: Fetched) -> dict[str, Any]:
        with self.lock:
            return self._row_locked(mailbox, seg, f)

    def _row_locked(self, mailbox: str, seg: Segment, f: Fetched) -> dict[str, Any]:
        defects = list(f.defects)
        header = f.header
        if header is None:
            defects.append("missing_header")
            header = b""
        # IMAP sends CRLF where Maildir files often have LF: parse_header_block unfolds and
        # accepts both, so both routes see the same values.
        msg = parse_header_block(header)
        outline = MimeOutline(parts=f.parts or [], defects=defects)
        flags = {x.lower() for x in f.flags}
        ctx = Context(mailbox=mailbox, source=SOURCE,
                      item_key=f"{'/'.join(seg.folder.path)}\x00{seg.uidvalidity}\x00{f.uid}",
                      folder=seg.folder.path, folder_role=seg.folder.role,
                      size_bytes=f.size if f.size is not None else len(header),
                      seen=b"\\seen" in flags, answered=b"\\answered" in flags,
                      flagged=b"\\flagged" in flags, fallback_date=f.internaldate,
                      imap_uidvalidity=seg.uidvalidity, imap_uid=f.uid)
        return self.builder.build(msg, outline, ctx)

    def _commit(self, mailbox: str, rows: list[dict[str, Any]]) -> None:
        if self.stopping.is_set():
            raise ImapError("interrupted")
        with self.lock:
            self._exit_if_orphaned()
            self.escrow.flush()  # identities are sealed before the rows that use them land
            self.store.write_batch(mailbox, rows, guard=self._exit_if_orphaned)

    def _exit_if_orphaned(self) -> None:
        if self.parent is not None and (os.getppid() != self.parent
                                        or not _still_running(self.collector)):
            os._exit(1)  # orphaned by a killed collector: write nothing more


_WORKER: _Worker | None = None


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this worker when its parent dies (kill -9 included), so no orphan
    commits a batch while a re-run is planning. The parent is the fork server, which exits
    as soon as the collector is gone; ``_commit`` also checks the parent before writing."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _start_time(pid: int) -> str | None:
    """The kernel's start time of a live (not zombie) process, None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] in ("Z", "X") else fields[19]


def _still_running(proc: tuple[int, str] | None) -> bool:
    return proc is None or _start_time(proc[0]) == proc[1]


def _init_worker(cfg: WorkerConfig, progress: Any, collector: int) -> None:
    """Why the collector's own pid: the fork server outlives a killed collector as long as
    workers hold its liveness pipe (multiprocessing hands them a copy), so a worker started
    or busy then would go on with calls already queued. Each commit checks the collector."""
    global _WORKER
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
    _WORKER = _Worker(cfg, progress.put if progress is not None else None, pool_worker=True)
    started = _start_time(collector)
    if started is None:
        os._exit(1)  # the collector is already gone
    _WORKER.collector = (collector, started)


_THREADS: list[ThreadPoolExecutor] = []


def _run_units(jobs: list[Unit]) -> list[PlanResult | ChunkResult]:
    """Run units at once in this worker's threads: a mailbox's round trips then overlap
    another's parsing, which matters on a slow link with many small mailboxes."""
    assert _WORKER is not None
    if not _still_running(_WORKER.collector):
        os._exit(1)  # a call queued by a collector killed since: not run
    if len(jobs) == 1:
        return [_WORKER.run(jobs[0])]
    if not _THREADS:
        _THREADS.append(ThreadPoolExecutor(max(INFLIGHT, len(jobs))))
    elif _THREADS[0]._max_workers < len(jobs):  # noqa: SLF001
        _THREADS[0] = ThreadPoolExecutor(len(jobs))
    return list(_THREADS[0].map(_WORKER.run, jobs))


# ---------------------------------------------------------------------------------------------
# the run


def preflight(server: Server) -> None:
    """Connect once (no login) so a wrong host, port or certificate fails the run at once."""
    attempts = 3
    for i in range(attempts):
        try:
            _close(server.connect())
            return
        except TransientError:
            if i == attempts - 1:
                raise
            time.sleep(0.5 * 2 ** i)


def collect_imap(study: Study, server: Server, accounts: Sequence[Account], auth: Auth, *,
                 include: Sequence[str] = (), exclude: Sequence[str] = (), workers: int = 4,
                 batch_size: int = BATCH_SIZE, chunk_size: int = CHUNK_SIZE,
                 max_retries: int = MAX_RETRIES, backoff: float = 0.5,
                 inflight: int = INFLIGHT,
                 on_progress: Callable[[int, int, int, int], None] | None = None,
                 warn: Callable[[str], None] | None = None) -> RunSummary:
    """Collect the mailboxes of ``accounts`` from ``server`` into the study's message store.

    ``on_progress(messages_done, messages_planned, mailboxes_done, mailboxes)`` reports
    advance. Each of the ``workers`` processes keeps up to ``inflight`` mailboxes in flight
    (one connection each), so a slow link does not leave the CPUs idle. Per-mailbox failures
    (refused login, lost connection after retries) are recorded in the summary by mailbox
    pseudonym and do not stop the other mailboxes. The summary is saved to ``data/runs/`` and
    returned; it holds counts and pseudonyms only.
    """
    from mailstudy.optout import load_optouts

    for w in server.check():
        if warn is not None:
            warn(w)
    study.key()
    study.escrow()  # fails early without a key holder
    ps = study.pseudonymiser()
    ids = Identities(ps, study.domains, study.partner_domains)
    optouts = load_optouts(study)
    summary = RunSummary(kind="collect-imap",
                         started=dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    store = MessageStore(study.messages_dir)
    summary.tmp_cleaned = store.clean_tmp()
    results: list[MailboxResult] = []
    jobs: list[PlanJob] = []
    for i, acc in enumerate(accounts):
        r = MailboxResult(index=i, format=SOURCE, owner_from="account")
        results.append(r)
        if ids.classify(acc.address) != "internal":
            r.error = "the mailbox address is not in the organisation's domains"
            continue
        r.mailbox = ps.person(acc.address)
        if r.mailbox in optouts:
            r.owner_from += "+optout"
            r.skipped["owner_opted_out"] += 1
            continue
        jobs.append(PlanJob(i, acc))
    # seal the owners' identities now, even for mailboxes that turn out empty
    escrow = study.escrow()
    sealer = Identities(ps, study.domains, study.partner_domains, optouts, escrow)
    for j in jobs:
        sealer.token(j.account.address)
    escrow.flush()

    t0 = time.monotonic()
    if jobs:
        preflight(server)
    cfg = WorkerConfig(study.root, server, auth, batch_size, chunk_size, max_retries,
                       tuple(include), tuple(exclude), backoff, max(1, workers))
    _Scheduler(cfg, jobs, results, max(1, workers), on_progress, max(1, inflight)).run()
    summary.mailboxes = results
    summary.seconds = time.monotonic() - t0
    summary.save(study.runs_dir)
    return summary


class _Scheduler:
    """Hands plan and chunk units to the workers, chunks first (they finish mailboxes), and
    folds their results into the per-mailbox summaries."""

    def __init__(self, cfg: WorkerConfig, jobs: list[PlanJob], results: list[MailboxResult],
                 workers: int, on_progress: Callable[[int, int, int, int], None] | None,
                 inflight: int = 1) -> None:
        self.cfg = cfg
        self.inflight = inflight
        self.plans = list(jobs)
        self.chunks: list[ChunkJob | GapsJob] = []
        self.results = results
        self.workers = workers
        self.on_progress = on_progress
        self.outstanding: Counter[int] = Counter()  # mailbox index -> units not finished
        self.replanned: set[int] = set()
        # A folder whose UIDVALIDITY changed makes its mailbox planned again, once every unit
        # of it already running is done (a plan made while they still commit would fetch
        # their messages a second time). Units carry the generation of the plan that made
        # them; what an older generation reports about UIDVALIDITY is already handled.
        self.generation: Counter[int] = Counter()
        self._gen_of: dict[int, int] = {}  # id(unit) of queued and running units
        self.replan_wanted: set[int] = set()
        self.started: dict[int, float] = {}
        self.done_msgs = 0
        self.planned_msgs = 0
        self.finished = {r.index for r in results if r.index not in {j.index for j in jobs}}

    def _report(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self.done_msgs, self.planned_msgs, len(self.finished),
                             len(self.results))

    def _batch(self) -> list[Unit]:
        """A chunk alone (CPU-bound), or up to ``inflight`` mailboxes to plan (latency-bound),
        for one worker process."""
        if self.chunks:
            return [self.chunks.pop(0)]
        n = min(self.inflight, len(self.plans))
        out: list[Unit] = list(self.plans[:n])
        del self.plans[:n]
        return out

    def _next(self) -> Unit | None:
        if self.chunks:
            return self.chunks.pop(0)
        if self.plans:
            return self.plans.pop(0)
        return None

    def _track(self, units: Sequence[Unit]) -> Sequence[Unit]:
        """Count ``units`` as outstanding for their mailboxes, in the current generation."""
        for u in units:
            self._gen_of[id(u)] = self.generation[u.index]
            self.outstanding[u.index] += 1
        return units

    def _absorb(self, unit: Unit, out: PlanResult | ChunkResult) -> None:
        r = self.results[unit.index]
        self.outstanding[unit.index] -= 1
        gen = self._gen_of.pop(id(unit), 0)
        stale = gen != self.generation[unit.index]
        if isinstance(out, PlanResult):
            if out.error:
                r.error = out.error
            else:
                if gen == 0:  # a replan's counts are not the run's
                    r.folders = out.folders
                    r.messages_seen = out.messages_on_server
                    r.already_present = out.already_present
                    r.skipped.update(out.skipped)
                if out.replaced:
                    r.skipped["rows_replaced_uidvalidity"] += out.replaced
                self.chunks.extend(self._track(out.chunks))  # type: ignore[arg-type]
                self.planned_msgs += sum(c.n for c in out.chunks)
                if out.inline is not None:
                    self.planned_msgs += out.inline.written
                    self._absorb_chunk(unit, out.inline, gen, stale)
        else:
            self._absorb_chunk(unit, out, gen, stale)
        if unit.index in self.replan_wanted and self.outstanding[unit.index] <= 0:
            self.replan_wanted.discard(unit.index)
            self.plans.insert(0, PlanJob(unit.index, unit.account))
            self._track(self.plans[:1])
        if self.outstanding[unit.index] <= 0 and unit.index not in self.finished:
            self.finished.add(unit.index)
            r.seconds = time.monotonic() - self.started.get(unit.index, time.monotonic())

    def _absorb_chunk(self, unit: Unit, out: ChunkResult, gen: int, stale: bool) -> None:
        r = self.results[unit.index]
        present = out.skipped.pop("_already_present", 0)  # from a GapsJob
        if gen == 0:  # a replan's counts are not the run's
            r.already_present += present
        r.messages_written += out.written
        r.defects.update(out.defects)
        r.skipped.update(out.skipped)
        if out.vanished:
            r.skipped["vanished_before_fetch"] += out.vanished
        if out.reconnects:
            r.skipped["reconnections"] += out.reconnects
        if out.uidvalidity_changed:
            self.planned_msgs -= out.not_collected  # planned again by the replan
        if out.uidvalidity_changed and not stale:
            if unit.index not in self.replanned:
                self.replanned.add(unit.index)
                self.generation[unit.index] += 1
                r.error = None  # what the first plan's units left undone, the replan redoes
                # queued units of this mailbox were planned at the old UIDVALIDITY: the replan
                # plans their messages again
                dropped = [c for c in self.chunks if c.index == unit.index]
                self.chunks = [c for c in self.chunks if c.index != unit.index]
                for c in dropped:
                    self._gen_of.pop(id(c), None)
                    self.outstanding[unit.index] -= 1
                    self.planned_msgs -= c.n
                self.replan_wanted.add(unit.index)
            elif not r.error:
                r.error = "a folder's UIDVALIDITY keeps changing; re-run later"
        if out.error and not stale and unit.index not in self.replan_wanted:
            if not r.error:
                r.error = (f"{out.error}; {out.not_collected} messages not collected "
                           "(re-run to resume)")

    def _progress_tick(self, n: int) -> None:
        self.done_msgs += n
        self._report()

    def run(self) -> None:
        self._track(self.plans)
        if not self.plans:
            return
        if self.workers == 1:
            self._run_inline()
        else:
            self._run_pool()
        self._report()

    def _run_inline(self) -> None:
        """One process: up to ``inflight`` units at once in threads sharing one worker."""
        w = _Worker(self.cfg, self._progress_tick)
        running: dict[Future[Any], Unit] = {}
        lock = threading.Lock()

        def tick(n: int) -> None:
            with lock:
                self._progress_tick(n)

        w.progress = tick
        pool = ThreadPoolExecutor(self.inflight)
        try:
            while True:
                while len(running) < self.inflight and (unit := self._next()) is not None:
                    self.started.setdefault(unit.index, time.monotonic())
                    running[pool.submit(w.run, unit)] = unit
                if not running:
                    break
                done, _ = wait(list(running), return_when=FIRST_COMPLETED)
                with lock:
                    for fut in done:
                        unit = running.pop(fut)
                        self._absorb(unit, fut.result())
                    self._report()
        except BaseException:  # Ctrl-C: stop the units in flight without waiting for them
            w.stopping.set()
            w.close_all(abort=True)
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            w.close_all()

    def _run_pool(self) -> None:
        # forkserver: one clean, single-threaded process imports the collector once, and
        # workers fork from it (spawn re-imported pandas and pyarrow in every worker, ~1 s of
        # CPU each; plain fork would copy a parent that may run threads).
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["mailstudy.collect.imap"])
        queue = ctx.Queue()
        running: dict[Future[Any], list[Unit]] = {}
        try:
            with ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=_init_worker,
                                     initargs=(self.cfg, queue, os.getpid())) as pool:
                while True:
                    while len(running) < self.workers and (units := self._batch()):
                        for unit in units:
                            self.started.setdefault(unit.index, time.monotonic())
                        running[pool.submit(_run_units, units)] = units
                    if not running:
                        break
                    done, _ = wait(list(running), timeout=0.2, return_when=FIRST_COMPLETED)
                    self._drain(queue)
                    for fut in done:
                        units = running.pop(fut)
                        for unit, out in zip(units, fut.result(), strict=True):
                            self._absorb(unit, out)
                    self._report()
        except BrokenProcessPool:
            for r in self.results:
                if r.index not in self.finished and not r.error:
                    r.error = "a worker process died; re-run to resume"
        finally:
            self._drain(queue)
            queue.close()

    def _drain(self, progress: Any) -> None:
        while True:
            try:
                n = progress.get_nowait()
            except Exception:  # noqa: BLE001 - queue.Empty, or closed
                return
            self.done_msgs += n


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
            raise ImapError(f"accounts file: line {n} has no mailbox address")
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
        raise ImapError("choose one of --password-env, --keyring, --oauth2-token-env and "
                        "--oauth2-token-command")
    if oauth2_token_env is not None:
        token = os.environ.get(oauth2_token_env)
        if not token:
            raise ImapError(f"the environment variable {oauth2_token_env} is not set")
        return Auth(oauth2_token=token.strip())
    if oauth2_token_command is not None:
        # fail now rather than in every worker (a per-login command is checked with the
        # first login); the token is kept for this process
        command_token(oauth2_token_command, next(iter(logins), ""))
        return Auth(oauth2_command=oauth2_token_command)
    if password_env is not None:
        pw = os.environ.get(password_env)
        if pw is None or pw == "":
            raise ImapError(f"the environment variable {password_env} is not set")
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
            raise ImapError(f"the system keyring is not usable ({_kind(exc)})") from None
        missing = len(set(logins) - set(found))
        if missing:
            raise ImapError(f"no keyring entry for {missing} login(s) under the service "
                            f"'{service}' (add them with: keyring set {service} LOGIN)")
        return Auth(passwords=found)
    if interactive:
        import getpass

        pw = getpass.getpass("IMAP password (input hidden): ")
        if not pw:
            raise ImapError("no password given")
        return Auth(password=pw)
    raise ImapError("no secret given: use --password-env NAME, --keyring, --oauth2-token-env "
                    "NAME or --oauth2-token-command CMD (or run interactively to be prompted)")
