"""The HTTP client of the alert channels: POSTs over kept-alive HTTP/1.1 connections,
pooled per origin (scheme, host, port).

It does only what alerts need, on asyncio transports with httptools' C parser, at about
a third of aiohttp's CPU per POST (``bench/webhook_posts.py``): no redirects, cookies,
proxies or compression. A request that fails on a reused connection before any byte of
an answer arrived (the receiver closed it while it was idle) is sent once more on a new
connection; an alert's ``Idempotency-Key`` makes that safe.
"""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import time
from collections.abc import Mapping, Sequence
from typing import Any

import aiohappyeyeballs

from tocsin.server.alerts.channels.http_connection import (
    Answer,
    ConnectionLost,
    HttpConnection,
    TransportError,
)
from tocsin.server.alerts.channels.http_request import Origin, Target, encode_request, target_of

AddrInfo = tuple[socket.AddressFamily, socket.SocketKind, int, str, tuple[Any, ...]]
# Idle connections kept per origin, and for how long.
MAX_IDLE_PER_ORIGIN = 20
IDLE_SECONDS = 15.0
# With both IPv6 and IPv4 addresses, try the next one after this long (RFC 8305).
HAPPY_EYEBALLS_DELAY = 0.25


class HttpClient:
    """POSTs for the alert channels; one per delivery worker (or per channel test).

    ``ssl_context`` replaces the default trust (the system's CAs), for tests.
    """

    def __init__(
        self,
        *,
        max_idle_per_origin: int = MAX_IDLE_PER_ORIGIN,
        idle_seconds: float = IDLE_SECONDS,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.max_idle_per_origin = max_idle_per_origin
        self.idle_seconds = idle_seconds
        self._ssl_context = ssl_context
        self._idle: dict[Origin, list[HttpConnection]] = {}
        self._open: set[HttpConnection] = set()
        self._sweep: asyncio.TimerHandle | None = None
        self._closed = False

    async def __aenter__(self) -> HttpClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def post(
        self, url: str, body: bytes, headers: Mapping[str, str], timeout_seconds: float
    ) -> Answer:
        """POST ``body`` to ``url`` with ``headers`` within ``timeout_seconds`` (connecting
        included); return the answer.

        Raises ``InvalidURL`` / ``InvalidHeader`` (never sendable), ``TimeoutError``, or
        ``TransportError`` (could not connect, connection lost, malformed answer).
        """
        if self._closed:
            raise TransportError("the HTTP client is closed")
        target = target_of(url)
        request = encode_request(target, headers, body)
        async with asyncio.timeout(timeout_seconds):
            connection = self._take_idle(target.origin)
            if connection is not None:
                try:
                    return await self._exchange(connection, target.origin, request)
                except ConnectionLost as lost:
                    if lost.answered:
                        raise
            connection = await self._connect(target)
            return await self._exchange(connection, target.origin, request)

    async def close(self) -> None:
        """Close every connection, idle or in use (their sends fail)."""
        self._closed = True
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None
        self._idle.clear()
        for connection in list(self._open):
            connection.close()
        # Let the transports finish closing (TLS ones need a turn of the loop).
        await asyncio.sleep(0)

    async def _exchange(self, connection: HttpConnection, origin: Origin, request: bytes) -> Answer:
        try:
            answer = await connection.exchange(request)
        except BaseException:  # cancelled or failed: never back to the pool
            connection.close()
            raise
        if connection.reusable and not self._closed:
            self._put_idle(origin, connection)
        return answer

    async def _connect(self, target: Target) -> HttpConnection:
        scheme, host, port = target.origin
        loop = asyncio.get_running_loop()
        tls = self._tls() if scheme == "https" else None
        try:
            # Happy eyeballs by hand: uvloop's create_connection (what the server runs)
            # has no happy_eyeballs_delay.
            sock = await aiohappyeyeballs.start_connection(
                await _addresses(host, port),
                happy_eyeballs_delay=HAPPY_EYEBALLS_DELAY,
                interleave=1,
            )
            try:
                transport, connection = await loop.create_connection(
                    lambda: HttpConnection(self._open.discard),
                    sock=sock,
                    ssl=tls,
                    server_hostname=host if tls is not None else None,
                )
            except BaseException:
                sock.close()
                raise
        except socket.gaierror as exc:
            raise TransportError(f"cannot resolve host {host}: {exc.strerror}") from None
        except ssl.SSLCertVerificationError as exc:
            raise TransportError(
                f"TLS with {host}:{port} failed: certificate not trusted ({exc.verify_message})"
            ) from None
        except ssl.SSLError as exc:
            raise TransportError(f"TLS with {host}:{port} failed: {exc.reason}") from None
        except OSError as exc:
            cause = os.strerror(exc.errno) if exc.errno else str(exc)
            raise TransportError(f"cannot connect to {host}:{port}: {cause}") from None
        # uvloop may call connection_made only after create_connection returned.
        connection.connection_made(transport)
        if self._closed:
            connection.close()
            raise TransportError("the HTTP client is closed")
        self._open.add(connection)
        return connection

    def _tls(self) -> ssl.SSLContext:
        if self._ssl_context is None:  # built once: loading the system's CAs takes ms
            self._ssl_context = ssl.create_default_context()
        return self._ssl_context

    def _take_idle(self, origin: Origin) -> HttpConnection | None:
        idle = self._idle.get(origin)
        if not idle:
            return None
        oldest_allowed = time.monotonic() - self.idle_seconds
        while idle:
            connection = idle.pop()  # the most recently used: the least likely to be stale
            if connection.usable and connection.idle_since > oldest_allowed:
                return connection
            connection.close()
        return None

    def _put_idle(self, origin: Origin, connection: HttpConnection) -> None:
        idle = self._idle.setdefault(origin, [])
        if len(idle) >= self.max_idle_per_origin:
            connection.close()
            return
        connection.idle_since = time.monotonic()
        idle.append(connection)
        if self._sweep is None:
            loop = asyncio.get_running_loop()
            self._sweep = loop.call_later(self.idle_seconds, self._close_stale)

    def _close_stale(self) -> None:
        """Close connections idle for ``idle_seconds`` (or closed by their server)."""
        self._sweep = None
        oldest_allowed = time.monotonic() - self.idle_seconds
        for origin, idle in list(self._idle.items()):
            kept = [c for c in idle if c.usable and c.idle_since > oldest_allowed]
            for connection in idle:
                if connection not in kept:
                    connection.close()
            if kept:
                self._idle[origin] = kept
            else:
                del self._idle[origin]
        if self._idle:
            loop = asyncio.get_running_loop()
            self._sweep = loop.call_later(self.idle_seconds / 2, self._close_stale)


async def _addresses(host: str, port: int) -> Sequence[AddrInfo]:
    """Where ``host`` is: an IP address as it is, a name resolved now (each new
    connection resolves again, so a changed DNS record is followed)."""
    try:
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
    except socket.gaierror:
        loop = asyncio.get_running_loop()
        return await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)


__all__ = ["Answer", "HttpClient", "TransportError"]
