"""Fixtures: the server tests' databases, and a real HTTP receiver that records pings."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.server.conftest import (  # noqa: F401
    database_url,
    db,
    migrated_postgres_url,
    sqlite_url,
)


@dataclass(frozen=True)
class Received:
    """One request the receiver got."""

    method: str
    path: str
    query: dict[str, list[str]]
    body: str
    user_agent: str


@dataclass
class Receiver:
    """A ping receiver on 127.0.0.1; paths under ``/refuse/`` get a 404."""

    url: str
    requests: list[Received] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A running ``Receiver``; ``receiver.url`` has no trailing slash."""
    requests: list[Received] = []

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode("utf-8", "replace")
            parts = urlsplit(self.path)
            requests.append(
                Received(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query),
                    body=body,
                    user_agent=self.headers.get("User-Agent", ""),
                )
            )
            status = 404 if parts.path.startswith("/refuse/") else 200
            payload = b"OK" if status == 200 else b"not found"
            self.send_response(status)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_HEAD = _answer

        def log_message(self, format: str, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield Receiver(url=f"http://127.0.0.1:{server.server_address[1]}", requests=requests)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
