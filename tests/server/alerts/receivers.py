"""Local HTTP receivers with behaviour the plain webhook receiver lacks: any method and
path recorded, redirects, and answers held back until the test releases them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web

from tests.conftest import free_port


@dataclass
class Request:
    """One request a receiver got."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A running receiver: its URL, what it got, and how many answers it has sent."""

    url: str
    requests: list[Request] = field(default_factory=list)
    answered: int = 0
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[Request]:
        """Wait until ``count`` requests arrived (answered or not); return them."""
        async with asyncio.timeout(timeout):
            while len(self.requests) < count:
                self.arrived.clear()
                await self.arrived.wait()
        return self.requests


Answer = Callable[[Receiver, web.Request], Awaitable[web.StreamResponse]]


async def answer_ok(_receiver: Receiver, _request: web.Request) -> web.StreamResponse:
    """Answer 200."""
    return web.Response(text="ok")


@asynccontextmanager
async def receiver(answer: Answer = answer_ok) -> AsyncIterator[Receiver]:
    """Serve on 127.0.0.1: record every request (any method, any path), then ``answer``."""
    port = free_port()
    state = Receiver(f"http://127.0.0.1:{port}/hook")

    async def handle(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        state.requests.append(Request(request.method, request.path, dict(request.headers), body))
        state.arrived.set()
        response = await answer(state, request)
        state.answered += 1
        return response

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield state
    finally:
        await runner.cleanup()


def answering(status: int) -> Answer:
    """An answer with ``status`` and no body to every request (401: a permanent failure)."""

    async def answer(_receiver: Receiver, _request: web.Request) -> web.StreamResponse:
        return web.Response(status=status)

    return answer


def redirect_to(location: str, status: int) -> Answer:
    """An answer that redirects every request to ``location`` with ``status``."""

    async def answer(_receiver: Receiver, _request: web.Request) -> web.StreamResponse:
        return web.Response(status=status, headers={"Location": location})

    return answer


def held_until(release: asyncio.Event) -> Answer:
    """An answer that hangs until ``release`` is set, then answers 200."""

    async def answer(_receiver: Receiver, _request: web.Request) -> web.StreamResponse:
        await release.wait()
        return web.Response(text="ok")

    return answer
