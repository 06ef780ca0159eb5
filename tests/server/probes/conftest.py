"""Fixtures for probe tests: the local targets and probe sessions pointed at them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
import trustme

from tests.server.probes.targets import Targets, serve_targets
from tocsin.server.probes import make_probe_session


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    """A certificate authority made for this test run."""
    return trustme.CA()


@pytest.fixture
async def targets(ca: trustme.CA) -> AsyncIterator[Targets]:
    """Every local target, running for one test."""
    async with serve_targets(ca) as running:
        yield running


@pytest.fixture
async def session(targets: Targets) -> AsyncIterator[aiohttp.ClientSession]:
    """A probe session that trusts the test CA for verified TLS."""
    async with make_probe_session(ssl_context=targets.trusting_context()) as probe_session:
        yield probe_session


@pytest.fixture
async def system_session() -> AsyncIterator[aiohttp.ClientSession]:
    """A probe session with the default trust (the system's CAs, not the test CA)."""
    async with make_probe_session() as probe_session:
        yield probe_session
