"""Fixtures shared by every test: real services, isolated per test run.

- ``postgres_url``: a fresh PostgreSQL database for this test session, dropped at the end.
- ``redis_url``: a Redis database number claimed for one test (several test runs can share
  the machine's Redis), flushed before and after.
- ``free_port()``: a TCP port on 127.0.0.1 nobody listens on.
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


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
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
