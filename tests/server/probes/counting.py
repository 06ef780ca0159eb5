"""A real local HTTP target that counts its visitors, for scheduler tests.

``/hold/{key}?seconds=S`` answers 200 after ``S`` seconds and keeps, per ``key`` and in
total, how many requests are in progress right now and the most there ever were at once,
and when each request arrived (monotonic clock).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from aiohttp import web

from tests.conftest import free_port


@dataclass
class CountingTarget:
    """What the target saw; ``url(key, seconds)`` builds a URL to it."""

    base_url: str
    port: int
    current: Counter[str] = field(default_factory=Counter)
    peak: Counter[str] = field(default_factory=Counter)
    current_total: int = 0
    peak_total: int = 0
    arrivals: list[tuple[str, float]] = field(default_factory=list)

    def url(self, key: str, seconds: float = 0.0) -> str:
        """The URL of a request held ``seconds`` and counted under ``key``."""
        return f"{self.base_url}/hold/{key}?seconds={seconds}"

    def count(self, key: str) -> int:
        """How many requests for ``key`` arrived."""
        return sum(1 for seen, _ in self.arrivals if seen == key)


def _app(target: CountingTarget) -> web.Application:
    async def hold(request: web.Request) -> web.Response:
        key = request.match_info["key"]
        target.arrivals.append((key, time.monotonic()))
        target.current[key] += 1
        target.current_total += 1
        target.peak[key] = max(target.peak[key], target.current[key])
        target.peak_total = max(target.peak_total, target.current_total)
        try:
            await asyncio.sleep(float(request.query.get("seconds", "0")))
        finally:
            target.current[key] -= 1
            target.current_total -= 1
        return web.Response(text="held")

    app = web.Application()
    app.router.add_get("/hold/{key}", hold)
    return app


@contextlib.asynccontextmanager
async def serve_counting() -> AsyncIterator[CountingTarget]:
    """Run the counting target on a free 127.0.0.1 port for the block."""
    port = free_port()
    target = CountingTarget(base_url=f"http://127.0.0.1:{port}", port=port)
    # Cancel a handler when its client goes away, so "in progress" ends with the probe.
    runner = web.AppRunner(_app(target), access_log=None, handler_cancellation=True)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield target
    finally:
        await runner.cleanup()
