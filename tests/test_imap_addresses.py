"""Addresses over IMAP (real Dovecot): one spelling of an address everywhere, as from files."""

from __future__ import annotations

from pathlib import Path

from studykit import make_study, message

from mailstudy.collect.addresses import Identities
from mailstudy.collect.imap import Account, Auth, Server, collect_imap
from mailstudy.store import read_messages


def test_a_unicode_domain_account_is_one_person_over_imap(tmp_path: Path, make_dovecot) -> None:
    """The accounts list writes the owner "luc@région.test"; the mail on the server says
    "luc@xn--rgion-bsa.test" (and the reverse for Marie): over IMAP, as from files, each
    spelling pair names one person, the mailbox owner included."""
    study, _ = make_study(tmp_path, domains=("région.test",))
    srv = make_dovecot({"luc": "l-pw"})
    srv.add_messages("luc", "INBOX", [
        message(message_id="<u1@x>", sender="Marie <marie@région.test>",
                to="Luc <luc@xn--rgion-bsa.test>"),
        message(message_id="<u2@x>", sender="Marie <marie@xn--rgion-bsa.test>",
                to="Luc <luc@région.test>")])
    srv.add_messages("luc", "Sent", [
        message(message_id="<u3@x>", sender="Luc <luc@xn--rgion-bsa.test>",
                to="Marie <marie@région.test>")])
    srv.start()
    s = collect_imap(study, Server(srv.host, srv.imaps_port, ca_file=str(srv.ca_file)),
                     [Account("luc@région.test", "luc")], Auth(password="l-pw"), workers=1)
    assert s.mailboxes[0].error is None, s.mailboxes[0].error
    rows = read_messages(study.messages_dir)
    person = Identities.of_study(study).person  # one spelling of an address everywhere
    luc, marie = person("luc@xn--rgion-bsa.test"), person("marie@région.test")
    assert luc == person("luc@région.test") and marie == person("marie@xn--rgion-bsa.test")
    assert set(rows["mailbox"]) == {luc} and len(rows) == 3
    assert set(rows["sender"]) == {luc, marie}
    assert (rows["n_internal"] >= 1).all() and (rows["n_external"] == 0).all()
