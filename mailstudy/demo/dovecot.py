"""A real, self-contained Dovecot IMAP server, for the tests, the benchmarks and the demo.

Why a real server: the IMAP collector must survive what real servers do (TLS, master users,
SPECIAL-USE, UIDVALIDITY changes, dropped connections, restarts); a mock of the protocol would
only test our own idea of it. Dovecot starts in ~0.05 s, so each test session can own one.

Everything lives in a temp directory under /tmp (not under a 0700 parent: Dovecot's
unprivileged processes must reach it): configuration, a test CA and a server certificate made
with ``openssl``, a passwd-file with users and a master user, Maildir homes, logs, sockets.
The server runs with ``dovecot -F`` in its own session, so :meth:`DovecotServer.kill` can
SIGKILL its whole process group to simulate a crash and :meth:`pause` can freeze it (SIGSTOP)
to provoke client read timeouts.

With ``oauth2=True`` the server also accepts XOAUTH2 and OAUTHBEARER (as Microsoft 365 does):
Dovecot's own ``oauth2`` passdb checks each bearer token against :class:`TokenIntrospection`,
a small RFC 7662 introspection endpoint on loopback that stands in for the identity provider
(the one part that cannot run here). Tokens are granted and revoked with :meth:`grant_token`
and :meth:`revoke_token`.

Running as root (CI, containers), Dovecot refuses to run its login processes as root and uid
0 mail users, so the internal/login users are ``dovecot``/``dovenull`` and mail belongs to
``mail``; as another user everything runs as that user.

Usage::

    srv = DovecotServer.create(users={"alice": "pw"}, master=("admin", "secret"))
    srv.add_messages("alice", "INBOX", [raw_bytes, ...])
    srv.start()
    ...  # IMAPClient("127.0.0.1", srv.imaps_port, ssl_context=ssl.create_default_context(
         #     cafile=srv.ca_file))
    srv.stop(); srv.cleanup()
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

from mailstudy.demo.certificates import make_certificates
from mailstudy.demo.dovecot_config import (
    DEFAULT_SPECIAL_USE,
    DOVECOT,
    MASTER_SEPARATOR,
    DovecotError,
    ServerLayout,
    available,
    oauth2_passdb_args,
    render_config,
)
from mailstudy.demo.maildir import folder_dirname
from mailstudy.demo.oauth import TokenIntrospection


def _live_members(pgid: int) -> list[int]:
    """Pids of the non-zombie processes in group ``pgid`` (zombies wait for init to reap)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            out.append(int(stat.parent.name))
    return out


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (a tiny race, acceptable for tests)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DovecotServer:
    """One Dovecot instance owned by a test session (see module docstring)."""

    def __init__(self, root: Path, *, master: tuple[str, str] | None = ("admin", "masterpw"),
                 special_use: Mapping[str, str] | None = None, oauth2: bool = False) -> None:
        self.root = Path(root)
        self.master = master
        self.oauth2 = TokenIntrospection() if oauth2 else None
        self.special_use = dict(DEFAULT_SPECIAL_USE if special_use is None else special_use)
        self.users: dict[str, str] = {}
        self.locked: set[str] = set()
        self.imap_port = free_port()
        self.imaps_port = free_port()
        self.host = "127.0.0.1"
        self.proc: subprocess.Popen[bytes] | None = None
        self._msg_counter = 0
        if os.geteuid() == 0:
            self._internal, self._login, self._mailuser = "dovecot", "dovenull", "mail"
        else:
            me = pwd.getpwuid(os.geteuid()).pw_name
            self._internal = self._login = self._mailuser = me
        pw = pwd.getpwnam(self._mailuser)
        self._uid, self._gid = pw.pw_uid, pw.pw_gid
        self.ca_file, self.cert_file, self.key_file = make_certificates(self.root / "tls")
        (self.root / "home").mkdir(exist_ok=True)
        (self.root / "run").mkdir(exist_ok=True)
        self._write_config()

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def create(cls, users: Mapping[str, str] | None = None, **kwargs: object) -> DovecotServer:
        """A server in a fresh world-traversable temp dir, with ``users`` (login -> password)."""
        reason = available()
        if reason:
            raise DovecotError("the demo mail server cannot run here: {reason}", reason=reason)
        root = Path(tempfile.mkdtemp(prefix="mailstudy-dovecot-", dir="/tmp"))
        os.chmod(root, 0o755)
        srv = cls(root, **kwargs)  # type: ignore[arg-type]
        for name, password in (users or {}).items():
            srv.add_user(name, password)
        return srv

    @property
    def conf_file(self) -> Path:
        return self.root / "dovecot.conf"

    @property
    def log_file(self) -> Path:
        return self.root / "dovecot.log"

    def _write_config(self) -> None:
        if self.oauth2 is not None:
            (self.root / "oauth2.conf.ext").write_text(oauth2_passdb_args(self.oauth2.url))
        layout = ServerLayout(
            root=self.root, log_file=self.log_file, host=self.host, imap_port=self.imap_port,
            imaps_port=self.imaps_port, internal_user=self._internal, login_user=self._login,
            uid=self._uid, gid=self._gid, cert_file=self.cert_file, key_file=self.key_file)
        self.conf_file.write_text(render_config(layout, self.special_use,
                                                master=bool(self.master),
                                                oauth2=self.oauth2 is not None))
        self._write_passwd()

    def _write_passwd(self) -> None:
        lines = []
        for name, password in self.users.items():
            extra = "nologin reason=account-locked" if name in self.locked else ""
            lines.append(f"{name}:{{PLAIN}}{password}:{self._uid}:{self._gid}::"
                         f"{self.home(name)}::{extra}")
        users = self.root / "users"
        users.write_text("\n".join(lines) + "\n")
        os.chmod(users, 0o644)
        if self.master:
            m = self.root / "master-users"
            m.write_text(f"{self.master[0]}:{{PLAIN}}{self.master[1]}\n")
            os.chmod(m, 0o644)
        if self.running:
            # Dovecot's auth process checks the passwd-file's mtime at most once a second:
            # wait that long so the change is certain to apply to the next login.
            time.sleep(1.1)

    # -- users and mail -------------------------------------------------------------------
    def home(self, user: str) -> Path:
        return self.root / "home" / user

    def maildir(self, user: str, folder: str = "INBOX") -> Path:
        return self.home(user) / "Maildir" / folder_dirname(folder)

    def add_user(self, name: str, password: str) -> None:
        """Add (or re-password) a user; the passwd-file is re-read on each login."""
        if ":" in name or ":" in password:
            raise ValueError("':' is not allowed in test logins or passwords")
        self.users[name] = password
        md = self.home(name) / "Maildir"
        for sub in ("cur", "new", "tmp"):
            (md / sub).mkdir(parents=True, exist_ok=True)
        self._chown_tree(self.home(name))
        self._write_passwd()

    def set_locked(self, name: str, locked: bool = True) -> None:
        """Refuse (or allow again) logins to ``name``, as a locked account would."""
        (self.locked.add if locked else self.locked.discard)(name)
        self._write_passwd()

    def set_password(self, name: str, password: str) -> None:
        self.users[name] = password
        self._write_passwd()

    def grant_token(self, token: str, user: str) -> None:
        """Make ``token`` a valid bearer token for ``user`` (needs ``oauth2=True``)."""
        if self.oauth2 is None:
            raise DovecotError("this server was created without oauth2=True")
        self.oauth2.tokens[token] = user

    def revoke_token(self, token: str) -> None:
        if self.oauth2 is not None:
            self.oauth2.tokens.pop(token, None)

    def login_as(self, mailbox_user: str) -> str:
        """The master-user login that opens ``mailbox_user``'s mailbox."""
        if not self.master:
            raise DovecotError("this server has no master user")
        return f"{mailbox_user}{MASTER_SEPARATOR}{self.master[0]}"

    def _chown_tree(self, path: Path) -> None:
        if os.geteuid() != 0:
            return
        for dirpath, _dirs, filenames in os.walk(path):
            os.chown(dirpath, self._uid, self._gid)
            for f in filenames:
                os.chown(os.path.join(dirpath, f), self._uid, self._gid)

    def create_folder(self, user: str, folder: str) -> Path:
        d = self.maildir(user, folder)
        for sub in ("cur", "new", "tmp"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        if folder.upper() != "INBOX":
            (d / "maildirfolder").touch()
        self._chown_tree(self.home(user))
        return d

    def add_messages(self, user: str, folder: str, messages: Iterable[bytes],
                     flags: str | Iterable[str] = "") -> list[Path]:
        """Write raw messages into ``folder`` as Maildir files (fastest way to load mail).

        ``flags`` is Maildir info letters (e.g. "RS"), one string for all or one per message.
        Dovecot assigns UIDs, in file-name order, when it next lists the folder.
        """
        d = self.create_folder(user, folder)
        out = []
        flag_iter = iter(flags) if not isinstance(flags, str) else None
        stamp = int(time.time())
        for raw in messages:
            self._msg_counter += 1
            f = next(flag_iter) if flag_iter is not None else flags
            name = f"{stamp}.M{self._msg_counter:08d}P{os.getpid()}.test,S={len(raw)}"
            p = d / "cur" / f"{name}:2,{''.join(sorted(f))}"
            p.write_bytes(raw)
            os.utime(p, (stamp, stamp))  # INTERNALDATE = mtime = the name's timestamp
            out.append(p)
        self._chown_tree(d)
        return out

    def load_maildir(self, user: str, source: Path) -> int:
        """Copy a Maildir (Maildir++ folders '.X.Y' included) into ``user``'s mailbox.

        Returns the number of message files copied. Existing content is kept.
        """
        source = Path(source)
        dest = self.home(user) / "Maildir"
        n = 0
        for sub in [source, *sorted(p for p in source.iterdir()
                                    if p.is_dir() and p.name.startswith("."))]:
            target = dest / sub.relative_to(source)
            for part in ("cur", "new", "tmp"):
                (target / part).mkdir(parents=True, exist_ok=True)
            if sub != source:
                (target / "maildirfolder").touch()
            for part in ("cur", "new"):
                if (sub / part).is_dir():
                    for f in (sub / part).iterdir():
                        if f.is_file():
                            shutil.copy2(f, target / part / f.name)
                            n += 1
        self._chown_tree(dest)
        return n

    def change_uidvalidity(self, user: str, folder: str) -> None:
        """Give ``folder`` a new UIDVALIDITY (and new UIDs), as after a server-side rebuild.

        Dovecot keeps UIDVALIDITY in dovecot-uidlist and its indexes; removing them while the
        server is stopped and writing a uidlist header with a larger value is what a mailbox
        restore looks like to clients. Restarts the server if it was running.
        """
        was_running = self.running
        if was_running:
            self.stop()
        d = self.maildir(user, folder)
        uidlist = d / "dovecot-uidlist"
        old = 0
        if uidlist.exists():
            m = re.search(rb"\bV(\d+)", uidlist.read_bytes().split(b"\n", 1)[0])
            old = int(m.group(1)) if m else 0
        for f in d.glob("dovecot.index*"):
            f.unlink()
        new = max(old + 1, int(time.time()))
        uidlist.write_text(f"3 V{new} N1\n")
        self._chown_tree(d)
        if was_running:
            self.start()

    # -- process control ------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout: float = 10.0) -> None:
        """Start Dovecot in the foreground, in its own session, and wait for its greeting."""
        if self.running:
            return
        log = open(self.root / "dovecot.stderr", "ab")  # noqa: SIM115 - closed with the proc
        self.proc = subprocess.Popen([DOVECOT, "-F", "-c", str(self.conf_file)],
                                     stdout=log, stderr=log, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise DovecotError("dovecot exited at start: {log}", log=self._log_tail())
            try:
                with socket.create_connection((self.host, self.imap_port), timeout=1) as s:
                    s.settimeout(2)
                    if s.recv(200).startswith(b"* OK"):
                        return
            except OSError:
                time.sleep(0.02)
        self.kill()
        raise DovecotError("dovecot did not greet in time: {log}", log=self._log_tail())

    def _signal_group(self, sig: int) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass

    def stop(self, timeout: float = 10.0) -> None:
        """Graceful stop: SIGTERM to the process group, then SIGKILL if it lingers."""
        if self.proc is None:
            return
        self._signal_group(signal.SIGCONT)
        self._signal_group(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._signal_group(signal.SIGKILL)
            self.proc.wait(timeout)
        self._wait_group_gone()
        self.proc = None

    def kill(self) -> None:
        """Crash: SIGKILL the whole process group (connections drop without a goodbye)."""
        if self.proc is None:
            return
        self._signal_group(signal.SIGKILL)
        self.proc.wait(10)
        self._wait_group_gone()
        self.proc = None
        # A killed master leaves its pid file and sockets; a new start cleans them itself.

    def _wait_group_gone(self, timeout: float = 5.0) -> None:
        """Children (imap, auth) may outlive the master by a moment: wait for the group."""
        if self.proc is None:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not _live_members(self.proc.pid):
                return
            time.sleep(0.02)
        self._signal_group(signal.SIGKILL)

    def restart(self) -> None:
        self.stop()
        self.start()

    def pause(self) -> None:
        """Freeze every server process (SIGSTOP): clients see a silent, open connection."""
        self._signal_group(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal_group(signal.SIGCONT)

    def _log_tail(self, n: int = 1500) -> str:
        text = ""
        for f in (self.log_file, self.root / "dovecot.stderr"):
            if f.exists():
                text += f.read_text(errors="replace")[-n:]
        return text.strip()

    def cleanup(self) -> None:
        """Stop the server and delete its directory."""
        try:
            self.stop()
        finally:
            if self.oauth2 is not None:
                self.oauth2.close()
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> DovecotServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()

