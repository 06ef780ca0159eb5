"""Fixtures for the health tests: subprocesses that are always killed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.health.procs import Processes


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[Processes]:
    """Start subprocesses; all are killed when the test ends."""
    processes = Processes(tmp_path)
    try:
        yield processes
    finally:
        processes.stop_all()
