"""The HTTP client of the probes: one request, its redirects and its answer, timed by
phase, over kept-alive HTTP/1.1 connections pooled per origin and trust.

It replaced aiohttp's client for probes (``bench/probe_server_cpu.py`` put aiohttp at
half the server's probing CPU) and does only what a probe needs: no cookies or proxies,
and no ``Accept-Encoding`` is sent, so targets answer plain bodies (a gzip or deflate
body sent anyway is decoded, see ``content_coding``).

- **Timings**: a looked-up name (not an IP literal, not a cached name) times ``dns``; a
  new connection times ``connect`` (TCP) and, for HTTPS, ``tls`` (the handshake);
  a kept-alive one neither. Across redirects each phase adds up over the hops.
- **Names** are cached ``dns_cache_seconds``; reserved ``.invalid`` names fail at once.
- **Redirects** (301, 302, 303, 307, 308 with a ``Location``) are followed up to the
  target's limit: 303, and 301/302 after a POST, continue as a GET without a body;
  ``Authorization`` is dropped when the origin changes.
- **Bodies** are kept up to the target's limit; a longer one is not read on (its
  connection is closed instead of drained).
- A request that fails on a reused connection before any byte of an answer came (the
  target closed it while it was idle) is sent once more on a new connection.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import socket
import ssl
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

import aiohappyeyeballs
from yarl import URL

from tocsin import __version__
from tocsin.server.domain.observations import FailureKind
from tocsin.server.probes.content_coding import decode_body
from tocsin.server.probes.http_connection import (
    ConnectionLost,
    ProbeConnection,
    ProbeFailure,
    RawAnswer,
)
from tocsin.server.probes.names import is_invalid_name, no_such_name
from tocsin.server.probes.targets import HttpTarget
from tocsin.server.probes.timing import PhaseClock
from tocsin.server.probes.tls import unverified_context, verified_context

PROBE_USER_AGENT = f"tocsin-probe/{__version__}"

AddrInfo = tuple[socket.AddressFamily, socket.SocketKind, int, str, tuple[Any, ...]]
# Idle connections kept per origin (above the scheduler's per-host cap, so a host
# probed at full concurrency keeps them all), and for how long.
MAX_IDLE_PER_ORIGIN = 100
IDLE_SECONDS = 15.0
DNS_CACHE_SECONDS = 60.0
# With both IPv6 and IPv4 addresses, try the next one after this long (RFC 8305).
HAPPY_EYEBALLS_DELAY = 0.25
# How long closing the client waits for TLS connections to say goodbye before cutting them.
CLOSE_GRACE_SECONDS = 1.0

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_SET_BY_CLIENT = frozenset({"host", "content-length", "transfer-encoding", "connection"})


class TooManyRedirects(ProbeFailure):
    """More redirects than the target allows."""

    def __init__(self, limit: int) -> None:
        super().__init__(FailureKind.REDIRECTS, f"more than {limit} redirects")


class ProbeAnswer(NamedTuple):
    """The final answer of a probe's request (after any redirects)."""

    status: int
    headers: list[tuple[str, str]]  # lower-case names, in order, repeats kept
    body: bytes
    truncated: bool
    peer_certificate: bytes | None  # DER, for HTTPS


class _Origin(NamedTuple):
    scheme: str
    host: str  # as connected to: IDNA-encoded, an IPv6 address without brackets
    port: int
    verify_tls: bool


@dataclass(frozen=True)
class _Url:
    """A URL read once for sending."""

    url: URL
    origin: _Origin
    host_header: str
    path: str
    authorization: str | None


class ProbeClient:
    """Sends the probes' HTTP requests; one per probe engine (or per ``tocsin check``).

    ``ssl_context`` is the trust used when a target verifies TLS (default: the system's
    CAs); targets with ``verify_tls`` off use an unverified context instead.
    """

    def __init__(
        self,
        *,
        ssl_context: ssl.SSLContext | None = None,
        dns_cache_seconds: float = DNS_CACHE_SECONDS,
        max_idle_per_origin: int = MAX_IDLE_PER_ORIGIN,
        idle_seconds: float = IDLE_SECONDS,
    ) -> None:
        self._ssl_context = ssl_context
        self.dns_cache_seconds = dns_cache_seconds
        self.max_idle_per_origin = max_idle_per_origin
        self.idle_seconds = idle_seconds
        self._names: dict[tuple[str, int], tuple[float, Sequence[AddrInfo]]] = {}
        self._idle: dict[_Origin, list[ProbeConnection]] = {}
        self._open: set[ProbeConnection] = set()
        self._sweep: asyncio.TimerHandle | None = None
        self._closed = False
        self._all_closed: asyncio.Future[None] | None = None

    async def __aenter__(self) -> ProbeClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def request(self, target: HttpTarget, clock: PhaseClock) -> ProbeAnswer:
        """Send ``target``'s request (its placeholders already substituted), follow
        redirects as the target says, and return the final answer.

        Phases are stamped on ``clock``. No timeout is applied here: the caller bounds
        the whole exchange. Raises ``ProbeFailure`` for what the target did wrong, and
        ``OSError`` (refused, unreachable, ``socket.gaierror``, ``ssl.SSLError``) from
        connecting.
        """
        if self._closed:
            raise ProbeFailure(FailureKind.CONNECTION, "the probe client is closed")
        where = _read_url(target.url, target.verify_tls)
        method, headers, body = target.method.upper(), target.headers, target.body
        hops = 0
        while True:
            answer = await self._send(where, method, headers, body, target.body_limit, clock)
            if not (target.follow_redirects and answer.status in _REDIRECTS):
                return _decoded(answer, target.body_limit)
            location = _header(answer.headers, "location")
            if location is None:
                return _decoded(answer, target.body_limit)
            hops += 1
            if hops > target.max_redirects:
                raise TooManyRedirects(target.max_redirects)
            next_url = _redirected(where.url, location)
            if answer.status == 303 or (answer.status in (301, 302) and method == "POST"):
                if method != "HEAD":
                    method = "GET"
                body = None
            following = _read_url(str(next_url), target.verify_tls)
            if following.origin != where.origin:
                headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
            where = following

    async def close(self) -> None:
        """Close every connection, idle or in use (their requests fail), waiting up to
        ``CLOSE_GRACE_SECONDS`` for TLS ones to finish their goodbye before cutting them."""
        self._closed = True
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None
        self._idle.clear()
        for connection in list(self._open):
            connection.close()
        # Wait for the transports to finish closing: a TLS one says goodbye first and
        # its socket stays open until the peer answers (or the loop would end with it).
        if self._open:
            self._all_closed = asyncio.get_running_loop().create_future()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(CLOSE_GRACE_SECONDS):
                    await self._all_closed
            for connection in list(self._open):
                connection.abort()
        await asyncio.sleep(0)

    def _forget(self, connection: ProbeConnection) -> None:
        """A connection ended (its ``connection_lost``)."""
        self._open.discard(connection)
        if not self._open and self._all_closed is not None and not self._all_closed.done():
            self._all_closed.set_result(None)

    # --- one hop ------------------------------------------------------------------------
    async def _send(
        self,
        where: _Url,
        method: str,
        headers: Mapping[str, str],
        body: bytes | None,
        body_limit: int,
        clock: PhaseClock,
    ) -> ProbeAnswer:
        request = _encode(where, method, headers, body)
        head_only = method == "HEAD"
        connection = self._take_idle(where.origin)
        if connection is not None:
            try:
                raw = await self._exchange(connection, where.origin, request, body_limit, head_only)
            except ConnectionLost as lost:
                if lost.answered:
                    raise
            else:
                return _answer(raw, connection, clock)
        connection = await self._connect(where.origin, clock)
        raw = await self._exchange(connection, where.origin, request, body_limit, head_only)
        return _answer(raw, connection, clock)

    async def _exchange(
        self,
        connection: ProbeConnection,
        origin: _Origin,
        request: bytes,
        body_limit: int,
        head_only: bool,
    ) -> RawAnswer:
        try:
            raw = await connection.exchange(request, body_limit=body_limit, head_only=head_only)
        except BaseException:
            # Cancelled or failed: never back to the pool, and cut at once, since the
            # target may still be sending; a TLS goodbye would hold the socket for 30 s.
            connection.abort()
            raise
        if connection.reusable and not self._closed:
            self._put_idle(origin, connection)
        return raw

    async def _connect(self, origin: _Origin, clock: PhaseClock) -> ProbeConnection:
        scheme, host, port, verify = origin
        addresses = await self._addresses(host, port, clock)
        loop = asyncio.get_running_loop()
        started = time.monotonic()
        # Happy eyeballs by hand: uvloop's create_connection (what the server runs) has
        # no happy_eyeballs_delay.
        sock = await aiohappyeyeballs.start_connection(
            addresses, happy_eyeballs_delay=HAPPY_EYEBALLS_DELAY, interleave=1
        )
        connected = time.monotonic()
        clock.connect = (clock.connect or 0.0) + connected - started
        tls = None
        if scheme == "https":
            tls = (self._ssl_context or verified_context()) if verify else unverified_context()
        try:
            transport, connection = await loop.create_connection(
                lambda: ProbeConnection(self._forget),
                sock=sock,
                ssl=tls,
                server_hostname=host if tls is not None else None,
            )
        except BaseException:
            sock.close()
            raise
        if tls is not None:
            clock.tls = (clock.tls or 0.0) + time.monotonic() - connected
        # uvloop may call connection_made only after create_connection returned.
        connection.connection_made(transport)
        if self._closed:
            connection.abort()
            raise ProbeFailure(FailureKind.CONNECTION, "the probe client is closed")
        if not connection.closed:
            self._open.add(connection)
        return connection

    async def _addresses(self, host: str, port: int, clock: PhaseClock) -> Sequence[AddrInfo]:
        """Where ``host`` is: an IP address as it is, a name from the cache or looked up
        now (and timed)."""
        try:
            return socket.getaddrinfo(
                host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST
            )
        except socket.gaierror:
            pass
        now = time.monotonic()
        cached = self._names.get((host, port))
        if cached is not None and cached[0] > now:
            return cached[1]
        if is_invalid_name(host):
            raise no_such_name(host)
        loop = asyncio.get_running_loop()
        addresses = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        looked_up = time.monotonic()
        clock.dns = (clock.dns or 0.0) + looked_up - now
        if self.dns_cache_seconds > 0:
            if len(self._names) > 10_000:  # names of monitors long gone
                self._names = {k: v for k, v in self._names.items() if v[0] > looked_up}
            self._names[(host, port)] = (looked_up + self.dns_cache_seconds, addresses)
        return addresses

    # --- the pool -------------------------------------------------------------------------
    def _take_idle(self, origin: _Origin) -> ProbeConnection | None:
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

    def _put_idle(self, origin: _Origin, connection: ProbeConnection) -> None:
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


def _decoded(answer: ProbeAnswer, limit: int) -> ProbeAnswer:
    """``answer`` with its body decoded from its ``Content-Encoding`` (if gzip or deflate)."""
    coding = _header(answer.headers, "content-encoding")
    if coding is None:
        return answer
    body, truncated = decode_body(coding, answer.body, truncated=answer.truncated, limit=limit)
    return answer._replace(body=body, truncated=truncated)


def _answer(raw: RawAnswer, connection: ProbeConnection, clock: PhaseClock) -> ProbeAnswer:
    clock.first_byte = raw.head_at - clock.started
    return ProbeAnswer(
        raw.status, raw.headers, raw.body, raw.truncated, connection.peer_certificate
    )


@lru_cache(maxsize=16_384)
def _read_url(url: str, verify_tls: bool) -> _Url:
    """``url`` read for sending (cached: a monitor probes the same URL again and again)."""
    try:
        parsed = URL(url)
        host = parsed.raw_host
        port = parsed.port
    except (ValueError, TypeError):
        raise ProbeFailure(FailureKind.PROTOCOL, "invalid URL") from None
    scheme = parsed.scheme.lower()
    if scheme not in ("http", "https"):
        raise ProbeFailure(FailureKind.PROTOCOL, "not an http:// or https:// URL")
    if not host or port is None:
        raise ProbeFailure(FailureKind.PROTOCOL, "invalid URL")
    shown = f"[{host}]" if ":" in host else host
    host_header = shown if parsed.is_default_port() else f"{shown}:{port}"
    authorization = None
    if parsed.user is not None:
        credentials = f"{parsed.user}:{parsed.password or ''}"
        authorization = "Basic " + base64.b64encode(credentials.encode()).decode("ascii")
    return _Url(
        parsed.with_fragment(None),
        _Origin(scheme, host, port, verify_tls),
        host_header,
        parsed.raw_path_qs or "/",
        authorization,
    )


def _redirected(base: URL, location: str) -> URL:
    try:
        return base.join(URL(location))
    except (ValueError, TypeError):
        raise ProbeFailure(FailureKind.PROTOCOL, "a redirect to an invalid URL") from None


def _encode(where: _Url, method: str, headers: Mapping[str, str], body: bytes | None) -> bytes:
    """The request's bytes: our defaults, then the monitor's headers (a name given twice
    in any case is sent once, the later value winning), then the framing."""
    merged: dict[str, tuple[str, str]] = {
        "host": ("Host", where.host_header),
        "user-agent": ("User-Agent", PROBE_USER_AGENT),
        "accept": ("Accept", "*/*"),
    }
    if where.authorization is not None:
        merged["authorization"] = ("Authorization", where.authorization)
    for name, value in headers.items():
        lowered = name.lower()
        if lowered in _SET_BY_CLIENT:
            continue
        if "\r" in value or "\n" in value or "\0" in value:
            raise ProbeFailure(
                FailureKind.CONFIG, f"the header {name} has a line break in its value"
            )
        merged[lowered] = (name, value)
    lines = [f"{method} {where.path} HTTP/1.1"]
    lines.extend(f"{name}: {value}" for name, value in merged.values())
    if body is not None or method in _BODY_METHODS:
        lines.append(f"Content-Length: {len(body or b'')}")
    lines.append("\r\n")
    return "\r\n".join(lines).encode("utf-8") + (body or b"")


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    for key, value in headers:
        if key == name:
            return value
    return None


__all__ = ["PROBE_USER_AGENT", "ProbeAnswer", "ProbeClient", "ProbeFailure", "TooManyRedirects"]
