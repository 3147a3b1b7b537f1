"""The one-shot loopback server the browser is redirected to (RFC 8252 §7.3).

It listens on 127.0.0.1 on a port the OS picks, answers ``GET /callback`` once with a page
telling the user to go back to the terminal, and hands the query to the caller. Reads are
bounded (one request line and headers, per-connection timeout); nothing else is served.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from sceau.client.oidc.errors import LoginTimeout

CALLBACK_PATH = "/callback"
_PAGE = (
    b"<!doctype html><meta charset=utf-8><title>sceau</title>"
    b"<p>%s You can close this window and go back to the terminal.</p>"
)


class _Handler(BaseHTTPRequestHandler):
    timeout = 10  # seconds a connection may take to send its request
    server: CallbackServer

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query, max_num_fields=16).items()}
        if parts.path != CALLBACK_PATH or not self.server.take(query):
            self.send_error(404)
            return
        ok = "error" not in query
        body = _PAGE % (b"Login complete." if ok else b"Login failed.")
        try:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
        finally:
            # Only now may the login go on: the caller may exit at once (a refused state,
            # say), and the browser must still get its whole page first.
            self.server.publish(query)

    def log_message(self, format: str, *args: object) -> None:
        """Silent: the query holds the authorization code."""


class CallbackServer(ThreadingHTTPServer):
    """Serve until one callback arrives; ``redirect_uri`` is what the provider is told.

    Each connection gets a thread, so a browser's idle speculative connection cannot hold
    up the real redirect; each thread lives at most ``_Handler.timeout`` seconds."""

    daemon_threads = True
    block_on_close = False

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.result: dict[str, str] | None = None
        self._claimed = False
        self._lock = threading.Lock()

    def take(self, query: dict[str, str]) -> bool:
        """Claim the login for the first callback; later ones are refused."""
        with self._lock:
            if self._claimed:
                return False
            self._claimed = True
            return True

    def publish(self, query: dict[str, str]) -> None:
        """Hand the first callback's query to :meth:`wait`, once its page is sent."""
        self.result = query

    @property
    def redirect_uri(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{CALLBACK_PATH}"

    def wait(self, timeout: float) -> dict[str, str]:
        """The callback's query parameters, or :class:`LoginTimeout` after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while self.result is None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise LoginTimeout(f"no login came back to {self.redirect_uri} in {timeout:.0f} s")
            self.timeout = min(left, 1.0)
            self.handle_request()
        return self.result
