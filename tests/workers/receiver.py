"""A real local HTTP server that records the pings it receives."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from tests.conftest import free_port


@dataclass(frozen=True)
class Received:
    """One request: method, path with query, body, arrival time (monotonic and wall)."""

    method: str
    path: str
    body: str
    at: float
    wall: float


@dataclass
class PingReceiver:
    """Records requests; answers with ``status`` (200 by default)."""

    base_url: str
    requests: list[Received] = field(default_factory=list)
    status: int = 200

    def url(self, name: str = "check") -> str:
        """A ping URL on this receiver."""
        return f"{self.base_url}/ping/{name}"


@contextmanager
def ping_receiver() -> Iterator[PingReceiver]:
    """Serve a :class:`PingReceiver` on 127.0.0.1 until the block ends."""
    port = free_port()
    receiver = PingReceiver(f"http://127.0.0.1:{port}")

    class Handler(http.server.BaseHTTPRequestHandler):
        def _record(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            receiver.requests.append(
                Received(self.command, self.path, body, time.monotonic(), time.time())
            )
            self.send_response(receiver.status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"OK")

        do_GET = _record
        do_POST = _record

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
