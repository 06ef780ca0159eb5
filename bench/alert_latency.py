"""How late do alerts arrive when 1,000 heartbeats go silent at once?

Starts a real ``tocsin server`` subprocess with a webhook channel pointing at a receiver
in this process, creates 1,000 heartbeat monitors (period 2 s, grace 1 s), pings each
once as fast as possible, then stops. Each monitor's deadline is its stored last ping +
period + grace; the script prints, over all down alerts, webhook arrival minus deadline.

    .venv/bin/python bench/alert_latency.py [--monitors 1000] [--only sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from _common import (
    ServerProcess,
    add_webhook_channels,
    create_monitors,
    percentile,
    run,
    scratch_postgres,
)
from aiohttp import web
from tests.conftest import free_port

PERIOD = timedelta(seconds=2)
GRACE = timedelta(seconds=1)


async def measure(server: ServerProcess, count: int) -> dict[str, float]:
    arrivals: list[tuple[datetime, dict[str, object]]] = []
    done = asyncio.Event()

    async def hook(request: web.Request) -> web.Response:
        arrivals.append((datetime.now(UTC), await request.json()))
        if len(arrivals) >= count:
            done.set()
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        await add_webhook_channels(server.database_url, {"bench": f"http://127.0.0.1:{port}/hook"})
        uuids = await create_monitors(
            server.database_url,
            count,
            period=PERIOD.total_seconds(),
            grace=GRACE.total_seconds(),
            channels=["bench"],
        )
        started = time.monotonic()
        await load_once(server.base_url, uuids)
        ping_seconds = time.monotonic() - started
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), 30)
    finally:
        await runner.cleanup()
    lateness = []
    flip_lateness = []
    for arrived, body in arrivals:
        monitor, flip = body["monitor"], body["flip"]
        assert isinstance(monitor, dict)
        assert isinstance(flip, dict)
        deadline = datetime.fromisoformat(str(monitor["last_ping_at"])) + PERIOD + GRACE
        lateness.append((arrived - deadline).total_seconds())
        flip_lateness.append((datetime.fromisoformat(str(flip["at"])) - deadline).total_seconds())
    return {
        "delivered": len(arrivals),
        "ping_seconds": ping_seconds,
        "p50": percentile(lateness, 0.5) * 1000,
        "p99": percentile(lateness, 0.99) * 1000,
        "max": max(lateness, default=float("nan")) * 1000,
        "flip_p50": percentile(flip_lateness, 0.5) * 1000,
        "flip_p99": percentile(flip_lateness, 0.99) * 1000,
    }


async def load_once(base_url: str, uuids: list[str]) -> None:
    """Ping every monitor once, 64 at a time."""
    connector = aiohttp.TCPConnector(limit=64)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(uuid: str) -> None:
            async with session.get(f"{base_url}/ping/{uuid}") as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"ping answered {response.status}")

        await asyncio.gather(*(one(uuid) for uuid in uuids))


def bench(
    label: str, data_dir: Path, database_url: str | None, count: int, log_level: str = "WARNING"
) -> None:
    server = ServerProcess(data_dir, database_url, TOCSIN_LOG_LEVEL=log_level)
    server.start()
    try:
        result = run(measure(server, count))
        assert isinstance(result, dict)
    finally:
        server.stop()
        if log_level != "WARNING":
            print(server.log())
    print(
        f"{label:<10} delivered {result['delivered']:.0f}/{count}  "
        f"lateness p50 {result['p50']:.0f} ms  p99 {result['p99']:.0f} ms  "
        f"max {result['max']:.0f} ms  (flipped to down: p50 {result['flip_p50']:.0f} ms, "
        f"p99 {result['flip_p99']:.0f} ms late; pings sent in {result['ping_seconds']:.2f} s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--monitors", type=int, default=1000)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    if args.only in (None, "sqlite"):
        with tempfile.TemporaryDirectory() as tmp:
            bench("sqlite", Path(tmp), None, args.monitors)
    if args.only in (None, "postgresql"):
        with tempfile.TemporaryDirectory() as tmp, scratch_postgres() as url:
            bench("postgresql", Path(tmp), url, args.monitors)


if __name__ == "__main__":
    main()
