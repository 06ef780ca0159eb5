"""Run one HTTP probe (``http`` and ``app`` monitors) and describe what it saw.

Never raises for anything the target does: refusals, timeouts, TLS trouble, garbage and
endless bodies all become an ``Observation`` with a ``failure``. Any status code,
503 included, is an answer whose body is read like any other.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from datetime import datetime

from yarl import URL

from tocsin.server.domain.observations import Observation
from tocsin.server.probes.failures import classify
from tocsin.server.probes.http_client import ProbeClient
from tocsin.server.probes.targets import HttpTarget
from tocsin.server.probes.timing import PhaseClock
from tocsin.server.probes.tls import der_not_after


async def run_http_probe(client: ProbeClient, target: HttpTarget, *, now: datetime) -> Observation:
    """Send ``target``'s request with ``client`` and observe, all within its timeout.

    ``now`` (UTC) becomes ``started_at``; durations come from the monotonic clock.
    """
    clock = PhaseClock()
    try:
        async with asyncio.timeout(target.timeout.total_seconds()):
            answer = await client.request(target, clock)
    except Exception as exc:  # a probe reports, never raises
        kind, reason = classify(exc, target.timeout)
        return Observation(
            url=_display_url(target.url),
            started_at=now,
            timings=clock.timings(),
            failure=kind,
            error=reason,
        )
    certificate = answer.peer_certificate
    return Observation(
        url=_display_url(target.url),
        started_at=now,
        status=answer.status,
        headers=_ResponseHeaders(answer.headers),
        body=answer.body,
        body_truncated=answer.truncated,
        timings=clock.timings(),
        cert_not_after=der_not_after(certificate) if certificate else None,
    )


class _ResponseHeaders(Mapping[str, str]):
    """The response headers as documented (lower-case names, repeated headers joined
    with ``", "``), flattened on first use: most checks never read a header."""

    __slots__ = ("_flat", "_raw")

    def __init__(self, raw: list[tuple[str, str]]) -> None:
        self._raw = raw
        self._flat: dict[str, str] | None = None

    def _dict(self) -> dict[str, str]:
        if self._flat is None:
            flat: dict[str, str] = {}
            for key, value in self._raw:
                flat[key] = f"{flat[key]}, {value}" if key in flat else value
            self._flat = flat
        return self._flat

    def __getitem__(self, name: str) -> str:
        return self._dict()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._dict())

    def __len__(self) -> int:
        return len(self._dict())

    def __repr__(self) -> str:
        return repr(self._dict())


def _display_url(url: str) -> str:
    """The URL without a password in it (it is stored and shown)."""
    if "@" not in url:
        return url
    try:
        parsed = URL(url)
    except ValueError:
        return url
    return str(parsed.with_password(None)) if parsed.password else url
