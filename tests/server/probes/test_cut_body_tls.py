"""A body cut at the limit ends its connection at once, over TLS without a goodbye: a
goodbye (close_notify) would leave the socket open until the target answers it or
asyncio's 30 s shutdown timeout passes, and on uvloop (the server's loop) the probe
would go on reading and decrypting all that time whatever the target still sends. So
does an exchange that times out mid-body. A whole answer with ``Connection: close``
still gets its polite goodbye.

Each test runs on asyncio's loop and on uvloop: they differ here. asyncio (with
OpenSSL 3) cuts a connection itself once a record comes after its goodbye, uvloop reads
on; both wait for a target that sends nothing more."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import ssl
import threading
from collections.abc import Callable, Coroutine, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import trustme
import uvloop

from tocsin.server.domain.observations import FailureKind
from tocsin.server.probes import HttpTarget, ProbeClient, run_http_probe

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
LIMIT = 1000
ENDED_WITHIN = 1.0  # seconds after the probe returned (the goodbye's timeout is 30)
ENDLESS_HEAD = b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000000\r\n\r\n"
# Past the limit in one TLS record, then nothing more: the body never ends.
STALLED_ANSWER = ENDLESS_HEAD + b"x" * (2 * LIMIT)
CLOSING_ANSWER = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"

Runner = Callable[[Coroutine[Any, Any, None]], None]
LOOPS: dict[str, Runner] = {"asyncio": asyncio.run, "uvloop": uvloop.run}


@pytest.fixture(params=list(LOOPS))
def run(request: pytest.FixtureRequest) -> Runner:
    """Runs a test's coroutine on a new event loop: asyncio's, then uvloop's."""
    return LOOPS[request.param]


def _server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    return context


def _read_request(conn: socket.socket) -> bool:
    received = b""
    while b"\r\n\r\n" not in received:
        data = conn.recv(4096)
        if not data:
            return False
        received += data
    return True


class StreamingPeer:
    """A server (a thread with blocking sockets), over TLS or not, that reads one request
    and answers 200 with a body that never ends, sent as fast as the client reads; it
    never reads again, so a TLS goodbye from the client goes unanswered. ``ended`` is
    set when a send fails: the client's TCP connection is gone."""

    def __init__(self, ca: trustme.CA, *, tls: bool) -> None:
        self.context = _server_context(ca) if tls else None
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.ended = threading.Event()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            raw, _ = self.listener.accept()
        except OSError:  # stopped before the client came
            return
        raw.settimeout(5)
        try:
            conn = self.context.wrap_socket(raw, server_side=True) if self.context else raw
            with conn:
                if not _read_request(conn):
                    return
                conn.sendall(ENDLESS_HEAD)
                conn.settimeout(0.2)  # to notice ``stopping`` when the client reads no more
                chunk = b"x" * 65536
                while not self.stopping.is_set():
                    with contextlib.suppress(TimeoutError):
                        conn.sendall(chunk)  # the same bytes again after a timeout
        except OSError:  # ssl.SSLError included: a broken pipe, a reset
            if not self.stopping.is_set():
                self.ended.set()
        finally:
            raw.close()

    def stop(self) -> None:
        self.stopping.set()
        self.listener.close()
        self.thread.join(5)


class QuietTlsPeer:
    """A TLS server (a thread with blocking sockets) that reads one request, sends
    ``answer`` and then nothing more, never answering a goodbye: ``goodbye`` is set if
    the client's goodbye (close_notify) arrives, ``ended`` once its TCP connection ends
    (with or without a goodbye)."""

    def __init__(self, ca: trustme.CA, answer: bytes) -> None:
        self.context = _server_context(ca)
        self.answer = answer
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.goodbye = threading.Event()
        self.ended = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            raw, _ = self.listener.accept()
        except OSError:
            return
        with contextlib.suppress(OSError), raw:
            raw.settimeout(5)
            conn = self.context.wrap_socket(raw, server_side=True, suppress_ragged_eofs=False)
            with conn:
                if not _read_request(conn):
                    return
                conn.sendall(self.answer)
                conn.settimeout(None)
                try:
                    while conn.recv(4096):  # b"" once the client's goodbye arrives
                        pass
                except OSError:  # an end without a goodbye: ssl.SSLEOFError, a reset
                    self.ended.set()
                    return
                self.goodbye.set()
                with contextlib.suppress(OSError):
                    while os.read(conn.fileno(), 4096):  # the bare TCP stream, to its end
                        pass
                self.ended.set()

    def stop(self) -> None:
        self.listener.close()
        self.thread.join(2)  # a client that lingers ends when its loop does


@contextlib.contextmanager
def streaming_peer(ca: trustme.CA, *, tls: bool) -> Iterator[StreamingPeer]:
    peer = StreamingPeer(ca, tls=tls)
    try:
        yield peer
    finally:
        peer.stop()


@contextlib.contextmanager
def quiet_tls_peer(ca: trustme.CA, answer: bytes) -> Iterator[QuietTlsPeer]:
    peer = QuietTlsPeer(ca, answer)
    try:
        yield peer
    finally:
        peer.stop()


def _client(ca: trustme.CA) -> ProbeClient:
    """A probe client that trusts the test CA for verified TLS."""
    return ProbeClient(ssl_context=ssl.create_default_context(cadata=ca.cert_pem.bytes().decode()))


async def _within(event: threading.Event, seconds: float = ENDED_WITHIN) -> bool:
    """Whether ``event`` is set within ``seconds`` (the loop runs on meanwhile)."""
    return await asyncio.to_thread(event.wait, seconds)


@pytest.mark.parametrize(
    ("scheme", "verify"),
    [("https", True), ("https", False), ("http", True)],
    ids=["tls-verified", "tls-unverified", "plain"],
)
def test_an_endless_body_cut_at_the_limit_ends_its_connection_at_once(
    run: Runner, ca: trustme.CA, scheme: str, verify: bool
) -> None:
    async def scenario() -> None:
        with streaming_peer(ca, tls=scheme == "https") as peer:
            async with _client(ca) as client:
                target = HttpTarget(
                    f"{scheme}://127.0.0.1:{peer.port}/", verify_tls=verify, body_limit=LIMIT
                )
                observation = await run_http_probe(client, target, now=NOW)
                assert (observation.failure, observation.status) == (None, 200)
                assert observation.body == b"x" * LIMIT
                assert observation.body_truncated
                assert await _within(peer.ended)

    run(scenario())


def test_a_body_cut_at_the_limit_ends_at_once_though_the_target_then_goes_quiet(
    run: Runner, ca: trustme.CA
) -> None:
    async def scenario() -> None:
        with quiet_tls_peer(ca, STALLED_ANSWER) as peer:
            async with _client(ca) as client:
                target = HttpTarget(f"https://127.0.0.1:{peer.port}/", body_limit=LIMIT)
                observation = await run_http_probe(client, target, now=NOW)
                assert (observation.body, observation.body_truncated) == (b"x" * LIMIT, True)
                assert await _within(peer.ended)
                assert not peer.goodbye.is_set()

    run(scenario())


def test_a_whole_answer_with_connection_close_still_says_goodbye_over_tls(
    run: Runner, ca: trustme.CA
) -> None:
    async def scenario() -> None:
        with quiet_tls_peer(ca, CLOSING_ANSWER) as peer:
            async with _client(ca) as client:
                target = HttpTarget(f"https://127.0.0.1:{peer.port}/")
                observation = await run_http_probe(client, target, now=NOW)
                assert (observation.failure, observation.body) == (None, b"ok")
                assert await _within(peer.goodbye)

    run(scenario())


def test_a_probe_that_times_out_mid_body_ends_its_connection_at_once(
    run: Runner, ca: trustme.CA
) -> None:
    async def scenario() -> None:
        with quiet_tls_peer(ca, STALLED_ANSWER) as peer:
            async with _client(ca) as client:
                target = HttpTarget(
                    f"https://127.0.0.1:{peer.port}/", timeout=timedelta(milliseconds=300)
                )
                observation = await run_http_probe(client, target, now=NOW)
                assert observation.failure is FailureKind.TIMEOUT
                assert await _within(peer.ended)
                assert not peer.goodbye.is_set()

    run(scenario())
