"""A loopback OAuth2 token introspection endpoint, standing in for the identity provider."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


class TokenIntrospection:
    """An OAuth2 token introspection endpoint (RFC 7662) on 127.0.0.1, for Dovecot's
    ``oauth2`` passdb: a granted token is active for its user, anything else is not. It counts
    the look-ups, so a test can tell how often a client presented a token."""

    def __init__(self) -> None:
        self.tokens: dict[str, str] = {}
        self.lookups = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                size = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(size).decode("ascii", "replace"))
                token = (form.get("token") or [""])[0]
                owner.lookups += 1
                user = owner.tokens.get(token)
                body = json.dumps({"active": True, "username": user} if user
                                  else {"active": False}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:  # tokens stay out of stderr
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/introspect"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

