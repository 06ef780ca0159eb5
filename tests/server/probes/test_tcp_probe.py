"""TCP probes: connect (and optionally complete TLS) to real local listeners."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from tests.conftest import free_port
from tests.server.probes.targets import Targets
from tocsin.server.domain.observations import FailureKind
from tocsin.server.probes import run_tcp_probe

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
TIMEOUT = timedelta(seconds=5)


async def test_an_open_port_connects(targets: Targets) -> None:
    observation = await run_tcp_probe("127.0.0.1", targets.garbage_port, timeout=TIMEOUT, now=NOW)
    assert observation.failure is None
    assert observation.url == f"tcp://127.0.0.1:{targets.garbage_port}"
    assert observation.started_at == NOW
    assert observation.status is None
    assert observation.timings.dns_ms is None  # an IP literal
    assert observation.timings.connect_ms is not None
    assert observation.timings.tls_ms is None
    assert observation.response_time_ms is not None


async def test_a_name_is_resolved_then_connected(targets: Targets) -> None:
    observation = await run_tcp_probe("localhost", targets.garbage_port, timeout=TIMEOUT, now=NOW)
    assert observation.failure is None
    assert observation.timings.dns_ms is not None
    assert observation.timings.connect_ms is not None


async def test_a_closed_port_is_refused() -> None:
    observation = await run_tcp_probe("127.0.0.1", free_port(), timeout=TIMEOUT, now=NOW)
    assert observation.failure is FailureKind.REFUSED
    assert observation.error == "connection refused"


async def test_an_unresolvable_host_fails_fast_as_dns() -> None:
    started = time.monotonic()
    observation = await run_tcp_probe(
        "db.tocsin.invalid", 5432, timeout=timedelta(seconds=30), now=NOW
    )
    assert observation.failure is FailureKind.DNS
    assert observation.url == "tcp://db.tocsin.invalid:5432"
    assert time.monotonic() - started < 10


async def test_tls_against_a_trusted_certificate(targets: Targets) -> None:
    observation = await run_tcp_probe(
        "localhost",
        targets.https_port,
        timeout=TIMEOUT,
        tls=True,
        now=NOW,
        ssl_context=targets.trusting_context(),
    )
    assert observation.failure is None
    assert observation.timings.tls_ms is not None
    assert observation.cert_not_after is not None
    assert observation.cert_not_after > NOW


async def test_tls_against_an_untrusted_certificate_fails(targets: Targets) -> None:
    observation = await run_tcp_probe(
        "localhost", targets.https_port, timeout=TIMEOUT, tls=True, now=NOW
    )
    assert observation.failure is FailureKind.TLS
    assert observation.error is not None
    assert "certificate verification failed" in observation.error


async def test_tls_without_verification_reads_the_expiry(targets: Targets) -> None:
    observation = await run_tcp_probe(
        "localhost", targets.https_port, timeout=TIMEOUT, tls=True, verify_tls=False, now=NOW
    )
    assert observation.failure is None
    assert observation.cert_not_after is not None


async def test_tls_to_a_peer_that_does_not_speak_it_fails(targets: Targets) -> None:
    observation = await run_tcp_probe(
        "127.0.0.1", targets.garbage_port, timeout=TIMEOUT, tls=True, verify_tls=False, now=NOW
    )
    assert observation.failure is FailureKind.TLS
    assert observation.cert_not_after is None
