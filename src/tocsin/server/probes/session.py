"""The aiohttp session probes share: pooled, cookie-free, traced."""

from __future__ import annotations

import ssl

import aiohttp
from aiohttp.client_reqrep import ClientRequest
from aiohttp.connector import Connection
from aiohttp.tracing import Trace

from tocsin import __version__
from tocsin.server.probes.names import ProbeResolver
from tocsin.server.probes.timing import make_trace_config
from tocsin.server.probes.tls import note_peer_certificate, verified_context

PROBE_USER_AGENT = f"tocsin-probe/{__version__}"


class _ProbeConnector(aiohttp.TCPConnector):
    """A ``TCPConnector`` that lets the probe see each connection's TLS peer."""

    async def connect(
        self, req: ClientRequest, traces: list[Trace], timeout: aiohttp.ClientTimeout
    ) -> Connection:
        """A pooled or new connection, its peer certificate noted for the probe."""
        connection = await super().connect(req, traces, timeout)
        note_peer_certificate(connection.transport)
        return connection


def make_probe_session(
    *,
    limit: int = 1000,
    limit_per_host: int = 0,
    dns_cache_seconds: int = 60,
    keepalive_seconds: float = 15.0,
    ssl_context: ssl.SSLContext | None = None,
) -> aiohttp.ClientSession:
    """A ``ClientSession`` for ``run_http_probe``; call inside the event loop, close it after.

    - ``limit`` caps open connections overall (``0``: no cap), ``limit_per_host`` per
      host; the scheduler's own concurrency caps come first, these are a backstop.
    - Names are cached ``dns_cache_seconds``; idle connections kept ``keepalive_seconds``.
    - No cookie jar: one monitor's cookies never reach another's target.
    - ``ssl_context`` is the trust used when a target verifies TLS (default: the system's
      CAs); targets with ``verify_tls`` off use an unverified context instead.
    - No session-wide timeout: each probe bounds its own exchange.
    """
    connector = _ProbeConnector(
        limit=limit,
        limit_per_host=limit_per_host,
        use_dns_cache=dns_cache_seconds > 0,
        ttl_dns_cache=dns_cache_seconds or None,
        keepalive_timeout=keepalive_seconds,
        ssl=ssl_context or verified_context(),
        resolver=ProbeResolver(),
    )
    return aiohttp.ClientSession(
        connector=connector,
        cookie_jar=aiohttp.DummyCookieJar(),
        timeout=aiohttp.ClientTimeout(total=None),
        headers={"User-Agent": PROBE_USER_AGENT},
        trace_configs=[make_trace_config()],
        raise_for_status=False,
    )
