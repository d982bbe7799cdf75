"""A worker's IMAP connections: one small set per thread (several units run at once in
threads while others wait on the network), reused by login, closed or aborted together, and
a retry loop that reconnects with backoff on a dropped connection."""

from __future__ import annotations

import contextlib
import imaplib
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError

from mailstudy.collect.imap.auth import Account
from mailstudy.collect.imap.connection import close_quietly, open_session
from mailstudy.collect.imap.errors import ImapError, TransientError, kind_of
from mailstudy.collect.imap.folders import Folder
from mailstudy.collect.imap.units import Reconnects, WorkerConfig


class Connections:
    """The connections of one worker process, per thread; the study's shared state (row
    builder, escrow, store) is guarded by ``lock``, which subclasses share."""

    def __init__(self, cfg: WorkerConfig) -> None:
        self.cfg = cfg
        self.lock = threading.RLock()
        self.stopping = threading.Event()  # set on Ctrl-C: in-flight units end at once
        self._local = threading.local()
        self._all_conns: list[OrderedDict[str, tuple[IMAPClient, str | None]]] = []

    @property
    def conns(self) -> OrderedDict[str, tuple[IMAPClient, str | None]]:
        """This thread's open connections, by login (a chunk's fetching thread shares its
        unit's, see ``share_conns``)."""
        c = getattr(self._local, "conns", None)
        if c is None:
            c = OrderedDict()
            self._local.conns = c
            with self.lock:
                self._all_conns.append(c)
        return c

    def share_conns(self, conns: OrderedDict[str, tuple[IMAPClient, str | None]]) -> None:
        """Make this thread use ``conns`` (a unit's connections, not a new set)."""
        self._local.conns = conns

    def client(self, account: Account) -> IMAPClient:
        hit = self.conns.get(account.login)
        if hit is not None:
            self.conns.move_to_end(account.login)
            return hit[0]
        while len(self.conns) >= 2:  # per thread; several threads per worker
            _, (old, _sel) = self.conns.popitem(last=False)
            close_quietly(old)
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
            raise TransientError("connection lost during {command} ({kind})",
                                 command="SELECT", kind=kind_of(exc)) from None
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
                    close_quietly(c)

    def retrying(self, account: Account, fn: Callable[[], Any], reconnects: Reconnects,
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
                reconnects.count += 1
                if (attempt > self.cfg.max_retries or self.stopping.is_set()
                        or (stop is not None and stop.is_set())):
                    raise
                delay = self.cfg.backoff * 2 ** (attempt - 1)
                time.sleep(delay * (1 + random.random() * 0.25))

