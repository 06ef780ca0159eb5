"""Real local targets for probe tests: an HTTP(S) server with awkward routes, raw TCP peers.

``serve_targets(ca)`` starts, on 127.0.0.1 free ports:

- an aiohttp.web app over HTTP and over HTTPS (certificate for ``localhost`` issued by
  the given ``trustme`` CA): ``/status/{code}``, ``/slow?seconds=``, ``/json``, ``/echo``
  (method, headers, body back as JSON), ``/redirect`` (one hop to ``/status/200``),
  ``/loop`` (redirects to itself), ``/chain/{n}`` (n hops), ``/big`` (50 MB),
  ``/endless`` (a body that never finishes), ``/cookie`` (sets a cookie), ``/health``
  (an ``application/health+json`` report the test changes through ``targets.health``),
  ``/away?to=URL`` (a redirect to any URL), ``/chunked?parts=a,b`` (a chunked body,
  one chunk per part), ``/see-other`` (a POST answered with 303 to ``/echo``) and
  ``/coded/{coding}?text=&repeat=`` (the text, compressed as ``gzip``, ``deflate``,
  ``raw-deflate`` (sent as deflate), ``gzip-cut`` (its end missing) or ``broken``
  (sent as gzip, not gzip); any other coding names the plain text);
- raw TCP peers: one answering non-HTTP bytes (``garbage_port``), one that hangs up at
  once (``hangup_port``), one whose body stops short of its Content-Length
  (``short_body_port``) and one whose body has no length and ends when it closes
  (``until_close_port``);
- raw TCP peers whose answer's head never ends (``EndlessHead``: each sends until the
  client hangs up, then sets ``hung_up``): a status line then one endless header value
  (``endless_value``), endless short header lines (``endless_lines``), endless 1 KB
  header lines (``endless_long_lines``) and endless ``103 Early Hints`` interim answers
  (``endless_interim``).

Everything stops when the block ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import ssl
import zlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import trustme
from aiohttp import web

from tests.conftest import free_port

BIG_BODY_BYTES = 50 * 1024 * 1024
_CHUNK = b"x" * 65536
GARBAGE = b"SSH-2.0-OpenSSH_9.6 not http at all\r\n\x00\xff\xfe"
SHORT_BODY = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b"
UNTIL_CLOSE = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nread until the close"
STATUS_LINE = b"HTTP/1.1 200 OK\r\n"
EARLY_HINTS = b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"


@dataclass
class EndlessHead:
    """A raw peer whose answer's head never ends; ``hung_up`` is set once the client
    closed the connection (its writes failed)."""

    port: int
    hung_up: asyncio.Event


@dataclass
class HealthReport:
    """What ``/health`` answers; tests change it between probes."""

    status_code: int = 200
    body: dict[str, Any] = field(
        default_factory=lambda: {
            "status": "pass",
            "checks": {"rq:workers": [{"componentId": "emails", "observedValue": 2}]},
        }
    )


@dataclass
class Targets:
    """Addresses of the running targets and the knobs tests turn."""

    http_url: str  # http://127.0.0.1:PORT
    https_url: str  # https://localhost:PORT, certificate from ``ca``
    https_port: int
    garbage_port: int
    hangup_port: int
    short_body_port: int
    until_close_port: int
    endless_value: EndlessHead
    endless_lines: EndlessHead
    endless_long_lines: EndlessHead
    endless_interim: EndlessHead
    ca: trustme.CA
    health: HealthReport

    def trusting_context(self) -> ssl.SSLContext:
        """A client context that trusts the test CA (and nothing else)."""
        return ssl.create_default_context(cadata=self.ca.cert_pem.bytes().decode())


def _routes(health: HealthReport) -> web.RouteTableDef:
    routes = web.RouteTableDef()

    @routes.get("/status/{code}")
    async def status(request: web.Request) -> web.Response:
        code = int(request.match_info["code"])
        return web.Response(status=code, text=f"status {code}")

    @routes.get("/slow")
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(float(request.query.get("seconds", "1")))
        return web.Response(text="slow")

    @routes.get("/json")
    async def json_body(_request: web.Request) -> web.Response:
        return web.json_response({"version": "1.2.3", "ok": True})

    @routes.route("*", "/echo")
    async def echo(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "method": request.method,
                "headers": dict(request.headers),
                "body": (await request.read()).decode(),
            },
            headers={"X-Repeated": "one"},
        )

    @routes.get("/redirect")
    async def redirect(_request: web.Request) -> web.Response:
        raise web.HTTPFound("/status/200")

    @routes.get("/loop")
    async def loop(_request: web.Request) -> web.Response:
        raise web.HTTPFound("/loop")

    @routes.get("/chain/{hops}")
    async def chain(request: web.Request) -> web.Response:
        hops = int(request.match_info["hops"])
        if hops == 0:
            return web.Response(text="end of chain")
        raise web.HTTPFound(f"/chain/{hops - 1}")

    @routes.get("/cookie")
    async def cookie(_request: web.Request) -> web.Response:
        response = web.Response(text="cookie set")
        response.set_cookie("session", "secret-session")
        return response

    @routes.get("/big")
    async def big(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Length": str(BIG_BODY_BYTES)})
        await response.prepare(request)
        with contextlib.suppress(ConnectionError):
            for _ in range(BIG_BODY_BYTES // len(_CHUNK)):
                await response.write(_CHUNK)
        return response

    @routes.get("/endless")
    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Length": "1000000"})
        await response.prepare(request)
        with contextlib.suppress(ConnectionError):
            while True:
                await response.write(b".")
                await asyncio.sleep(0.1)
        return response

    @routes.get("/away")
    async def away(request: web.Request) -> web.Response:
        raise web.HTTPFound(request.query["to"])

    @routes.get("/chunked")
    async def chunked(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        for part in request.query.get("parts", "one,two,three").split(","):
            await response.write(part.encode())
        await response.write_eof()
        return response

    @routes.get("/coded/{coding}")
    async def coded(request: web.Request) -> web.Response:
        # Compressed whatever the request accepted, as some servers and CDNs do.
        coding = request.match_info["coding"]
        text = request.query.get("text", "pong ") * int(request.query.get("repeat", "1"))
        body = text.encode()
        encoders: dict[str, tuple[str, Callable[[bytes], bytes]]] = {
            "gzip": ("gzip", gzip.compress),
            "deflate": ("deflate", zlib.compress),
            "raw-deflate": ("deflate", _raw_deflate),
            "gzip-cut": ("gzip", lambda data: gzip.compress(data)[:-12]),  # no end, no trailer
            "broken": ("gzip", lambda _data: b"this is not gzip at all"),
        }
        wire, encode = encoders.get(coding, (coding, lambda data: data))
        return web.Response(body=encode(body), headers={"Content-Encoding": wire})

    @routes.post("/see-other")
    async def see_other(_request: web.Request) -> web.Response:
        raise web.HTTPSeeOther("/echo")

    @routes.get("/health")
    async def health_route(_request: web.Request) -> web.Response:
        return web.Response(
            status=health.status_code,
            body=json.dumps(health.body).encode(),
            content_type="application/health+json",
        )

    return routes


def _raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


def _answering(answer: bytes) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Any]:
    """A raw peer that reads a request, writes ``answer`` and closes."""

    async def peer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            await reader.read(1024)
            writer.write(answer)
            await writer.drain()
        writer.close()

    return peer


def _endless(
    start: bytes, repeated: bytes, hung_up: asyncio.Event
) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Any]:
    """A raw peer that reads a request, writes ``start``, then ``repeated`` (about 2 KB at
    a time, 200 times a second: ~400 KB/s) until the client hangs up."""
    batch = repeated * max(1, 2048 // len(repeated))

    async def peer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.read(1024)
            writer.write(start)
            while True:
                writer.write(batch)
                await writer.drain()
                await asyncio.sleep(0.005)
        except ConnectionError:
            hung_up.set()
        finally:
            writer.close()

    return peer


async def _start_endless(start: bytes, repeated: bytes) -> tuple[asyncio.Server, EndlessHead]:
    hung_up = asyncio.Event()
    server = await asyncio.start_server(_endless(start, repeated, hung_up), "127.0.0.1", 0)
    return server, EndlessHead(server.sockets[0].getsockname()[1], hung_up)


async def _hangup(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.close()


@contextlib.asynccontextmanager
async def serve_targets(ca: trustme.CA) -> AsyncIterator[Targets]:
    """Run every target for the duration of the block."""
    health = HealthReport()
    app = web.Application()
    app.add_routes(_routes(health))
    # Cancel a handler when its client goes away (``/endless`` would run on otherwise).
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
    await runner.setup()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server_context)
    http_port, https_port = free_port(), free_port()
    await web.TCPSite(runner, "127.0.0.1", http_port).start()
    await web.TCPSite(runner, "127.0.0.1", https_port, ssl_context=server_context).start()
    garbage = await asyncio.start_server(_answering(GARBAGE), "127.0.0.1", 0)
    hangup = await asyncio.start_server(_hangup, "127.0.0.1", 0)
    short_body = await asyncio.start_server(_answering(SHORT_BODY), "127.0.0.1", 0)
    until_close = await asyncio.start_server(_answering(UNTIL_CLOSE), "127.0.0.1", 0)
    value_server, endless_value = await _start_endless(STATUS_LINE + b"X-Endless: ", b"a")
    lines_server, endless_lines = await _start_endless(STATUS_LINE, b"X-Line: 1\r\n")
    long_server, endless_long_lines = await _start_endless(
        STATUS_LINE, b"X-Long: " + b"b" * 1000 + b"\r\n"
    )
    interim_server, endless_interim = await _start_endless(b"", EARLY_HINTS)
    raw_servers = (
        garbage,
        hangup,
        short_body,
        until_close,
        value_server,
        lines_server,
        long_server,
        interim_server,
    )
    try:
        yield Targets(
            http_url=f"http://127.0.0.1:{http_port}",
            https_url=f"https://localhost:{https_port}",
            https_port=https_port,
            garbage_port=garbage.sockets[0].getsockname()[1],
            hangup_port=hangup.sockets[0].getsockname()[1],
            short_body_port=short_body.sockets[0].getsockname()[1],
            until_close_port=until_close.sockets[0].getsockname()[1],
            endless_value=endless_value,
            endless_lines=endless_lines,
            endless_long_lines=endless_long_lines,
            endless_interim=endless_interim,
            ca=ca,
            health=health,
        )
    finally:
        for server in raw_servers:
            server.close()
            await server.wait_closed()
        await runner.cleanup()
