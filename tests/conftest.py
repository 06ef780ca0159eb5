"""Fixtures shared by every test: real services, isolated per test run.

- ``postgres_url``: a fresh PostgreSQL database for this test session, dropped at the end.
- ``redis_url``: a Redis database number claimed for one test (several test runs can share
  the machine's Redis), flushed before and after.
- ``free_port()``: a TCP port on 127.0.0.1 nobody listens on, below the ephemeral range
  and in a slice of its own per xdist worker.
- ``venv_bin(name)``: a console script (``rq``, ``celery``, ``gunicorn``) of the virtualenv
  running the tests, found from ``sys.executable`` wherever that virtualenv lives.
"""

from __future__ import annotations

import os
import secrets
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

POSTGRES_ADMIN_DSN = os.environ.get(
    "TOCSIN_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_HOST = "127.0.0.1"
REDIS_PORT = 6379
# Redis DB 0 holds only the claim keys; tests get 1..15.
REDIS_TEST_DBS = range(1, 16)
REDIS_CLAIM_SECONDS = 600


# Ports handed out lie below the kernel's ephemeral range: outgoing connections take their
# local port from that range, so one of them could take a port handed out here before the
# test binds it (a full run once failed so: a server's port was an HTTP client's local
# port by then). Each xdist worker draws from a slice of its own, so two workers never
# hand out the same port, and a process does not hand out a port twice in a row.
_PORTS_FROM = 10_000
_HANDED_OUT: list[int] = []
_REMEMBERED = 1000


def _ephemeral_start() -> int:
    try:
        text = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text()
        return int(text.split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def _port_slice() -> range:
    """This process's ports: its xdist worker's share of those below the ephemeral range."""
    end = _ephemeral_start()
    if end - _PORTS_FROM < 1000:
        return range(0)  # an unusual range: let the kernel choose
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    index = int(worker[2:]) if worker[2:].isdigit() else 0
    count = max(int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")), index + 1)
    span = (end - _PORTS_FROM) // count
    start = _PORTS_FROM + index * span
    return range(start, start + span)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now and that no outgoing connection
    will take (see ``_PORTS_FROM``)."""
    ports = _port_slice()
    for _ in range(200 if ports else 0):
        port = secrets.choice(ports)
        if port in _HANDED_OUT:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _HANDED_OUT.append(port)
        del _HANDED_OUT[:-_REMEMBERED]
        return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def venv_bin(name: str) -> str:
    """The path of console script ``name`` installed beside the Python running the tests."""
    return str(Path(sys.executable).parent / name)


def wait_for_port(port: int, timeout: float = 20.0, host: str = "127.0.0.1") -> None:
    """Block until something accepts connections on ``host:port``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listened on {host}:{port} within {timeout} s")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """``postgresql://`` URL of a database created for this test session."""
    import psycopg

    name = f"tocsin_test_{os.getpid()}_{secrets.token_hex(4)}"
    with psycopg.connect(POSTGRES_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN_DSN.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def redis_url() -> Iterator[str]:
    """``redis://`` URL of a Redis database number that this test alone uses."""
    import redis

    admin = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=0)
    token = f"{os.getpid()}:{secrets.token_hex(4)}"
    claimed: int | None = None
    deadline = time.monotonic() + 120
    while claimed is None:
        for number in REDIS_TEST_DBS:
            if admin.set(f"tocsin:test-claim:{number}", token, nx=True, ex=REDIS_CLAIM_SECONDS):
                claimed = number
                break
        else:
            if time.monotonic() > deadline:
                raise RuntimeError("no free Redis test database (1..15) within 120 s")
            time.sleep(0.2)
    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=claimed)
    client.flushdb()
    try:
        yield f"redis://{REDIS_HOST}:{REDIS_PORT}/{claimed}"
    finally:
        client.flushdb()
        client.close()
        if admin.get(f"tocsin:test-claim:{claimed}") == token.encode():
            admin.delete(f"tocsin:test-claim:{claimed}")
        admin.close()
