"""Idle and slowloris connections are closed, and pings are answered while they are open.

Before, a connection that sent nothing, or its headers a byte at a time, was kept for
ever: ~20,000 of them used up the file descriptors and normal pings failed.
"""

from __future__ import annotations

import contextlib
import resource
import selectors
import socket
import time
from pathlib import Path

import httpx
import pytest

from tests.server_process import start_server
from tocsin.errors import ConfigError
from tocsin.server.web.serving import connection_limit
from tocsin.settings import Settings

IDLE = 1000
SLOWLORIS = 1000
KEPT_ALIVE = 50
HEADER_TIMEOUT = 2


def _allow_open_files(count: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < count:
        if hard != resource.RLIM_INFINITY and hard < count:
            pytest.skip(f"the test needs {count} open files; the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (count, hard))


def _connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def _ping_once(sock: socket.socket, url: str) -> None:
    path = url.split("//", 1)[1].split("/", 1)[1]
    sock.sendall(f"GET /{path} HTTP/1.1\r\nHost: tocsin\r\n\r\n".encode())
    answer = b""
    while not answer.endswith(b"OK"):
        chunk = sock.recv(4096)
        assert chunk, "closed before answering"
        answer += chunk
    assert answer.startswith(b"HTTP/1.1 200 ")


def _trickle(sockets: list[socket.socket], seconds: float) -> None:
    """Send one more header byte on each socket every half second (slowloris)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for sock in sockets:
            with contextlib.suppress(OSError):  # closed by the server already
                sock.send(b"X")
        time.sleep(0.5)


def _still_open(sockets: list[socket.socket], wait: float) -> list[socket.socket]:
    """The sockets the server has not closed after waiting up to ``wait`` seconds."""
    open_ = set(sockets)
    with selectors.DefaultSelector() as selector:
        for sock in sockets:
            selector.register(sock, selectors.EVENT_READ)
        deadline = time.monotonic() + wait
        while open_ and time.monotonic() < deadline:
            for key, _ in selector.select(timeout=0.1):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                try:
                    closed = sock.recv(4096) == b""
                except OSError:
                    closed = True
                if closed:
                    selector.unregister(sock)
                    open_.discard(sock)
    return [sock for sock in sockets if sock in open_]


@pytest.mark.slow
def test_idle_and_slowloris_connections_are_closed_while_pings_are_answered(
    tmp_path: Path,
) -> None:
    _allow_open_files(2 * (IDLE + SLOWLORIS) + 200)
    with start_server(
        tmp_path,
        TOCSIN_HTTP_HEADER_TIMEOUT_SECONDS=str(HEADER_TIMEOUT),
        TOCSIN_HTTP_IDLE_TIMEOUT_SECONDS="1",
    ) as server:
        url = server.create_heartbeat_monitor("job", 60, 60)
        idle = [_connect(server.port) for _ in range(IDLE)]
        slowloris = [_connect(server.port) for _ in range(SLOWLORIS)]
        # Connections that got one answer, then idle or send the next request slowly.
        answered = [_connect(server.port) for _ in range(KEPT_ALIVE)]
        try:
            for sock in answered:
                _ping_once(sock, url)
            slow_second = answered[: KEPT_ALIVE // 2]
            idle += answered[KEPT_ALIVE // 2 :]
            slowloris += slow_second
            for sock in slowloris:
                sock.sendall(b"GET /ping/")
            # Each ping on a connection of its own, while all of those are open.
            for _ in range(20):
                with httpx.Client(timeout=5) as http:
                    assert http.get(url).text == "OK"
            _trickle(slowloris, HEADER_TIMEOUT + 1.5)
            left = _still_open(idle + slowloris, wait=5)
            assert left == [], (
                f"{len([s for s in left if s in idle])} idle and "
                f"{len([s for s in left if s in slowloris])} slowloris connections still open"
            )
            with httpx.Client(timeout=5) as http:
                assert http.get(url).text == "OK"
        finally:
            for sock in idle + slowloris:
                sock.close()


def test_the_connection_limit_stays_within_half_the_open_file_limit() -> None:
    assert connection_limit(10_000, 1_048_576) == 10_000
    assert connection_limit(10_000, 4_096) == 2_048
    assert connection_limit(10_000, None) == 10_000


@pytest.mark.slow
def test_requests_past_the_connection_limit_are_answered_503(tmp_path: Path) -> None:
    with start_server(
        tmp_path, TOCSIN_HTTP_MAX_CONNECTIONS="20", TOCSIN_HTTP_HEADER_TIMEOUT_SECONDS="1"
    ) as server:
        url = server.create_heartbeat_monitor("job", 60, 60)
        idle = [_connect(server.port) for _ in range(25)]
        try:
            answer = httpx.get(url, timeout=5)
            assert answer.status_code == 503
            assert _still_open(idle, wait=5) == []
            assert httpx.get(url, timeout=5).text == "OK"
        finally:
            for sock in idle:
                sock.close()


def test_http_settings_are_read_and_bad_ones_all_listed(tmp_path: Path) -> None:
    base = {"TOCSIN_DATA_DIR": str(tmp_path)}
    settings = Settings.from_env(
        {
            **base,
            "TOCSIN_HTTP_HEADER_TIMEOUT_SECONDS": "2.5",
            "TOCSIN_HTTP_IDLE_TIMEOUT_SECONDS": "3",
            "TOCSIN_HTTP_MAX_CONNECTIONS": "500",
        }
    )
    assert settings.http_header_timeout_seconds == 2.5
    assert settings.http_idle_timeout_seconds == 3
    assert settings.http_max_connections == 500
    with pytest.raises(ConfigError) as error:
        Settings.from_env(
            {
                **base,
                "TOCSIN_HTTP_HEADER_TIMEOUT_SECONDS": "0",
                "TOCSIN_HTTP_IDLE_TIMEOUT_SECONDS": "0",
                "TOCSIN_HTTP_MAX_CONNECTIONS": "many",
            }
        )
    assert [problem.split("=")[0] for problem in error.value.problems] == [
        "TOCSIN_HTTP_HEADER_TIMEOUT_SECONDS",
        "TOCSIN_HTTP_IDLE_TIMEOUT_SECONDS",
        "TOCSIN_HTTP_MAX_CONNECTIONS",
    ]
