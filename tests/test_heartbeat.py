"""The heartbeat client: ping, aping and monitored against a real local HTTP server."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import free_port
from tests.workers.receiver import PingReceiver, ping_receiver
from tocsin.heartbeat import aping, monitored, ping, ping_url


@pytest.fixture
def receiver() -> Iterator[PingReceiver]:
    with ping_receiver() as running:
        yield running


def test_ping_kinds_and_body(receiver: PingReceiver) -> None:
    url = receiver.url("abc")
    assert ping(url) is True
    assert ping(url, "start", run_id="r1") is True
    assert ping(url, 3, body="exit three") is True
    got = [(r.method, r.path, r.body) for r in receiver.requests]
    assert got == [
        ("GET", "/ping/abc", ""),
        ("GET", "/ping/abc/start?rid=r1", ""),
        ("POST", "/ping/abc/3", "exit three"),
    ]
    assert ping_url(url, "fail") == f"{url}/fail"


def test_ping_never_raises(receiver: PingReceiver, caplog: pytest.LogCaptureFixture) -> None:
    dead = f"http://127.0.0.1:{free_port()}/ping/x"
    start = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="tocsin.heartbeat"):
        assert ping(dead, retries=1, retry_delay=0.05, timeout=0.5) is False
    assert time.monotonic() - start < 2
    assert "heartbeat failed after 2 attempts" in caplog.text
    receiver.status = 404
    assert ping(receiver.url(), retries=3) is False
    assert len(receiver.requests) == 1  # a 4xx is not retried
    assert ping("ftp://example.com/x") is False
    assert ping(receiver.url(), 999) is False


async def test_aping(receiver: PingReceiver) -> None:
    assert await aping(receiver.url("async"), "log", body="hello") is True
    assert receiver.requests[0].path == "/ping/async/log"
    assert await aping(f"http://127.0.0.1:{free_port()}/p", retries=0, timeout=0.5) is False


def _run_ids(receiver: PingReceiver) -> list[str]:
    return [parse_qs(urlsplit(r.path).query)["rid"][0] for r in receiver.requests]


def test_monitored_decorator_success_and_failure(receiver: PingReceiver) -> None:
    @monitored(receiver.url("job"))
    def job(fail: bool) -> str:
        time.sleep(0.05)
        if fail:
            raise ValueError("disk full")
        return "done"

    assert job(False) == "done"
    with pytest.raises(ValueError, match="disk full"):
        job(True)
    paths = [urlsplit(r.path).path for r in receiver.requests]
    assert paths == ["/ping/job/start", "/ping/job", "/ping/job/start", "/ping/job/fail"]
    assert receiver.requests[1].body.startswith("duration=0.0")
    assert "error=ValueError: disk full" in receiver.requests[3].body
    ids = _run_ids(receiver)
    assert ids[0] == ids[1] != ids[2] == ids[3]


def test_monitored_context_manager(receiver: PingReceiver) -> None:
    with monitored(receiver.url("cron")):
        pass
    with pytest.raises(KeyError), monitored(receiver.url("cron"), start=False):
        raise KeyError("missing")
    paths = [urlsplit(r.path).path for r in receiver.requests]
    assert paths == ["/ping/cron/start", "/ping/cron", "/ping/cron/fail"]


async def test_monitored_async_function(receiver: PingReceiver) -> None:
    @monitored(receiver.url("a"))
    async def work() -> int:
        return 42

    assert await work() == 42
    assert [urlsplit(r.path).path for r in receiver.requests] == ["/ping/a/start", "/ping/a"]


def test_monitored_survives_a_dead_server() -> None:
    @monitored(f"http://127.0.0.1:{free_port()}/ping/x", timeout=0.2, retries=0)
    def job() -> str:
        return "ran anyway"

    assert job() == "ran anyway"


def test_ping_survives_a_server_speaking_garbage() -> None:
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]

    def serve() -> None:
        for _ in range(2):
            conn, _ = listener.accept()
            conn.recv(4096)
            conn.sendall(b"NOT HTTP AT ALL\r\n\r\n")
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        assert ping(f"http://127.0.0.1:{port}/ping/x", retries=1, retry_delay=0.01) is False
    finally:
        thread.join(5)
        listener.close()
