"""Probe engine: lateness at 10,000 monitors, and probes/s against a bare aiohttp loop.

A local aiohttp target runs in a subprocess (so its CPU is not the engine's); this
process runs the engine (``ProbeScheduler`` + ``probe_executor`` on a ``ProbeClient``),
with the garbage collector tuned as ``tocsin server`` tunes it (``gc_tuning``); the
bare and runner loops below run in the same process under the same settings.

1. **Lateness**: ``--monitors`` HTTP jobs at ``--interval`` for ``--seconds``; prints the
   median, p99 and max lateness (actual start - scheduled start) and the engine's CPU.
2. **Throughput**: jobs at a 1 s interval, ``--burst-start`` of them and 50 % more each
   ``--burst-seconds`` window until the engine saturates (skips slots); its best window
   is its maximum probes/s. Then, with the same concurrency on the same target, a
   bare aiohttp loop (``session.get`` + ``read``) and a loop calling ``run_http_probe``
   directly, in alternating rounds; prints the probes/s and CPU per probe of each, and
   the engine's ratio to both (medians over the rounds).

    .venv/bin/python bench/probes.py [--seconds 90] [--monitors 10000] [--interval 60]
        [--concurrency 100] [--burst-start 500] [--burst-seconds 3] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

import aiohttp
from _common import percentile, run, serving_script
from aiohttp import web

from tocsin.server.gc_tuning import tune_garbage_collector
from tocsin.server.probes import (
    HttpTarget,
    ProbeClient,
    ProbeJob,
    ProbeOutcome,
    ProbeScheduler,
    probe_executor,
    run_http_probe,
)


def serve_target(port: int) -> None:
    """The target process: answer ``GET /`` with a short 200 as fast as possible."""

    async def ok(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/", ok)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


@contextlib.contextmanager
def target_process() -> Iterator[str]:
    """Run the target in a subprocess; yield its URL."""
    with serving_script(__file__) as port:
        yield f"http://127.0.0.1:{port}/"


def make_jobs(url: str, first: int, last: int, interval: timedelta) -> list[ProbeJob]:
    """HTTP jobs ``first``..``last`` on ``url``, each its own host key (as monitors of
    10,000 different sites would be)."""
    target = HttpTarget(url, timeout=timedelta(seconds=10))
    return [ProbeJob(i, target, interval, host=f"monitor-{i}") for i in range(first, last + 1)]


async def lateness(url: str, args: argparse.Namespace) -> None:
    """Part 1: many jobs at a long interval; how late do they start?"""
    late: list[float] = []
    failures = 0

    def collect(batch: list[ProbeOutcome]) -> None:
        nonlocal failures
        for outcome in batch:
            late.append(outcome.lateness.total_seconds())
            failures += outcome.observation.failure is not None

    async with ProbeClient() as client:
        scheduler = ProbeScheduler(
            probe_executor(client), collect, concurrency=args.concurrency, per_host=None
        )
        began_cpu, began = time.process_time(), time.monotonic()
        for job in make_jobs(url, 1, args.monitors, timedelta(seconds=args.interval)):
            scheduler.upsert(job)
        scheduler.start()
        await asyncio.sleep(args.seconds)
        await scheduler.stop()
        elapsed, cpu = time.monotonic() - began, time.process_time() - began_cpu
    stats = scheduler.stats()
    print(
        f"lateness: {args.monitors} monitors at {args.interval:g} s, {elapsed:.0f} s: "
        f"{stats.runs} runs, {stats.skips} skips, {failures} failed probes\n"
        f"  lateness median {percentile(late, 0.5) * 1000:.1f} ms, "
        f"p99 {percentile(late, 0.99) * 1000:.1f} ms, max {max(late, default=0) * 1000:.1f} ms"
        f"  (target: p99 <= 1000 ms)\n"
        f"  engine CPU {cpu:.1f} s = {cpu / elapsed * 100:.1f} % of a core, "
        f"{cpu / max(stats.runs, 1) * 1e6:.0f} us per probe",
        flush=True,
    )


class Rate(NamedTuple):
    """Probes per second over a window, and this process's CPU per probe."""

    per_second: float
    cpu_us: float

    def __str__(self) -> str:
        return f"{self.per_second:7.0f} probes/s {self.cpu_us:5.0f} us CPU/probe"


def measured(count: int, elapsed: float, cpu: float) -> Rate:
    """The rate of ``count`` probes done in ``elapsed`` s using ``cpu`` s of CPU."""
    return Rate(count / elapsed, cpu / max(count, 1) * 1e6)


async def engine_rate(url: str, args: argparse.Namespace) -> Rate:
    """The engine's best probes/s: jobs at 1 s, 50 % more each window until it saturates
    (more than 5 % of the slots skipped)."""
    best = Rate(0.0, 0.0)
    async with ProbeClient() as client:
        scheduler = ProbeScheduler(
            probe_executor(client),
            lambda batch: None,
            concurrency=args.concurrency,
            per_host=None,
        )
        scheduler.start()
        jobs, target_jobs = 0, args.burst_start
        while True:
            for job in make_jobs(url, jobs + 1, target_jobs, timedelta(seconds=1)):
                scheduler.upsert(job)
            jobs = target_jobs
            await asyncio.sleep(1.5)  # every new job reached its first slot
            before = scheduler.stats()
            began, began_cpu = time.monotonic(), time.process_time()
            await asyncio.sleep(args.burst_seconds)
            after, elapsed = scheduler.stats(), time.monotonic() - began
            rate = measured(after.runs - before.runs, elapsed, time.process_time() - began_cpu)
            skipped = (after.skips - before.skips) / elapsed
            print(
                f"  engine        {rate}  ({jobs} jobs at 1 s, {skipped:.0f} skips/s)", flush=True
            )
            best = max(best, rate)
            if skipped > 0.05 * jobs or jobs >= args.burst_max:
                break
            target_jobs = int(jobs * 1.5)
        await scheduler.stop()
    return best


async def loop_rate(
    label: str, args: argparse.Namespace, request: Callable[[], Awaitable[None]]
) -> Rate:
    """``--concurrency`` workers calling ``request`` back to back."""
    count = 0
    stop_at = 0.0

    async def worker() -> None:
        nonlocal count
        while time.monotonic() < stop_at:
            await request()
            count += 1

    stop_at = time.monotonic() + 1  # warm up
    await asyncio.gather(*(worker() for _ in range(args.concurrency)))
    count = 0
    began, began_cpu = time.monotonic(), time.process_time()
    stop_at = began + args.burst_seconds
    await asyncio.gather(*(worker() for _ in range(args.concurrency)))
    rate = measured(count, time.monotonic() - began, time.process_time() - began_cpu)
    print(f"  {label:<13} {rate}", flush=True)
    return rate


async def bare_rate(url: str, args: argparse.Namespace) -> Rate:
    """Plain aiohttp: ``session.get`` and ``read``, nothing else."""
    async with aiohttp.ClientSession() as session:

        async def bare() -> None:
            async with session.get(url) as response:
                await response.read()

        return await loop_rate("bare aiohttp", args, bare)


async def runner_rate(url: str, args: argparse.Namespace) -> Rate:
    """The probe runner without the scheduler: ``run_http_probe`` back to back."""
    target = HttpTarget(url)
    async with ProbeClient() as client:

        async def runner() -> None:
            await run_http_probe(client, target, now=datetime.now(UTC))

        return await loop_rate("runner loop", args, runner)


async def throughput(url: str, args: argparse.Namespace) -> None:
    """Part 2: the engine against the same requests without it, in alternating rounds
    (the machine is shared: alternating spreads the noise over all three)."""
    rates: dict[str, list[Rate]] = {"engine": [], "bare": [], "runner": []}
    for round_number in range(1, args.rounds + 1):
        print(f"throughput round {round_number}/{args.rounds}:", flush=True)
        rates["engine"].append(await engine_rate(url, args))
        rates["bare"].append(await bare_rate(url, args))
        rates["runner"].append(await runner_rate(url, args))
    median = {
        name: Rate(
            statistics.median(r.per_second for r in found),
            statistics.median(r.cpu_us for r in found),
        )
        for name, found in rates.items()
    }
    engine, bare, runner = median["engine"], median["bare"], median["runner"]
    print(
        f"medians: engine {engine}; bare aiohttp {bare}; runner loop {runner}\n"
        f"engine / bare aiohttp: {engine.per_second / bare.per_second * 100:.0f} % of the "
        f"probes/s (target: >= 70 %), {bare.cpu_us / engine.cpu_us * 100:.0f} % per CPU "
        f"second\n"
        f"engine / runner loop (the scheduler's own cost): "
        f"{engine.per_second / runner.per_second * 100:.0f} % of the probes/s, "
        f"{runner.cpu_us / engine.cpu_us * 100:.0f} % per CPU second",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=90)
    parser.add_argument("--monitors", type=int, default=10_000)
    parser.add_argument("--interval", type=float, default=60)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--burst-start", type=int, default=500)
    parser.add_argument("--burst-max", type=int, default=20_000)
    parser.add_argument("--burst-seconds", type=float, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", choices=["lateness", "throughput"])
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve_target(args.serve)
        return
    print(
        f"concurrency {args.concurrency}; target in a subprocess, engine in this one; "
        "garbage collector tuned as in `tocsin server`, for all three loops",
        flush=True,
    )
    tune_garbage_collector()
    with target_process() as url:
        if args.only in (None, "lateness"):
            run(lateness(url, args))
        if args.only in (None, "throughput"):
            run(throughput(url, args))


if __name__ == "__main__":
    main()
