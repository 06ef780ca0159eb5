"""Run one HTTP probe (``http`` and ``app`` monitors) and describe what it saw.

Never raises for anything the target does: refusals, timeouts, TLS trouble, garbage and
endless bodies all become an ``Observation`` with a ``failure``. Any status code,
503 included, is an answer whose body is read like any other.

This runs for every check of every HTTP monitor, so it keeps the work per request low:
the timeout is aiohttp's own, and nothing is copied or converted that aiohttp already
gives in a usable form.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from functools import lru_cache

import aiohttp
from multidict import CIMultiDictProxy
from yarl import URL

from tocsin.server.domain.observations import FailureKind, Observation
from tocsin.server.probes.failures import classify
from tocsin.server.probes.targets import HttpTarget
from tocsin.server.probes.timing import PhaseClock
from tocsin.server.probes.tls import PeerCertificate, stop_watching, unverified_context


async def run_http_probe(
    session: aiohttp.ClientSession, target: HttpTarget, *, now: datetime
) -> Observation:
    """Send ``target``'s request on ``session`` (from ``make_probe_session``) and observe.

    ``now`` (UTC) becomes ``started_at``; durations come from the monotonic clock.
    """
    clock = PhaseClock()
    peer = PeerCertificate()
    clock_token = clock.activate()
    peer_token = peer.watch()
    try:
        async with session.request(
            target.method,
            target.url,
            headers=target.headers or None,
            data=target.body,
            allow_redirects=target.follow_redirects,
            # aiohttp stops when the Nth redirect arrives; "follow up to N" needs N + 1.
            max_redirects=target.max_redirects + 1,
            ssl=True if target.verify_tls else unverified_context(),
            timeout=_whole_exchange(target.timeout),
        ) as response:
            clock.headers_received()
            body, truncated = await _read_prefix(response.content, target.body_limit)
            if truncated:
                response.close()  # drop the connection rather than drain the rest
            status = response.status
            headers = _ResponseHeaders(response.headers)
    except aiohttp.TooManyRedirects:
        kind, reason = FailureKind.REDIRECTS, f"more than {target.max_redirects} redirects"
    except Exception as exc:  # a probe reports, never raises
        kind, reason = classify(exc, target.timeout)
    else:
        return Observation(
            url=_display_url(target.url),
            started_at=now,
            status=status,
            headers=headers,
            body=body,
            body_truncated=truncated,
            timings=clock.timings(),
            cert_not_after=peer.not_after(),
        )
    finally:
        stop_watching(peer_token)
        PhaseClock.deactivate(clock_token)
    return Observation(
        url=_display_url(target.url),
        started_at=now,
        timings=clock.timings(),
        failure=kind,
        error=reason,
    )


@lru_cache(maxsize=64)
def _whole_exchange(timeout: timedelta) -> aiohttp.ClientTimeout:
    """aiohttp's ``total`` timeout: it runs from the start of the request until the
    connection is released, so it covers lookup, connect, TLS, redirects and the body
    read. aiohttp rounds deadlines of 5 s and more up to a whole second unless told
    otherwise (``ceil_threshold``); a probe's timeout is exact."""
    return aiohttp.ClientTimeout(total=timeout.total_seconds(), ceil_threshold=math.inf)


async def _read_prefix(stream: aiohttp.StreamReader, limit: int) -> tuple[bytes, bool]:
    """At most ``limit`` bytes of the body, and whether the body was longer."""
    body = await stream.read(limit + 1)
    if body and len(body) <= limit and not stream.at_eof():
        # The usual short body came in one piece; a longer one is read chunk by chunk.
        chunks = [body]
        size = len(body)
        while size <= limit:
            chunk = await stream.read(limit + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        body = b"".join(chunks)
    if len(body) > limit:
        return body[:limit], True
    return body, False


class _ResponseHeaders(Mapping[str, str]):
    """The response headers as documented (lower-case names, repeated headers joined
    with ``", "``), flattened on first use: most checks never read a header."""

    __slots__ = ("_flat", "_raw")

    def __init__(self, raw: CIMultiDictProxy[str]) -> None:
        self._raw = raw
        self._flat: dict[str, str] | None = None

    def _dict(self) -> dict[str, str]:
        if self._flat is None:
            self._flat = _flatten(self._raw)
        return self._flat

    def __getitem__(self, name: str) -> str:
        return self._dict()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._dict())

    def __len__(self) -> int:
        return len(self._dict())

    def __repr__(self) -> str:
        return repr(self._dict())


def _flatten(headers: CIMultiDictProxy[str]) -> dict[str, str]:
    flat: dict[str, str] = {}
    for name, value in headers.items():
        key = name.lower()
        flat[key] = f"{flat[key]}, {value}" if key in flat else value
    return flat


def _display_url(url: str) -> str:
    """The URL without a password in it (it is stored and shown)."""
    if "@" not in url:
        return url
    try:
        parsed = URL(url)
    except ValueError:
        return url
    return str(parsed.with_password(None)) if parsed.password else url
