"""The limits on an answer's head (status line and headers): just under them is an
answer, just past them a ``protocol`` failure, and each request has its own."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from tocsin.server.domain.observations import FailureKind
from tocsin.server.probes import HttpTarget, ProbeClient, run_http_probe
from tocsin.server.probes.http_connection import MAX_HEAD_BYTES, MAX_HEADER_LINES

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
BODY = b"z" * (200 * 1024)  # longer than the head's room: sent with the head in one write


def _answer(head_bytes: int, *, interim: bytes = b"", body: bytes = BODY) -> bytes:
    """A 200 answer whose head (``interim`` included) is exactly ``head_bytes`` long."""
    start = interim + b"HTTP/1.1 200 OK\r\n" + f"Content-Length: {len(body)}\r\n".encode()
    padding = head_bytes - len(start) - len(b"X-Pad: \r\n\r\n")
    return start + b"X-Pad: " + b"p" * padding + b"\r\n\r\n" + body


def _answer_with_headers(count: int) -> bytes:
    """A 200 answer with ``count`` headers (``Content-Length`` one of them)."""
    lines = [b"HTTP/1.1 200 OK", b"Content-Length: 2"]
    lines += [f"X-H{i}: {i}".encode() for i in range(count - 1)]
    return b"\r\n".join(lines) + b"\r\n\r\nok"


@contextlib.asynccontextmanager
async def _serving(answer: bytes) -> AsyncIterator[tuple[str, list[int]]]:
    """A raw keep-alive peer answering every request with ``answer`` in one write; yields
    its URL and a list counting its connections."""
    connections: list[int] = []

    async def peer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while True:
                await reader.readuntil(b"\r\n\r\n")
                writer.write(answer)
                await writer.drain()
        writer.close()

    server = await asyncio.start_server(peer, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/", connections
    finally:
        server.close()
        await server.wait_closed()


async def test_a_head_exactly_at_the_limit_is_an_answer(client: ProbeClient) -> None:
    async with _serving(_answer(MAX_HEAD_BYTES)) as (url, _):
        observation = await run_http_probe(client, HttpTarget(url), now=NOW)
    assert observation.failure is None
    assert observation.status == 200
    assert observation.body == BODY
    assert len(observation.headers["x-pad"]) > MAX_HEAD_BYTES - 100


async def test_a_head_one_byte_past_the_limit_is_a_protocol_failure(
    client: ProbeClient,
) -> None:
    async with _serving(_answer(MAX_HEAD_BYTES + 1)) as (url, _):
        observation = await run_http_probe(client, HttpTarget(url), now=NOW)
    assert observation.failure is FailureKind.PROTOCOL
    assert observation.error == "the response headers passed 64 KiB"


async def test_interim_answers_count_toward_the_head(client: ProbeClient) -> None:
    interim = b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
    async with _serving(_answer(MAX_HEAD_BYTES, interim=interim)) as (url, _):
        observation = await run_http_probe(client, HttpTarget(url), now=NOW)
    assert observation.status == 200
    assert observation.body == BODY
    async with _serving(_answer(MAX_HEAD_BYTES + 1, interim=interim)) as (url, _):
        observation = await run_http_probe(client, HttpTarget(url), now=NOW)
    assert observation.failure is FailureKind.PROTOCOL
    assert observation.error == "the response headers passed 64 KiB"


async def test_the_header_count_limit(client: ProbeClient) -> None:
    async with _serving(_answer_with_headers(MAX_HEADER_LINES)) as (url, _):
        observation = await run_http_probe(client, HttpTarget(url), now=NOW)
    assert observation.status == 200
    assert observation.body == b"ok"
    assert len(observation.headers) == MAX_HEADER_LINES
    async with _serving(_answer_with_headers(MAX_HEADER_LINES + 1)) as (url, _):
        observation = await run_http_probe(client, HttpTarget(url), now=NOW)
    assert observation.failure is FailureKind.PROTOCOL
    assert observation.error == f"more than {MAX_HEADER_LINES} response headers"


async def test_each_request_on_a_kept_connection_has_its_own_head_limit(
    client: ProbeClient,
) -> None:
    # Two heads of 40 KiB on one connection: 80 KiB in all, each within the limit.
    async with _serving(_answer(40 * 1024, body=b"ok")) as (url, connections):
        for _ in range(2):
            observation = await run_http_probe(client, HttpTarget(url), now=NOW)
            assert observation.status == 200
            assert observation.body == b"ok"
    assert len(connections) == 1
