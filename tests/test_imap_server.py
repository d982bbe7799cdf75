"""The test Dovecot itself: TLS with the test CA, refusal without it, master-user logins.

These pin down the fixture the IMAP collector tests rely on, with plain imapclient.
"""

from __future__ import annotations

import ssl

import pytest
from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from mailstudy.demo.dovecot import DovecotServer

MSG = (b"From: Alice <alice@region.test>\r\nTo: bob@region.test\r\nSubject: hello\r\n"
       b"Message-ID: <smoke-1@region.test>\r\nDate: Mon, 2 Mar 2026 10:00:00 +0100\r\n\r\n"
       b"hi\r\n")


def _ctx(srv: DovecotServer) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(srv.ca_file))


def test_tls_verified_with_test_ca_and_master_user(dovecot: DovecotServer) -> None:
    dovecot.add_messages("carol", "Smoke", [MSG], flags="S")
    with IMAPClient(dovecot.host, dovecot.imaps_port, ssl=True, ssl_context=_ctx(dovecot),
                    timeout=5) as c:
        assert c._imap.sock.version().startswith("TLS")  # noqa: SLF001
        c.login(dovecot.login_as("carol"), dovecot.master[1])
        info = c.select_folder("Smoke", readonly=True)
        assert info[b"EXISTS"] == 1
        uids = c.search()
        got = c.fetch(uids, ["FLAGS", "RFC822.SIZE"])[uids[0]]
        assert b"\\Seen" in got[b"FLAGS"]
        assert got[b"RFC822.SIZE"] == len(MSG)


def test_tls_refused_without_the_ca(dovecot: DovecotServer) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        IMAPClient(dovecot.host, dovecot.imaps_port, ssl=True,
                   ssl_context=ssl.create_default_context(), timeout=5)


def test_starttls_verified(dovecot: DovecotServer) -> None:
    c = IMAPClient(dovecot.host, dovecot.imap_port, ssl=False, timeout=5)
    c.starttls(_ctx(dovecot))
    c.login("alice", "alice-pw")
    assert c.list_folders()
    c.logout()


def test_master_user_opens_several_mailboxes_and_bad_logins_fail(
        dovecot: DovecotServer) -> None:
    for user in ("alice", "bob"):
        with IMAPClient(dovecot.host, dovecot.imaps_port, ssl_context=_ctx(dovecot),
                        timeout=5) as c:
            c.login(dovecot.login_as(user), dovecot.master[1])
            assert c.select_folder("INBOX", readonly=True)[b"UIDVALIDITY"] > 0
    with IMAPClient(dovecot.host, dovecot.imaps_port, ssl_context=_ctx(dovecot), timeout=5) as c:
        with pytest.raises(LoginError):
            c.login(dovecot.login_as("alice"), "wrong")


def test_locked_account_kill_and_restart(make_dovecot) -> None:
    srv = make_dovecot({"dan": "dan-pw"})
    srv.set_locked("dan")
    srv.start()
    with IMAPClient(srv.host, srv.imaps_port, ssl_context=_ctx(srv), timeout=5) as c:
        with pytest.raises(LoginError, match="account-locked"):
            c.login("dan", "dan-pw")
    srv.kill()
    assert not srv.running
    srv.set_locked("dan", False)
    srv.start()
    with IMAPClient(srv.host, srv.imaps_port, ssl_context=_ctx(srv), timeout=5) as c:
        c.login("dan", "dan-pw")
        before = c.select_folder("INBOX")[b"UIDVALIDITY"]
    srv.change_uidvalidity("dan", "INBOX")
    with IMAPClient(srv.host, srv.imaps_port, ssl_context=_ctx(srv), timeout=5) as c:
        c.login("dan", "dan-pw")
        assert c.select_folder("INBOX")[b"UIDVALIDITY"] > before
