"""XOAUTH2 (Microsoft 365's way in) against a real Dovecot whose ``oauth2`` passdb checks bearer
tokens with a loopback introspection endpoint (mailstudy/demo/dovecot.py: the identity provider is
the only stand-in). Tokens never reach an output, and a rejected cached token is refreshed."""

from __future__ import annotations

import stat
import sys
from pathlib import Path

import pandas as pd
from studykit import keyed_studies, make_study
from test_imap_collect import canonical, edge_corpus, tls
from typer.testing import CliRunner

from mailstudy.cli import app
from mailstudy.collect.imap import Account, Auth, LoginRefused, collect_imap, open_session
from mailstudy.collect.imap.auth import TOKENS
from mailstudy.collect.imap.connection import close_quietly
from mailstudy.store import read_messages

TOKEN = "eyJ0eXAiOiJKV1Qi.canary-bearer-token.c2lnbmF0dXJl"


def token_script(tmp: Path) -> tuple[Path, Path]:
    """A token command as an ``az``-like tool would be: prints the token from a file and
    counts its runs. Returns (script, runs log)."""
    runs = tmp / "runs.log"
    script = tmp / "get-token"
    script.write_text(f"#!{sys.executable}\nimport sys\n"
                      f"open({str(runs)!r}, 'a').write(' '.join(sys.argv[1:]) + '\\n')\n"
                      f"print(open({str(tmp / 'token')!r}).read().strip())\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script, runs


def test_xoauth2_gives_the_rows_of_a_password_login_and_never_shows_the_token(
        tmp_path: Path, make_dovecot) -> None:
    srv = make_dovecot({"alice": "a-pw"}, oauth2=True)
    srv.add_messages("alice", "INBOX", [m for m, _ in edge_corpus()[:4]])
    srv.start()
    srv.grant_token(TOKEN, "alice")
    by_token, by_password = keyed_studies(tmp_path)
    base = ["collect", "imap", "--host", srv.host, "--port", str(srv.imaps_port),
            "--ca-file", str(srv.ca_file), "--workers", "1", "--user", "alice",
            "--mailbox", "alice.martin@region.test"]
    runner = CliRunner()
    r = runner.invoke(app, [*base, "--study", str(by_token.root), "--oauth2-token-env", "TOK"],
                      env={"TOK": TOKEN})
    assert r.exit_code == 0, r.output
    assert srv.oauth2 is not None and srv.oauth2.lookups >= 1  # Dovecot asked the provider
    collect_imap(by_password, tls(srv), [Account("alice.martin@region.test", "alice")],
                 Auth(password="a-pw"), workers=1)
    a, b = read_messages(by_token.messages_dir), read_messages(by_password.messages_dir)
    assert len(a) == 4
    pd.testing.assert_frame_equal(canonical(a), canonical(b))

    # a revoked token: the mailbox fails with a fixed reason, the token is nowhere
    srv.revoke_token(TOKEN)
    r = runner.invoke(app, [*base, "--study", str(by_token.root), "--oauth2-token-env", "TOK"],
                      env={"TOK": TOKEN})
    assert r.exit_code == 1 and "authentication failed" in r.output
    outputs = [r.output.encode()] + [p.read_bytes() for p in by_token.root.rglob("*")
                                     if p.is_file()]
    for blob in outputs:
        assert TOKEN.encode() not in blob and b"canary-bearer" not in blob


def test_token_command_per_login_for_delegated_tokens(tmp_path: Path,
                                                           make_dovecot) -> None:
    srv = make_dovecot({"alice": "a-pw", "bob": "b-pw"}, oauth2=True)
    for u in ("alice", "bob"):
        srv.add_messages(u, "INBOX", [m for m, _ in edge_corpus()[:2]])
    srv.start()
    runs = tmp_path / "runs.log"
    # per-mailbox delegated tokens: '{login}' tells the command whose token to print
    srv.grant_token("tok-alice", "alice")
    srv.grant_token("tok-bob", "bob")
    per_login = tmp_path / "per-login"
    per_login.write_text(f"#!{sys.executable}\nimport sys\n"
                         f"open({str(runs)!r}, 'a').write(sys.argv[1] + '\\n')\n"
                         "print('tok-' + sys.argv[1])\n")
    per_login.chmod(0o755)
    study, _ = make_study(tmp_path / "s")
    accounts = [Account("alice.martin@region.test", "alice"),
                Account("bob.durand@region.test", "bob")]
    TOKENS.clear()
    s = collect_imap(study, tls(srv), accounts, Auth(oauth2_command=f"{per_login} {{login}}"),
                     workers=1, batch_size=1)  # batch_size 1: many FETCHes, few logins
    assert [m.error for m in s.mailboxes] == [None, None]
    assert sum(m.messages_written for m in s.mailboxes) == 4
    # once per login, and each mailbox with its own token (a shared one would be refused)
    assert sorted(runs.read_text().splitlines()) == ["alice", "bob"]


def test_a_rejected_cached_token_is_fetched_again(tmp_path: Path, make_dovecot) -> None:
    srv = make_dovecot({"alice": "a-pw"}, oauth2=True)
    srv.start()
    script, runs = token_script(tmp_path)
    (tmp_path / "token").write_text("first-token")
    srv.grant_token("first-token", "alice")
    auth = Auth(oauth2_command=str(script))
    TOKENS.clear()
    close_quietly(open_session(tls(srv), auth, "alice"))
    close_quietly(open_session(tls(srv), auth, "alice"))
    assert len(runs.read_text().splitlines()) == 1  # the second login reused the token
    # the token expires; the provider now hands out another one
    srv.revoke_token("first-token")
    (tmp_path / "token").write_text("second-token")
    srv.grant_token("second-token", "alice")
    client = open_session(tls(srv), auth, "alice")
    assert client.list_folders()  # logged in, on the same connection, with the new token
    close_quietly(client)
    assert len(runs.read_text().splitlines()) == 2
    # a token the server refuses even fresh is a refused login, reported without the token
    srv.revoke_token("second-token")
    try:
        open_session(tls(srv), auth, "alice")
    except LoginRefused as exc:
        assert "second-token" not in str(exc) and str(exc).startswith("authentication failed")
    else:
        raise AssertionError("a revoked token logged in")
