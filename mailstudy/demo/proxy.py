"""A loopback TCP proxy that alters what a real server sends, to inject faults."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable


class RewritingProxy:
    """A loopback TCP proxy that can rewrite what the server sends, line by line.

    Used (on the plain-text port) to inject what real servers sometimes send and Dovecot never
    does, such as a malformed BODYSTRUCTURE: the server stays real, only bytes are altered.
    ``rewrite(line)`` gets each server line (CRLF included) and returns its replacement.
    """

    def __init__(self, target: tuple[str, int],
                 rewrite: Callable[[bytes], bytes] | None = None) -> None:
        self.target = target
        self.rewrite = rewrite or (lambda line: line)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            threading.Thread(target=self._pump, args=(client, upstream, False),
                             daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, True),
                             daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, rewrite: bool) -> None:
        buf = b""
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if not rewrite:
                    dst.sendall(data)
                    continue
                buf += data
                *lines, buf = buf.split(b"\r\n")
                if lines:
                    dst.sendall(b"".join(self.rewrite(line + b"\r\n") for line in lines))
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self._stop = True
        self.sock.close()
