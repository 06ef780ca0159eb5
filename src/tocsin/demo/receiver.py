"""The demo's webhook receiver: a small HTTP server in the demo process that prints the
summary of each alert the server posts to it."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    """Listens on 127.0.0.1 (any free port) and hands each alert's summary to ``show``."""

    def __init__(self, show: Callable[[str], None]) -> None:
        self._show = show
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="demo-receiver", daemon=True
        )

    @property
    def url(self) -> str:
        """The URL the webhook channel posts to."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/alerts"

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving (if it was started) and close the socket."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(5)
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        show = self._show

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(204)
                self.end_headers()
                try:
                    summary = str(json.loads(body)["summary"])
                except (ValueError, KeyError, TypeError):
                    summary = f"(an alert that is not tocsin's JSON: {body[:200]!r})"
                show(summary)

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: the alerts themselves are the output."""

        return Handler
