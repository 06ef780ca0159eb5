"""Fixtures for probe tests: the local targets and probe clients pointed at them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import trustme

from tests.server.probes.targets import Targets, serve_targets
from tocsin.server.probes import ProbeClient


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
async def client(targets: Targets) -> AsyncIterator[ProbeClient]:
    """A probe client that trusts the test CA for verified TLS."""
    async with ProbeClient(ssl_context=targets.trusting_context()) as probe_client:
        yield probe_client


@pytest.fixture
async def system_client() -> AsyncIterator[ProbeClient]:
    """A probe client with the default trust (the system's CAs, not the test CA)."""
    async with ProbeClient() as probe_client:
        yield probe_client
