"""Run one HTTP probe (``http`` and ``app`` monitors) and describe what it saw.

Never raises for anything the target does: refusals, timeouts, TLS trouble, garbage and
endless bodies all become an ``Observation`` with a ``failure``. Any status code,
503 included, is an answer whose body is read like any other.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import aiohttp
from multidict import CIMultiDictProxy
from yarl import URL

from tocsin.server.domain.observations import FailureKind, Observation
from tocsin.server.probes.failures import classify
from tocsin.server.probes.targets import HttpTarget
from tocsin.server.probes.timing import PhaseClock
from tocsin.server.probes.tls import unverified_context, watching_peer_certificate


async def run_http_probe(
    session: aiohttp.ClientSession, target: HttpTarget, *, now: datetime
) -> Observation:
    """Send ``target``'s request on ``session`` (from ``make_probe_session``) and observe.

    ``now`` (UTC) becomes ``started_at``; durations come from the monotonic clock.
    """
    url = _display_url(target.url)
    clock = PhaseClock()
    try:
        async with asyncio.timeout(target.timeout.total_seconds()):
            answer = await _exchange(session, target, clock)
    except aiohttp.TooManyRedirects:
        kind, reason = FailureKind.REDIRECTS, f"more than {target.max_redirects} redirects"
    except Exception as exc:  # a probe reports, never raises
        kind, reason = classify(exc, target.timeout)
    else:
        return Observation(
            url=url,
            started_at=now,
            status=answer.status,
            headers=answer.headers,
            body=answer.body,
            body_truncated=answer.truncated,
            timings=clock.timings(),
            cert_not_after=answer.cert_not_after,
        )
    return Observation(url=url, started_at=now, timings=clock.timings(), failure=kind, error=reason)


@dataclass(frozen=True)
class _Answer:
    """The parts of a response kept after its connection is released."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    truncated: bool
    cert_not_after: datetime | None


async def _exchange(
    session: aiohttp.ClientSession, target: HttpTarget, clock: PhaseClock
) -> _Answer:
    with watching_peer_certificate() as peer:
        async with session.request(
            target.method,
            target.url,
            headers=dict(target.headers),
            data=target.body,
            allow_redirects=target.follow_redirects,
            # aiohttp stops when the Nth redirect arrives; "follow up to N" needs N + 1.
            max_redirects=target.max_redirects + 1,
            ssl=True if target.verify_tls else unverified_context(),
            trace_request_ctx=clock,
        ) as response:
            clock.headers_received()
            body, truncated = await _read_prefix(response.content, target.body_limit)
            if truncated:
                response.close()  # drop the connection rather than drain the rest
            return _Answer(
                response.status,
                _flat_headers(response.headers),
                body,
                truncated,
                peer.not_after(),
            )


async def _read_prefix(stream: aiohttp.StreamReader, limit: int) -> tuple[bytes, bool]:
    """At most ``limit`` bytes of the body, and whether the body was longer."""
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = await stream.read(limit + 1 - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    body = b"".join(chunks)
    return body[:limit], size > limit


def _flat_headers(headers: CIMultiDictProxy[str]) -> dict[str, str]:
    flat: dict[str, str] = {}
    for name, value in headers.items():
        key = name.lower()
        flat[key] = f"{flat[key]}, {value}" if key in flat else value
    return flat


def _display_url(url: str) -> str:
    """The URL without a password in it (it is stored and shown)."""
    try:
        parsed = URL(url)
    except ValueError:
        return url
    return str(parsed.with_password(None)) if parsed.password else url
