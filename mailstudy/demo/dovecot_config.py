"""What a test Dovecot needs before it starts: its binaries, whether it can run here, the error
it raises, and the text of its configuration file (see :mod:`mailstudy.demo.dovecot`)."""

from __future__ import annotations

import os
import pwd
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from mailstudy.errors import MailstudyError

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"
DH_FILE = Path("/usr/share/dovecot/dh.pem")
MASTER_SEPARATOR = "*"

#: SPECIAL-USE attributes announced for these folder names (Dovecot ``mailbox`` blocks).
DEFAULT_SPECIAL_USE = {
    "Sent": r"\Sent",
    "Drafts": r"\Drafts",
    "Trash": r"\Trash",
    "Junk": r"\Junk",
    "Archive": r"\Archive",
}


class DovecotError(MailstudyError):
    """The test server could not be set up or did not start."""


def available() -> str | None:
    """None when a test Dovecot can run here, else the reason it cannot."""
    if not Path(DOVECOT).exists():
        return "dovecot is not installed (Debian package dovecot-imapd)"
    if not Path(OPENSSL).exists():
        return "openssl is not installed"
    if os.geteuid() == 0:
        for name in ("dovecot", "dovenull", "mail"):
            try:
                pwd.getpwnam(name)
            except KeyError:
                return f"running as root needs the system user {name!r}"
    return None


@dataclass(frozen=True)
class ServerLayout:
    """Where one test server lives, listens, and which system users it runs as."""
    root: Path
    log_file: Path
    host: str
    imap_port: int
    imaps_port: int
    internal_user: str
    login_user: str
    uid: int
    gid: int
    cert_file: Path
    key_file: Path


def oauth2_passdb_args(introspection_url: str) -> str:
    """Dovecot's ``oauth2`` passdb settings: every bearer token is checked at ``url``."""
    return (f"introspection_mode = post\nintrospection_url = {introspection_url}\n"
            "force_introspection = yes\nusername_attribute = username\n"
            "active_attribute = active\nactive_value = true\n")


def render_config(layout: ServerLayout, special_use: Mapping[str, str], *, master: bool,
                  oauth2: bool) -> str:
    """The whole ``dovecot.conf``: settings, the inbox namespace, passdbs, services.

    With ``master``, a master-user passwd-file (``ROOT/master-users``) comes first; with
    ``oauth2``, an ``oauth2`` passdb reads ``ROOT/oauth2.conf.ext`` (:func:`oauth2_passdb_args`).
    """
    r = layout.root
    mailboxes = "\n".join(
        f'  mailbox "{name}" {{\n    special_use = {attr}\n    auto = no\n  }}'
        for name, attr in special_use.items())
    master_db = (f"passdb {{\n  driver = passwd-file\n  master = yes\n"
                 f"  args = {r}/master-users\n  result_success = continue\n}}\n"
                 if master else "")
    mechanisms = "plain login xoauth2 oauthbearer" if oauth2 else "plain login"
    oauth2_db = (f"passdb {{\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n"
                 f"  args = {r}/oauth2.conf.ext\n}}\n" if oauth2 else "")
    return f"""\
instance_name = mailstudy-test-{r.name}
base_dir = {r}/run
state_dir = {r}/state
log_path = {layout.log_file}
info_log_path = {layout.log_file}
listen = {layout.host}
protocols = imap
default_internal_user = {layout.internal_user}
default_login_user = {layout.login_user}
first_valid_uid = {min(layout.uid, 500)}
first_valid_gid = {min(layout.gid, 500)}
mail_location = maildir:~/Maildir
mail_fsync = never
mail_uid = {layout.uid}
mail_gid = {layout.gid}
ssl = yes
ssl_cert = <{layout.cert_file}
ssl_key = <{layout.key_file}
ssl_dh = <{DH_FILE}
disable_plaintext_auth = no
auth_mechanisms = {mechanisms}
auth_master_user_separator = {MASTER_SEPARATOR}
auth_failure_delay = 0
mail_max_userip_connections = 100
imap_max_line_length = 64k
namespace inbox {{
  inbox = yes
  separator = /
{mailboxes}
}}
{master_db}{oauth2_db}passdb {{
  driver = passwd-file
  args = {r}/users
}}
userdb {{
  driver = passwd-file
  args = {r}/users
}}
""" + _services(layout)


def _services(layout: ServerLayout) -> str:
    """The ``service`` blocks: IMAP listeners on loopback, no login penalty, open stats."""
    return f"""\
service imap-login {{
  chroot =
  inet_listener imap {{
    address = {layout.host}
    port = {layout.imap_port}
  }}
  inet_listener imaps {{
    address = {layout.host}
    port = {layout.imaps_port}
    ssl = yes
  }}
  process_min_avail = 0
}}
service anvil {{
  chroot =
  # no brute-force penalty: tests fail logins on purpose, one after another
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service stats {{
  unix_listener stats-reader {{
    user = {layout.internal_user}
    mode = 0666
  }}
  unix_listener stats-writer {{
    user = {layout.internal_user}
    mode = 0666
  }}
}}
"""
