"""One Maildir++ folder the server refuses to open is counted and skipped; the rest of the
mailbox is collected (real Dovecot, a folder it cannot read)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from studykit import make_study, message

from mailstudy.collect.imap import Account, Auth, Server, collect_imap
from mailstudy.store import read_messages


@pytest.mark.parametrize("n_broken", [1, 40])  # a small folder (pipelined) and a SEARCHed one
def test_a_refused_folder_is_counted_and_the_mailbox_collected(tmp_path: Path, make_dovecot,
                                                               n_broken: int) -> None:
    study, _ = make_study(tmp_path)
    srv = make_dovecot({"eve": "e-pw"})
    srv.add_messages("eve", "INBOX", [message(message_id=f"<i{i}@x>") for i in range(3)])
    srv.add_messages("eve", "Archives", [message(message_id=f"<a{i}@x>") for i in range(2)])
    srv.add_messages("eve", "Casse", [message(message_id=f"<c{i}@x>")
                                      for i in range(n_broken)])
    broken = srv.maildir("eve", "Casse")
    srv.start()
    os.chmod(broken, 0)  # the server lists it but cannot open it
    try:
        s = collect_imap(study, Server(srv.host, srv.imaps_port, ca_file=str(srv.ca_file)),
                         [Account("eve.blanc@region.test", "eve")], Auth(password="e-pw"),
                         workers=1, batch_size=20)
    finally:
        os.chmod(broken, 0o700)
    m = s.mailboxes[0]
    assert m.error is None, m.error
    assert m.skipped["refused_folders"] == 1
    assert len(read_messages(study.messages_dir)) == 5

