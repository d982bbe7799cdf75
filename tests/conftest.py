"""Shared pytest fixtures.

The IMAP fixtures start a real Dovecot (see ``mailstudy/demo/dovecot.py``). Where Dovecot is not
installed the IMAP tests are skipped with the reason, except under CI (``CI`` set in the
environment), where a missing server is an error: CI installs dovecot-imapd, so a skip there
would hide a broken setup.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from mailstudy.demo.dovecot import DovecotServer
from mailstudy.demo.dovecot_config import available

# The command line speaks the locale's language (mailstudy.i18n.cli_lang); tests read its
# English messages unless they ask for French (env={"LC_ALL": "fr_FR.UTF-8"}).
os.environ["LC_ALL"] = "C.UTF-8"

#: Mailboxes of the shared server: login -> password. Their content is loaded by the tests.
SHARED_USERS = {"alice": "alice-pw", "bob": "bob-pw", "carol": "carol-pw"}


def _require_dovecot() -> None:
    reason = available()
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"IMAP tests need Dovecot under CI: {reason}")
    pytest.skip(f"IMAP tests skipped: {reason}")


@pytest.fixture(scope="session")
def dovecot() -> Iterator[DovecotServer]:
    """One running Dovecot for the session (users alice, bob, carol; master user admin).

    Tests that only read may share it; tests that stop, kill or rewrite the server use
    ``make_dovecot`` to get their own.
    """
    _require_dovecot()
    srv = DovecotServer.create(users=SHARED_USERS)
    try:
        srv.start()
        yield srv
    finally:
        srv.cleanup()


@pytest.fixture
def make_dovecot() -> Iterator[Callable[..., DovecotServer]]:
    """Factory of private (not yet started) Dovecot servers, cleaned up after the test."""
    _require_dovecot()
    made: list[DovecotServer] = []

    def factory(users: dict[str, str] | None = None, **kwargs: Any) -> DovecotServer:
        srv = DovecotServer.create(users=users, **kwargs)
        made.append(srv)
        return srv

    try:
        yield factory
    finally:
        for srv in made:
            srv.cleanup()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real Dask LocalCluster of two worker processes on 127.0.0.1 for a test module (its
    scratch folder kept as ``local_dir``, for the tests that scan it for secrets)."""
    distributed = pytest.importorskip("distributed")
    work = tmp_path_factory.mktemp("dask")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=":0",
                                  local_directory=str(work), silence_logs=False) as c:
        c.local_dir = work
        yield c
