"""CPU per webhook POST: the alert channels' own HTTP client against aiohttp's.

A local aiohttp receiver runs in a subprocess (its CPU is not counted) and answers 200
``ok``. This process sends N POSTs with up to C in flight through (a) ``posting.post`` on
an ``HttpClient`` and (b) an aiohttp ``ClientSession`` used the way ``posting.post`` did
before (a connector limited to C, no cookie jar, no redirects, a total timeout), in
alternating rounds, and prints the CPU microseconds per POST of each and their ratio.

    .venv/bin/python bench/webhook_posts.py [--posts 20000] [--concurrency 100]
        [--rounds 4] [--loop uvloop|asyncio]

The server runs uvloop when it is installed (uvicorn's ``loop="auto"``), hence the default.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Awaitable, Callable

import aiohttp
from _common import serving_script

from tocsin.server.alerts.channels.http_client import HttpClient
from tocsin.server.alerts.channels.posting import USER_AGENT, post
from tocsin.server.alerts.channels.webhook import webhook_body

PAYLOAD = {"event": "down", "summary": "job is DOWN: no ping", "monitor": {"name": "job"}}
TIMEOUT_SECONDS = 10.0


def serve(port: int) -> None:
    """The receiver (run in the subprocess): 200 ``ok`` to every POST."""
    from aiohttp import web

    async def hook(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", hook)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


async def aiohttp_post(session: aiohttp.ClientSession, url: str, body: bytes, key: str) -> int:
    """``posting.post`` as it was with aiohttp (the 2xx path)."""
    headers = {
        "User-Agent": USER_AGENT,
        "Content-Type": "application/json",
        "Idempotency-Key": key,
    }
    timeout = aiohttp.ClientTimeout(total=TIMEOUT_SECONDS)
    async with session.post(
        url, data=body, headers=headers, timeout=timeout, allow_redirects=False
    ) as response:
        if not 200 <= response.status < 300:
            raise RuntimeError(f"HTTP {response.status}")
        return response.status


async def timed(posts: int, concurrency: int, send: Callable[[int], Awaitable[int]]) -> float:
    """CPU seconds of this process to send ``posts`` POSTs, ``concurrency`` at a time."""
    counter = iter(range(posts))

    async def worker() -> None:
        for number in counter:
            await send(number)

    started = time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.process_time() - started


async def bench(url: str, posts: int, concurrency: int, rounds: int) -> None:
    body = webhook_body(PAYLOAD)
    per_round = posts // rounds
    cpu = {"own client": 0.0, "aiohttp": 0.0}
    client = HttpClient(max_idle_per_origin=concurrency)
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=concurrency, ttl_dns_cache=10),
        cookie_jar=aiohttp.DummyCookieJar(),
    )
    try:

        async def own(number: int) -> int:
            headers = {"Idempotency-Key": f"key-{number}"}
            return await post(client, url, body, headers, TIMEOUT_SECONDS)

        async def theirs(number: int) -> int:
            return await aiohttp_post(session, url, body, f"key-{number}")

        # A warm-up of each (connections opened, code paths hot), not counted.
        await timed(concurrency * 2, concurrency, own)
        await timed(concurrency * 2, concurrency, theirs)
        for number in range(rounds):
            order = [("own client", own), ("aiohttp", theirs)]
            for name, send in order if number % 2 == 0 else order[::-1]:
                seconds = await timed(per_round, concurrency, send)
                cpu[name] += seconds
                print(f"round {number + 1} {name:>10}: {seconds / per_round * 1e6:6.1f} µs/POST")
    finally:
        await client.close()
        await session.close()
    total = per_round * rounds
    own_us, theirs_us = cpu["own client"] / total * 1e6, cpu["aiohttp"] / total * 1e6
    print(f"{total} POSTs each, {concurrency} in flight, load average {os.getloadavg()[0]:.2f}")
    print(f"own client: {own_us:.1f} µs CPU per POST")
    print(f"aiohttp:    {theirs_us:.1f} µs CPU per POST")
    print(f"ratio (aiohttp / own): {theirs_us / own_us:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    with serving_script(__file__) as port:
        url = f"http://127.0.0.1:{port}/hook"
        run = bench(url, args.posts, args.concurrency, args.rounds)
        if args.loop == "uvloop":
            import uvloop

            uvloop.run(run)
        else:
            asyncio.run(run)


if __name__ == "__main__":
    main()
