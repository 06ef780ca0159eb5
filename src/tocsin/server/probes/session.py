"""The aiohttp session probes share: pooled, cookie-free, timed.

Phases are stamped on the probe's active ``PhaseClock`` by the connector (new
connections) and the resolver (real lookups, not cache hits), not through a
``TraceConfig``: see ``timing``.
"""

from __future__ import annotations

import socket
import ssl

import aiohttp
from aiohttp.abc import ResolveResult
from aiohttp.client_proto import ResponseHandler
from aiohttp.client_reqrep import ClientRequest
from aiohttp.connector import Connection
from aiohttp.tracing import Trace

from tocsin import __version__
from tocsin.server.probes.names import ProbeResolver
from tocsin.server.probes.timing import active_clock
from tocsin.server.probes.tls import note_peer_certificate, verified_context

PROBE_USER_AGENT = f"tocsin-probe/{__version__}"


class _ProbeConnector(aiohttp.TCPConnector):
    """A ``TCPConnector`` that times new connections and lets the probe see each
    connection's TLS peer."""

    async def connect(
        self, req: ClientRequest, traces: list[Trace], timeout: aiohttp.ClientTimeout
    ) -> Connection:
        """A pooled or new connection, its peer certificate noted for the probe."""
        connection = await super().connect(req, traces, timeout)
        note_peer_certificate(connection.transport if req.is_ssl() else None)
        return connection

    async def _create_connection(
        self, req: ClientRequest, traces: list[Trace], timeout: aiohttp.ClientTimeout
    ) -> ResponseHandler:
        clock = active_clock()
        if clock is None:
            return await super()._create_connection(req, traces, timeout)
        clock.connect_started()
        handler = await super()._create_connection(req, traces, timeout)
        clock.connect_ended()
        return handler


class _TimedResolver(ProbeResolver):
    """The probe resolver, stamping real lookups on the probe's clock.

    aiohttp runs a lookup in a task of its own (shared by concurrent requests for the
    name); the task starts in the context of the probe that asked first, so that is
    the probe whose clock it stamps.
    """

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """Addresses of ``host``; ``socket.gaierror`` if it has none."""
        clock = active_clock()
        if clock is None:
            return await super().resolve(host, port, family)
        clock.dns_started()
        addresses = await super().resolve(host, port, family)
        clock.dns_ended()
        return addresses


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
        resolver=_TimedResolver(),
    )
    return aiohttp.ClientSession(
        connector=connector,
        cookie_jar=aiohttp.DummyCookieJar(),
        timeout=aiohttp.ClientTimeout(total=None),
        headers={"User-Agent": PROBE_USER_AGENT},
        raise_for_status=False,
    )
