"""HTTP probes that get no usable answer: each is a classified failure, never an exception."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import free_port
from tests.server.probes.targets import EndlessHead, Targets
from tocsin.server.domain.observations import FailureKind
from tocsin.server.probes import HttpTarget, ProbeClient, run_http_probe
from tocsin.server.probes.http_connection import MAX_HEADER_LINES

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
SHORT = timedelta(seconds=1)
# Far longer than a head limit takes to trip (~0.2 s at the peers' pace): a failure
# arriving within CAP_SECONDS came from the limit, not from the timeout.
LONG = timedelta(seconds=10)
CAP_SECONDS = 2.0
HEAD_TOO_LONG = "the response headers passed 64 KiB"


async def test_a_refused_port(client: ProbeClient) -> None:
    url = f"http://127.0.0.1:{free_port()}/"
    observation = await run_http_probe(client, HttpTarget(url), now=NOW)
    assert observation.failure is FailureKind.REFUSED
    assert observation.error == "connection refused"
    assert observation.status is None
    assert observation.url == url


async def test_an_unresolvable_host_fails_fast_as_dns(client: ProbeClient) -> None:
    target = HttpTarget("http://no-such-host.tocsin.invalid/", timeout=timedelta(seconds=30))
    started = time.monotonic()
    observation = await run_http_probe(client, target, now=NOW)
    assert observation.failure is FailureKind.DNS
    assert observation.error is not None and "no-such-host.tocsin.invalid" in observation.error
    # Not a timeout in disguise: far inside the 30 s timeout (no DNS server asked).
    assert time.monotonic() - started < 10


async def test_a_slow_answer_times_out(client: ProbeClient, targets: Targets) -> None:
    target = HttpTarget(f"{targets.http_url}/slow?seconds=30", timeout=SHORT)
    observation = await run_http_probe(client, target, now=NOW)
    assert observation.failure is FailureKind.TIMEOUT
    assert observation.error == "no complete answer within 1 s"
    assert observation.status is None
    assert observation.timings.total_ms is not None and observation.timings.total_ms >= 1000


async def test_a_body_that_never_finishes_times_out(client: ProbeClient, targets: Targets) -> None:
    target = HttpTarget(f"{targets.http_url}/endless", timeout=SHORT)
    observation = await run_http_probe(client, target, now=NOW)
    assert observation.failure is FailureKind.TIMEOUT
    assert observation.body == b""


async def test_garbage_instead_of_http_is_a_protocol_failure(
    client: ProbeClient, targets: Targets
) -> None:
    url = f"http://127.0.0.1:{targets.garbage_port}/"
    observation = await run_http_probe(client, HttpTarget(url, timeout=SHORT), now=NOW)
    assert observation.failure is FailureKind.PROTOCOL
    assert observation.error is not None and observation.error.startswith("not a valid HTTP")


async def test_a_peer_that_hangs_up_is_a_connection_failure(
    client: ProbeClient, targets: Targets
) -> None:
    url = f"http://127.0.0.1:{targets.hangup_port}/"
    observation = await run_http_probe(client, HttpTarget(url, timeout=SHORT), now=NOW)
    assert observation.failure is FailureKind.CONNECTION
    # Whether the close or a reset reaches the client first is up to the kernel.
    assert observation.error in {
        "the server closed the connection before answering",
        "connection reset by the peer",
    }


async def test_a_url_that_is_not_http_is_a_protocol_failure(
    client: ProbeClient,
) -> None:
    observation = await run_http_probe(client, HttpTarget("ftp://127.0.0.1/"), now=NOW)
    assert observation.failure is FailureKind.PROTOCOL
    assert observation.error == "not an http:// or https:// URL"


@pytest.mark.parametrize(
    ("peer", "reason"),
    [
        ("endless_value", HEAD_TOO_LONG),
        ("endless_long_lines", HEAD_TOO_LONG),
        ("endless_interim", HEAD_TOO_LONG),
        ("endless_lines", f"more than {MAX_HEADER_LINES} response headers"),
    ],
)
async def test_a_head_that_never_ends_is_cut_at_its_limit(
    client: ProbeClient, targets: Targets, peer: str, reason: str
) -> None:
    endless: EndlessHead = getattr(targets, peer)
    url = f"http://127.0.0.1:{endless.port}/"
    started = time.monotonic()
    observation = await run_http_probe(client, HttpTarget(url, timeout=LONG), now=NOW)
    assert time.monotonic() - started < CAP_SECONDS
    assert observation.failure is FailureKind.PROTOCOL
    assert observation.error == reason
    assert observation.status is None
    # The connection was dropped, not kept: the peer's writes fail at once.
    async with asyncio.timeout(CAP_SECONDS):
        await endless.hung_up.wait()


async def test_a_redirect_to_a_head_that_never_ends_is_cut_at_its_limit(
    client: ProbeClient, targets: Targets
) -> None:
    hostile = f"http://127.0.0.1:{targets.endless_value.port}/"
    target = HttpTarget(f"{targets.http_url}/away?to={hostile}", timeout=LONG)
    started = time.monotonic()
    observation = await run_http_probe(client, target, now=NOW)
    assert time.monotonic() - started < CAP_SECONDS
    assert observation.failure is FailureKind.PROTOCOL
    assert observation.error == HEAD_TOO_LONG
    async with asyncio.timeout(CAP_SECONDS):
        await targets.endless_value.hung_up.wait()
