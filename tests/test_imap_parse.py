"""The parts of IMAP collection that need no server: FETCH responses as imaplib returns
them, BODYSTRUCTURE to MIME parts, folder selection, UID sets, accounts files, secrets."""

from __future__ import annotations

import datetime as dt
import imaplib
from pathlib import Path

import pytest

from mailstudy.collect.imap import (
    Account,
    ImapError,
    LoginRefused,
    ResponseError,
    Server,
    auth_from_options,
    folder_path,
    in_ranges,
    login_reason,
    mailbox_of_login,
    parse_fetch,
    parse_internaldate,
    parse_status,
    ranges_spec,
    read_accounts,
    select_folders,
    split_responses,
    uid_gaps,
    uid_set,
)
from mailstudy.collect.imap.lexer import response_tree
from mailstudy.collect.parts import Part

HEADER = b"From: a@region.test\r\nSubject: x\r\n\r\n"
MIXED = (b'BODYSTRUCTURE (("text" "plain" ("charset" "utf-8") NIL NIL "quoted-printable" 120 4'
         b' NIL NIL NIL NIL)("application" "pdf" ("name" "r.pdf") NIL NIL "base64" 3000 NIL '
         b'("attachment" ("filename" "r.pdf")) NIL NIL) "mixed" ("boundary" "b") NIL NIL NIL)')


def response(uid: int, body: bytes = MIXED, header: bytes = HEADER) -> list:
    head = (f'{uid} (UID {uid} FLAGS (\\Seen \\Flagged) RFC822.SIZE 3400 INTERNALDATE '
            f'" 2-Mar-2026 10:00:00 +0100" ').encode() + body + \
        f" BODY[HEADER] {{{len(header)}}}".encode()
    return [(head, header), b")"]


def test_fetch_response_with_literals_escapes_and_rfc2231_names() -> None:
    # a filename sent as a literal and an RFC 2231 continuation, as servers do for odd names
    body = (b'BODYSTRUCTURE (("text" "html" ("charset" "utf-8") NIL NIL "7bit" 10 1 NIL NIL NIL'
            b' NIL)("application" "octet-stream" NIL NIL "a \\"quoted\\" word" "base64" 8 NIL '
            b'("attachment" ("filename*0" "budget-" "filename*1" {9}')
    entries = [(b"7 (UID 7 FLAGS () RFC822.SIZE 99 INTERNALDATE \"02-Mar-2026 10:00:00 +0000\" "
                + body, b"2026.xlsx"),
               (b')) NIL NIL) "mixed" NIL NIL NIL NIL) BODY[HEADER] {34}', HEADER), b")"]
    f = parse_fetch(entries)
    assert f.uid == 7 and f.header == HEADER and f.size == 99 and not f.defects
    assert f.parts == [Part("text/html", "", False, "", 10, "mixed"),
                       Part("application/octet-stream", "attachment", True, "xlsx", 8, "mixed")]


def test_bodystructure_parts_name_their_multipart_and_alternative() -> None:
    # report > (text, delivery-status), then mixed > alternative > (plain, plain, related >
    # html): multiparts numbered in the order they open, as the file reader numbers them
    leaf = b'("text" "plain" NIL NIL NIL "7bit" 5 1 NIL NIL NIL NIL)'
    status = b'("message" "delivery-status" NIL NIL NIL "7bit" 9 NIL NIL NIL NIL)'
    html = b'("text" "html" NIL NIL NIL "7bit" 7 1 NIL NIL NIL NIL)'
    body = (b"BODYSTRUCTURE ((" + leaf + status + b' "report" NIL NIL NIL NIL)(' + leaf + leaf
            + b"(" + html + b' "related" NIL NIL NIL NIL) "alternative" NIL NIL NIL NIL) "mixed"'
            b" NIL NIL NIL NIL)")
    parts = parse_fetch(response(3, body)).parts
    assert [(p.content_type, p.parent, p.alternative) for p in parts or []] == [
        ("text/plain", "report", 0), ("message/delivery-status", "report", 0),
        ("text/plain", "alternative", 3), ("text/plain", "alternative", 3),
        ("text/html", "related", 3)]


def test_fetch_response_fields_and_mime_parts() -> None:
    f = parse_fetch(response(42)[0:2])
    assert (f.uid, f.size, f.header) == (42, 3400, HEADER)
    assert {x.lower() for x in f.flags} == {b"\\seen", b"\\flagged"}
    assert f.internaldate == dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
    assert f.parts == [Part("text/plain", "", False, "", 120, "mixed"),
                       Part("application/pdf", "attachment", True, "pdf", 3000, "mixed")]
    ext = (b'BODYSTRUCTURE ("application" "pdf" NIL NIL NIL "base64" 10 NIL ("attachment" '
           b'("filename*" "utf-8\'\'rapport%20final.PDF")) NIL NIL)')
    assert parse_fetch(response(1, ext)).parts == [Part("application/pdf", "attachment", True,
                                                        "pdf", 10)]
    rfc822 = (b'BODYSTRUCTURE ("message" "rfc822" NIL NIL NIL "7bit" 50 (NIL "s" NIL NIL NIL '
              b'NIL NIL NIL NIL NIL) ("text" "plain" NIL NIL NIL "7bit" 5 1 NIL NIL NIL NIL) 3 '
              b'NIL NIL NIL NIL)')
    assert parse_fetch(response(1, rfc822)).parts == [Part("message/rfc822", "", False, "", 50)]


@pytest.mark.parametrize("broken", [
    MIXED.replace(b"BODYSTRUCTURE (", b"BODYSTRUCTURE ((", 1),  # unbalanced
    MIXED.replace(b"120", b'"big"'),  # a size that is not a number
    b'BODYSTRUCTURE ("text")',  # too short
    b"BODYSTRUCTURE NIL",
    MIXED.replace(b"(", b'("\x01', 1) + b'"',  # garbage
    MIXED.replace(b'"mixed"', b'"mixed'),  # a string never closed
    MIXED.replace(b'"mixed"', b'"mixed\\'),  # ... ending on an escape
])
def test_malformed_bodystructure_keeps_the_headers(broken: bytes) -> None:
    f = parse_fetch(response(9, broken))
    assert f.uid == 9 and f.header == HEADER and f.size == 3400
    assert f.parts is None and f.defects == ["bad_bodystructure"]
    assert b"\\Seen" in f.flags


@pytest.mark.parametrize("text", [b'1 (UID 1 X "abc)', b'1 (UID 1 X "a\\")', b'1 (UID 1 X ")'])
def test_an_unterminated_string_is_an_error_not_skipped(text: bytes) -> None:
    with pytest.raises(ResponseError):
        response_tree([text])
    assert response_tree([b'1 (UID 1 X "a\\"b")']) == [b"1", [b"UID", b"1", b"X", b'a"b']]


def test_split_responses_and_pathological_input_is_fast() -> None:
    data = response(1) + response(2) + [b"3 (UID 3 FLAGS (\\Seen))"]
    groups = split_responses(data)
    assert [parse_fetch(g).uid for g in groups] == [1, 2, 3]
    # exponential backtracking would never return here (the suite would hit CI's time limit)
    f = parse_fetch([(b"5 (UID 5 BODYSTRUCTURE (" + b"a" * 20000 + b'" ' + b"(" * 5000
                      + b" BODY[HEADER] {1}", b"x"), b")"])
    assert f.uid == 5 and f.defects == ["bad_bodystructure"]


def test_uid_sets_are_exact_and_compact() -> None:
    assert uid_set([5, 1, 2, 3, 9, 11, 12]) == "1:3,5,9,11:12"
    assert uid_set([7]) == "7"


def test_uid_gaps_are_what_the_store_lacks_below_uidnext() -> None:
    gaps = uid_gaps({2, 3, 7, 40}, 9)  # 40 is above the top: ignored
    assert gaps == [(1, 1), (4, 6), (8, 9)] and ranges_spec(gaps) == "1,4:6,8:9"
    assert uid_gaps(set(), 5) == [(1, 5)] and uid_gaps({1, 2, 3}, 3) == []
    assert uid_gaps(set(), 0) == []  # empty folder (UIDNEXT 1)
    wanted = [u for u in range(0, 12) if in_ranges(u, gaps)]
    assert wanted == [1, 4, 5, 6, 8, 9]
    assert "*" not in ranges_spec(uid_gaps({5}, 10**9))


def test_status_responses() -> None:
    assert parse_status([b'"INBOX" (MESSAGES 12 UIDNEXT 40 UIDVALIDITY 1700000001)']) == \
        (12, 40, 1700000001)
    # a folder name sent as a literal: imaplib gives (head, literal) then the rest of the line
    assert parse_status([(b"{5}", b"A (b)"), b" (UIDVALIDITY 3 MESSAGES 0 UIDNEXT 1)"]) == \
        (0, 1, 3)
    assert parse_status([b'"X" (MESSAGES 1)']) is None and parse_status(None) is None


def test_internaldate() -> None:
    assert parse_internaldate(b"26-Nov-2026 07:18:32 -0230") == dt.datetime(
        2026, 11, 26, 9, 48, 32, tzinfo=dt.UTC)
    assert parse_internaldate(b"garbage") is None and parse_internaldate(None) is None


def test_folders_roles_patterns_and_personal_folders() -> None:
    listing = [
        ((b"\\HasNoChildren",), b".", "INBOX"),
        ((b"\\HasNoChildren", b"\\Sent"), b".", "Éléments envoyés"),
        ((b"\\HasNoChildren", b"\\Trash"), b".", "Poubelle"),  # role from SPECIAL-USE only
        ((b"\\Noselect", b"\\HasChildren"), b".", "Dossiers"),
        ((b"\\HasNoChildren",), b".", "Dossiers.Projets"),
        ((b"\\HasNoChildren",), b".", "INBOX.Archives"),  # Cyrus style
        ((b"\\HasNoChildren",), b".", "Privé.Santé"),
        ((b"\\HasNoChildren",), b".", "Dossiers.Vieux"),
    ]
    folders, skipped = select_folders(listing, exclude=["dossiers/vieux"],
                                      personal=["Personnel", "Privé"])
    got = {f.path: f.role for f in folders}
    assert got == {("INBOX",): "inbox", ("Éléments envoyés",): "sent", ("Poubelle",): "trash",
                   ("Dossiers", "Projets"): "other", ("Archives",): "archive"}
    assert skipped == {"noselect_folders": 1, "personal_folders": 1, "excluded_folders": 1}
    only, _ = select_folders(listing, include=["dossiers"])
    assert [f.path for f in only] == [("Dossiers", "Projets"), ("Dossiers", "Vieux")]
    assert folder_path("INBOX", "/") == ("INBOX",) and folder_path("a/b", None) == ("a/b",)


def test_accounts_file_and_master_logins(tmp_path: Path) -> None:
    p = tmp_path / "a.csv"
    p.write_text("\ufeffMailbox;Login\n".replace(";", ",") + "# comment\n"
                 "jean.dupont@region.test,jean.dupont@region.test*admin\nmarie@region.test,\n")
    accs = read_accounts(p)
    assert [(a.address, a.login) for a in accs] == [
        ("jean.dupont@region.test", "jean.dupont@region.test*admin"),
        ("marie@region.test", "marie@region.test")]
    assert "region" not in repr(accs[0])
    p.write_text("x@region.test\n")
    assert read_accounts(p)[0].login == "x@region.test"
    assert mailbox_of_login("agent@region.test*admin") == "agent@region.test"
    assert mailbox_of_login("agent") is None
    assert Account("a@b.c", "l") == Account("a@b.c", "l")


def test_secrets_come_from_the_environment_never_the_messages(monkeypatch) -> None:
    monkeypatch.setenv("PW_TEST", "s3cret")
    auth = auth_from_options(["u"], password_env="PW_TEST")
    assert auth.password == "s3cret" and "s3cret" not in repr(auth)
    with pytest.raises(ImapError, match="NOPE_UNSET is not set"):
        auth_from_options(["u"], password_env="NOPE_UNSET")
    with pytest.raises(ImapError, match="choose one"):
        auth_from_options(["u"], password_env="PW_TEST", oauth2_token_env="PW_TEST")
    with pytest.raises(ImapError, match="no secret given"):
        auth_from_options(["u"])
    monkeypatch.setenv("TOK_TEST", "tok")
    assert auth_from_options(["u"], oauth2_token_env="TOK_TEST").oauth2_token == "tok"
    a = auth_from_options(["u"], oauth2_token_command="echo abc.def")
    assert a.oauth2_command == "echo abc.def"
    with pytest.raises(LoginRefused, match="exit code"):
        auth_from_options(["u"], oauth2_token_command="false")


def test_login_reasons_never_echo_the_server_text() -> None:
    assert login_reason(Exception("b'[AUTHENTICATIONFAILED] Authentication failed.'")) == \
        "authentication failed (wrong login or password)"
    assert login_reason(Exception("[CONTACTADMIN] jean.dupont@region.test locked")) == \
        "account locked or disabled"
    assert login_reason(Exception("LOGIN failed for jean.dupont@region.test")) == "login refused"


def test_only_a_server_side_login_failure_is_retried() -> None:
    from imapclient.exceptions import LoginError

    from mailstudy.collect.imap import login_is_transient

    # retrying a refused password could lock the account: never, whatever else the text says
    assert not login_is_transient(LoginError(
        "[AUTHENTICATIONFAILED] Authentication failed, please try again"))
    assert not login_is_transient(LoginError("[AUTHENTICATIONFAILED] Account temporarily locked"))
    assert not login_is_transient(LoginError("[CONTACTADMIN] account disabled"))
    # a server stopping or overloaded, or a connection dropped during LOGIN: retried
    assert login_is_transient(LoginError("command: LOGIN => Shutting down"))
    assert login_is_transient(LoginError("[UNAVAILABLE] Temporary authentication failure."))
    try:
        try:
            raise imaplib.IMAP4.abort("socket error: EOF")
        except imaplib.IMAP4.abort:
            raise LoginError("socket error: EOF") from None
    except LoginError as exc:
        assert exc.__context__ is not None and login_is_transient(exc)


def test_plaintext_rules() -> None:
    assert Server("127.0.0.1", plaintext=True).check() == [
        "connecting without TLS to a loopback address"]
    assert Server("localhost").effective_port == 993
    assert Server("localhost", starttls=True).effective_port == 143
    with pytest.raises(ImapError):
        Server("imap.example.org", plaintext=True, starttls=True).check()


def test_keyring_passwords_per_login() -> None:
    import keyring
    from keyring.backend import KeyringBackend

    class MemoryKeyring(KeyringBackend):
        priority = 1  # type: ignore[assignment]

        def __init__(self) -> None:
            super().__init__()
            self.store: dict[tuple[str, str], str] = {}

        def get_password(self, service: str, username: str) -> str | None:
            return self.store.get((service, username))

        def set_password(self, service: str, username: str, password: str) -> None:
            self.store[(service, username)] = password

        def delete_password(self, service: str, username: str) -> None:
            self.store.pop((service, username), None)

    previous = keyring.get_keyring()
    keyring.set_keyring(MemoryKeyring())
    try:
        keyring.set_password("mailstudy-imap/h", "jean", "pw-j")
        with pytest.raises(ImapError, match="no keyring entry for 1 login") as err:
            auth_from_options(["jean", "marie"], service="mailstudy-imap/h", use_keyring=True)
        assert "marie" not in str(err.value)
        keyring.set_password("mailstudy-imap/h", "marie", "pw-m")
        auth = auth_from_options(["jean", "marie"], service="mailstudy-imap/h",
                                 use_keyring=True)
        assert auth.passwords == {"jean": "pw-j", "marie": "pw-m"}
    finally:
        keyring.set_keyring(previous)


def test_a_secret_given_where_a_variable_name_goes_is_never_echoed(tmp_path) -> None:
    from studykit import make_study, run_cli

    study, _ = make_study(tmp_path)
    secret = "Tr0ub4dor&3-horse!"
    for option in ("password_env", "oauth2_token_env"):
        with pytest.raises(ImapError, match="not a name") as e:
            auth_from_options(["u"], **{option: secret})
        assert secret not in str(e.value)
    r = run_cli("collect", "imap", "--host", "127.0.0.1", "--plaintext", "--user",
                f"a@{study.domains[0]}", "--password-env", secret, study=study.root)
    assert r.returncode == 2 and secret not in r.stdout + r.stderr
