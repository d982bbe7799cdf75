"""Where and how to connect (TLS verified by default, plain text to loopback only), and
sessions: connect, log in with retryable and final failures told apart, close quietly."""

from __future__ import annotations

import contextlib
import imaplib
import ipaddress
import re
import socket
import ssl
from dataclasses import dataclass

from imapclient import IMAPClient, SocketTimeout
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError, LoginError

from mailstudy.collect.imap.auth import Auth
from mailstudy.collect.imap.errors import (
    ImapError,
    LoginRefused,
    TransientError,
    kind_of,
    login_is_transient,
    login_reason,
)


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
            raise ImapError("cannot read the CA file given as ca_file") from None

    def check(self) -> list[str]:
        """Refuse insecure settings; return warnings to print loudly."""
        warnings: list[str] = []
        if self.plaintext and self.starttls:
            raise ImapError("plaintext and starttls exclude each other")
        if self.plaintext:
            if is_loopback(self.host):
                warnings.append("connecting without TLS to a loopback address")
            elif self.allow_plaintext:
                warnings.append("PASSWORDS AND MAIL METADATA WILL CROSS THE NETWORK UNENCRYPTED "
                                "(allow_plaintext): use only on an isolated test network")
            else:
                raise ImapError("plain-text IMAP is only allowed to a loopback address; set "
                                "allow_plaintext to force it (strongly discouraged)")
        elif self.allow_plaintext:
            warnings.append("allow_plaintext has no effect without plaintext")
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
                            "give its ca_file)") from None
        except ssl.SSLError as exc:
            raise TransientError("TLS failure ({reason})",
                                 reason=exc.reason or "handshake") from None
        except TimeoutError:
            raise TransientError("connection timed out") from None
        except OSError as exc:
            raise TransientError("cannot connect ({reason})",
                                 reason=exc.strerror or type(exc).__name__) from None
        except imaplib.IMAP4.abort:  # e.g. a greeting of a server shutting down
            raise TransientError("the server closed the connection while greeting") from None
        except IMAPClientError as exc:  # e.g. STARTTLS not offered
            if _BYE_GREETING.match(str(exc)):  # the greeting of a server that is stopping
                raise TransientError("the server closed the connection while greeting") \
                    from None
            raise ImapError("the server refused the secure connection ({kind})",
                            kind=kind_of(exc)) from None
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

def open_session(server: Server, auth: Auth, login: str) -> IMAPClient:
    client = server.connect()
    try:
        auth.login(client, login)
    except LoginError as exc:
        close_quietly(client)
        msgid = login_reason(exc)  # one of LOGIN_REASONS, each with its French text
        if login_is_transient(exc):
            raise TransientError(msgid) from None  # retried with backoff
        raise LoginRefused(msgid) from None
    except (IMAPClientAbortError, imaplib.IMAP4.abort, OSError):
        close_quietly(client)
        raise TransientError("connection lost during login") from None
    except ImapError:
        close_quietly(client)
        raise
    return client


def close_quietly(client: IMAPClient | None) -> None:
    if client is None:
        return
    with contextlib.suppress(Exception):
        client._imap.sock.settimeout(2)  # noqa: SLF001
    with contextlib.suppress(Exception):
        client.logout()
    with contextlib.suppress(Exception):
        client.shutdown()

