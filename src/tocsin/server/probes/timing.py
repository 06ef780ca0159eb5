"""Phase timings of one HTTP exchange, collected through aiohttp's ``TraceConfig`` hooks.

aiohttp opens the TCP connection and runs the TLS handshake in one step, so for HTTPS the
``connect`` phase includes the handshake and ``tls`` stays ``None``. A phase that did not
happen (an IP literal needs no DNS, a kept-alive connection needs no connect, a cached
name needs no lookup) is ``None``. Across redirects each phase adds up over the hops.
"""

from __future__ import annotations

import time
from types import SimpleNamespace

import aiohttp

from tocsin.server.domain.observations import Timings


class PhaseClock:
    """Seconds spent per phase of one probe, from the monotonic clock.

    The HTTP probe passes it to aiohttp as ``trace_request_ctx``; the TCP probe sets the
    phases itself.
    """

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.dns: float | None = None
        self.connect: float | None = None
        self.tls: float | None = None
        self.first_byte: float | None = None
        self._dns_started = 0.0
        self._connect_started = 0.0
        self._dns_before_connect = 0.0

    def dns_started(self) -> None:
        """A name lookup began."""
        self._dns_started = time.monotonic()

    def dns_ended(self) -> None:
        """A name lookup finished."""
        self.dns = (self.dns or 0.0) + time.monotonic() - self._dns_started

    def connect_started(self) -> None:
        """A new connection is being opened (lookup, TCP and TLS)."""
        self._connect_started = time.monotonic()
        self._dns_before_connect = self.dns or 0.0

    def connect_ended(self) -> None:
        """The connection is open; the lookup inside it is not counted as connecting."""
        lookup = (self.dns or 0.0) - self._dns_before_connect
        span = time.monotonic() - self._connect_started - lookup
        self.connect = (self.connect or 0.0) + span

    def headers_received(self) -> None:
        """The (final) response's status line and headers arrived."""
        self.first_byte = time.monotonic() - self.started

    def timings(self) -> Timings:
        """Milliseconds per phase; ``total`` runs from the start until now."""
        return Timings(
            dns_ms=_ms(self.dns),
            connect_ms=_ms(self.connect),
            tls_ms=_ms(self.tls),
            first_byte_ms=_ms(self.first_byte),
            total_ms=_ms(time.monotonic() - self.started),
        )


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000.0, 3)


def _clock(ctx: SimpleNamespace) -> PhaseClock | None:
    clock = getattr(ctx, "trace_request_ctx", None)
    return clock if isinstance(clock, PhaseClock) else None


async def _on_dns_start(
    _session: aiohttp.ClientSession,
    ctx: SimpleNamespace,
    _params: aiohttp.TraceDnsResolveHostStartParams,
) -> None:
    if clock := _clock(ctx):
        clock.dns_started()


async def _on_dns_end(
    _session: aiohttp.ClientSession,
    ctx: SimpleNamespace,
    _params: aiohttp.TraceDnsResolveHostEndParams,
) -> None:
    if clock := _clock(ctx):
        clock.dns_ended()


async def _on_connect_start(
    _session: aiohttp.ClientSession,
    ctx: SimpleNamespace,
    _params: aiohttp.TraceConnectionCreateStartParams,
) -> None:
    if clock := _clock(ctx):
        clock.connect_started()


async def _on_connect_end(
    _session: aiohttp.ClientSession,
    ctx: SimpleNamespace,
    _params: aiohttp.TraceConnectionCreateEndParams,
) -> None:
    if clock := _clock(ctx):
        clock.connect_ended()


def make_trace_config() -> aiohttp.TraceConfig:
    """A ``TraceConfig`` that feeds the ``PhaseClock`` given as ``trace_request_ctx``."""
    config = aiohttp.TraceConfig()
    config.on_dns_resolvehost_start.append(_on_dns_start)
    config.on_dns_resolvehost_end.append(_on_dns_end)
    config.on_connection_create_start.append(_on_connect_start)
    config.on_connection_create_end.append(_on_connect_end)
    config.freeze()
    return config
