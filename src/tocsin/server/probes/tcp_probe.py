"""Run one TCP probe (``tcp`` monitors): connect, optionally complete a TLS handshake.

Unlike the HTTP probe, the phases are timed here one by one, so ``tls_ms`` is measured.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import ssl
import time
from datetime import datetime, timedelta

from tocsin.server.domain.observations import Observation
from tocsin.server.probes.failures import classify
from tocsin.server.probes.names import resolve_stream_addresses
from tocsin.server.probes.timing import PhaseClock
from tocsin.server.probes.tls import peer_not_after, unverified_context, verified_context

_CLOSE_SECONDS = 1.0


async def run_tcp_probe(
    host: str,
    port: int,
    *,
    timeout: timedelta,
    tls: bool = False,
    verify_tls: bool = True,
    now: datetime,
    ssl_context: ssl.SSLContext | None = None,
) -> Observation:
    """Open ``host:port`` within ``timeout`` (and a TLS session with ``tls``), then close.

    ``ssl_context`` replaces the system's trust when ``verify_tls`` is on. The
    observation's ``url`` is ``tcp://host:port``; ``status`` stays ``None``.
    """
    url = f"tcp://{_host_in_url(host)}:{port}"
    clock = PhaseClock()
    context = (ssl_context or verified_context()) if verify_tls else unverified_context()
    writer: asyncio.StreamWriter | None = None
    cert = None
    try:
        async with asyncio.timeout(timeout.total_seconds()):
            writer = await _connect(host, port, clock)
            if tls:
                started = time.monotonic()
                await writer.start_tls(context, server_hostname=host)
                clock.tls = time.monotonic() - started
                cert = peer_not_after(writer.get_extra_info("ssl_object"))
    except Exception as exc:  # a probe reports, never raises
        kind, reason = classify(exc, timeout)
        observation = Observation(
            url=url, started_at=now, timings=clock.timings(), failure=kind, error=reason
        )
    else:
        observation = Observation(
            url=url, started_at=now, timings=clock.timings(), cert_not_after=cert
        )
    if writer is not None:
        await _close(writer)
    return observation


async def _connect(host: str, port: int, clock: PhaseClock) -> asyncio.StreamWriter:
    """A connection to the first of ``host``'s addresses that accepts one."""
    if _is_ip(host):
        addresses = [(host, port)]
    else:
        started = time.monotonic()
        addresses = await resolve_stream_addresses(host, port)
        clock.dns = time.monotonic() - started
    started = time.monotonic()
    error: OSError | None = None
    for address, address_port in addresses:
        try:
            _, writer = await asyncio.open_connection(address, address_port)
        except OSError as exc:
            error = exc
            continue
        clock.connect = time.monotonic() - started
        return writer
    raise error or OSError(f"{host} has no address")


async def _close(writer: asyncio.StreamWriter) -> None:
    """Close without letting a peer that never acknowledges hold the probe up."""
    writer.close()
    with contextlib.suppress(OSError, TimeoutError):
        async with asyncio.timeout(_CLOSE_SECONDS):
            await writer.wait_closed()


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _host_in_url(host: str) -> str:
    return f"[{host}]" if ":" in host else host
