"""A receiver on a raw socket, for answers no HTTP framework would send: chunked or
unframed bodies, garbage, interim 1xx, connections closed at awkward moments. It counts
the connections it accepted and records each request per connection."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field


@dataclass
class RawRequest:
    """One request as it arrived: the request line, headers (lower-case names), body."""

    line: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Link:
    """One accepted connection: its requests so far, and whether the client hung up."""

    number: int
    requests: list[RawRequest] = field(default_factory=list)
    client_closed: asyncio.Event = field(default_factory=asyncio.Event)


# Called per request: (link, request, writer); it writes the answer (or not) and returns
# False to close the connection afterwards.
Answerer = Callable[[Link, RawRequest, asyncio.StreamWriter], Awaitable[bool]]


@dataclass
class RawReceiver:
    """A running raw receiver."""

    port: int
    links: list[Link] = field(default_factory=list)

    @property
    def url(self) -> str:
        """Its URL, with a path and a query."""
        return f"http://127.0.0.1:{self.port}/hook?x=1"

    @property
    def requests(self) -> list[RawRequest]:
        """Every request, over all connections."""
        return [request for link in self.links for request in link.requests]


async def read_request(reader: asyncio.StreamReader) -> RawRequest | None:
    """One request from ``reader``; ``None`` at a clean end of the connection."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    line, *fields = head.decode().split("\r\n")[:-2]
    headers = {}
    for item in fields:
        name, _, value = item.partition(":")
        headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return RawRequest(line, headers, body)


def answer_raw(answer: bytes) -> Answerer:
    """An answerer writing ``answer`` to every request and keeping the connection."""

    async def write(_link: Link, _request: RawRequest, writer: asyncio.StreamWriter) -> bool:
        writer.write(answer)
        return True

    return write


@asynccontextmanager
async def raw_receiver(answerer: Answerer) -> AsyncIterator[RawReceiver]:
    """Serve on 127.0.0.1 until the block ends."""
    state = RawReceiver(port=0)
    handlers: set[asyncio.Task[object]] = set()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        link = Link(len(state.links) + 1)
        state.links.append(link)
        try:
            while (request := await read_request(reader)) is not None:
                link.requests.append(request)
                keep = await answerer(link, request, writer)
                await writer.drain()
                if not keep:
                    break
            else:
                link.client_closed.set()
        except (ConnectionError, asyncio.IncompleteReadError):
            link.client_closed.set()
        finally:
            writer.close()
            handlers.discard(task)

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    state.port = server.sockets[0].getsockname()[1]
    try:
        yield state
    finally:
        server.close()
        for handler in list(handlers):
            handler.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        await server.wait_closed()


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
