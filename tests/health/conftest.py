"""Fixtures for the health tests: subprocesses that are always killed, RabbitMQ queues."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery import Celery

from tests.health.procs import AMQP_URL, Processes


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[Processes]:
    """Start subprocesses; all are killed when the test ends."""
    processes = Processes(tmp_path)
    try:
        yield processes
    finally:
        processes.stop_all()


@pytest.fixture
def amqp_queue() -> Iterator[str]:
    """A queue name for this test, deleted from RabbitMQ afterwards."""
    name = f"tocsin-test-{secrets.token_hex(4)}"
    yield name
    celery = Celery(broker=AMQP_URL)
    with celery.connection_for_write() as conn:
        conn.default_channel.queue_delete(name)
    celery.close()
