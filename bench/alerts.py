"""Alerts at scale: 10,000 heartbeats go silent together across 10 webhook channels, one hung.

Starts a real ``tocsin server`` subprocess and 10 webhook receivers in this process
(aiohttp on 127.0.0.1, one port each). Receiver 0 is hung: it accepts each request and
never answers. 10,000 heartbeat monitors (period 2 s, grace 1 s) are created and pinged
once, interleaved over the channels, then left silent, so all of them go down within the
few seconds the pings took.

Reading of "10,000 monitors go down together across 10 channels": each monitor has one
channel, the monitors spread evenly over the 10 channels, so 10,000 alerts in all, 1,000
per channel: 9,000 to the healthy receivers, 1,000 to the hung one.

Printed per database:

- alerts the 9 healthy receivers got (must be all 9,000, each once) and their lateness:
  arrival minus deadline (the stored last ping + period + grace), p50/p99/max (target:
  p99 <= 1 s), and when the deadline watch flipped them (the payload's ``flip.at``);
- the hung channel: its notifications (its queue) and the requests its receiver accepted
  (each held until the webhook's 10 s timeout); after ``--linger`` seconds, its recorded
  attempts by outcome;
- the server's CPU per alert: its utime + stime (``/proc/<pid>/stat``) from the first ping
  until the last healthy alert arrived, minus what the pings cost (measured first, on
  2,000 monitors that never go down), divided by the alerts.

The bench shares the machine with the server (and whatever else runs): the load average
is printed with each run. Each run stops by itself (``--timeout``) and removes its
scratch database.

    .venv/bin/python bench/alerts.py [--monitors 10000] [--only sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _common import ServerProcess, create_monitors, percentile, run, scratch_postgres
from aiohttp import web
from alert_latency import load_once
from pings import cpu_seconds
from sqlalchemy import func, select
from tests.conftest import free_port

from tocsin.server.domain.spec import channel_spec
from tocsin.server.storage.channels import create_channel
from tocsin.server.storage.database import Database
from tocsin.server.storage.projects import default_project
from tocsin.server.storage.tables import channels, delivery_attempts, notifications

PERIOD = timedelta(seconds=2)
GRACE = timedelta(seconds=1)
CHANNELS = 10
HUNG = 0  # the index of the channel whose receiver never answers
QUIET_MONITORS = 2000  # pinged first to measure what a ping costs the server


@dataclass
class Receivers:
    """What the webhook receivers got; receiver ``HUNG`` holds every request it accepts."""

    expected: int  # alerts due to the healthy receivers
    arrivals: dict[int, list[tuple[datetime, dict[str, Any]]]] = field(default_factory=dict)
    hung_requests: int = 0
    healthy_done: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def healthy(self) -> int:
        """Alerts the healthy receivers got so far."""
        return sum(len(got) for got in self.arrivals.values())

    async def hook(self, request: web.Request) -> web.Response:
        """One receiver's handler; which one is in the path."""
        index = int(request.match_info["index"])
        if index == HUNG:
            self.hung_requests += 1
            await self.release.wait()  # set only when the bench is over
            return web.Response(status=503)
        arrived = datetime.now(UTC)
        self.arrivals.setdefault(index, []).append((arrived, await request.json()))
        if self.healthy >= self.expected:
            self.healthy_done.set()
        return web.Response(text="ok")


async def add_channels(database_url: str, urls: list[str]) -> None:
    """Create webhook channels ``bench-<i>`` posting to ``urls[i]``."""
    database = Database(database_url)
    try:
        async with database.write() as conn:
            project = await default_project(conn)
            for index, url in enumerate(urls):
                spec = channel_spec({"name": f"bench-{index}", "kind": "webhook", "url": url})
                await create_channel(conn, project.id, spec, datetime.now(UTC))
    finally:
        await database.dispose()


async def create_spread(database_url: str, count: int) -> list[str]:
    """``count`` heartbeat monitors spread evenly over the channels; their uuids
    interleaved (channel 0, 1, ..., 9, 0, ...) so every channel's alerts come at once."""
    per_channel = [
        await create_monitors(
            database_url,
            len(range(index, count, CHANNELS)),
            prefix=f"ch{index}",
            period=PERIOD.total_seconds(),
            grace=GRACE.total_seconds(),
            channels=[f"bench-{index}"],
        )
        for index in range(CHANNELS)
    ]
    longest = max(len(uuids) for uuids in per_channel)
    return [uuids[i] for i in range(longest) for uuids in per_channel if i < len(uuids)]


async def hung_channel_state(database_url: str) -> tuple[Counter[str], Counter[str]]:
    """The hung channel's notifications by status and recorded attempts by outcome."""
    database = Database(database_url)
    try:
        async with database.read() as conn:
            channel_id = (
                await conn.execute(select(channels.c.id).where(channels.c.name == f"bench-{HUNG}"))
            ).scalar_one()
            statuses = (
                await conn.execute(
                    select(notifications.c.status, func.count())
                    .where(notifications.c.channel_id == channel_id)
                    .group_by(notifications.c.status)
                )
            ).all()
            outcomes = (
                await conn.execute(
                    select(delivery_attempts.c.outcome, delivery_attempts.c.error, func.count())
                    .where(delivery_attempts.c.channel_id == channel_id)
                    .group_by(delivery_attempts.c.outcome, delivery_attempts.c.error)
                )
            ).all()
    finally:
        await database.dispose()
    by_status = Counter({str(status): int(n) for status, n in statuses})
    by_outcome: Counter[str] = Counter()
    for outcome, error, n in outcomes:
        by_outcome[f"{outcome} ({error})" if error else str(outcome)] += int(n)
    return by_status, by_outcome


async def measure(
    server: ServerProcess, count: int, timeout: float, linger: float
) -> dict[str, Any]:
    """Set up receivers, channels and monitors, ping once, wait for the alerts."""
    assert server.process is not None
    pid = server.process.pid
    hung_count = len(range(HUNG, count, CHANNELS))
    receivers = Receivers(expected=count - hung_count)
    app = web.Application()
    app.router.add_post("/hook/{index}", receivers.hook)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
    await runner.setup()
    ports = [free_port() for _ in range(CHANNELS)]
    for port in ports:
        await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        urls = [f"http://127.0.0.1:{port}/hook/{index}" for index, port in enumerate(ports)]
        await add_channels(server.database_url, urls)
        # The cost of the pings alone, on monitors that never go down.
        started = time.monotonic()
        quiet = min(count, QUIET_MONITORS)
        calibration = await create_monitors(server.database_url, quiet, prefix="quiet", period="1d")
        uuids = await create_spread(server.database_url, count)
        setup_seconds = time.monotonic() - started
        cpu_before, started = cpu_seconds(pid), time.monotonic()
        await load_once(server.base_url, calibration)
        ping_cpu = (cpu_seconds(pid) - cpu_before) / quiet
        quiet_seconds = time.monotonic() - started

        load = os.getloadavg()
        cpu_before = cpu_seconds(pid)
        started = time.monotonic()
        await load_once(server.base_url, uuids)
        ping_seconds = time.monotonic() - started
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(receivers.healthy_done.wait(), timeout)
        alerts_cpu = cpu_seconds(pid) - cpu_before - ping_cpu * count
        hung_at_done = receivers.hung_requests
        await asyncio.sleep(linger)
        hung_status, hung_outcomes = await hung_channel_state(server.database_url)
    finally:
        receivers.release.set()
        server.stop()
        await runner.cleanup()
    lateness: list[float] = []
    flip_lateness: list[float] = []
    keys: set[str] = set()
    for got in receivers.arrivals.values():
        for arrived, body in got:
            deadline = datetime.fromisoformat(body["monitor"]["last_ping_at"]) + PERIOD + GRACE
            lateness.append((arrived - deadline).total_seconds())
            flip_at = datetime.fromisoformat(body["flip"]["at"])
            flip_lateness.append((flip_at - deadline).total_seconds())
            keys.add(body["idempotency_key"])
    return {
        "load": load,
        "ping_seconds": ping_seconds,
        "quiet": quiet,
        "quiet_seconds": quiet_seconds,
        "setup_seconds": setup_seconds,
        "healthy": receivers.healthy,
        "expected": receivers.expected,
        "duplicates": receivers.healthy - len(keys),
        "per_channel": sorted(len(got) for got in receivers.arrivals.values()),
        "lateness": lateness,
        "flip_lateness": flip_lateness,
        "hung_count": hung_count,
        "hung_at_done": hung_at_done,
        "hung_requests": receivers.hung_requests,
        "hung_status": hung_status,
        "hung_outcomes": hung_outcomes,
        "cpu_per_alert": alerts_cpu / count,
        "ping_cpu": ping_cpu,
    }


def report(label: str, count: int, linger: float, result: dict[str, Any]) -> None:
    """Print one run's figures."""
    lateness, flips = result["lateness"], result["flip_lateness"]
    load = " ".join(f"{value:.2f}" for value in result["load"])
    healthy_channels = CHANNELS - 1
    print(f"{label}: {count} monitors over {CHANNELS} channels, load average {load}")
    print(
        f"  healthy channels: delivered {result['healthy']}/{result['expected']} "
        f"(per channel {min(result['per_channel'], default=0)}.."
        f"{max(result['per_channel'], default=0)} over {len(result['per_channel'])}"
        f"/{healthy_channels}), duplicates {result['duplicates']}"
    )
    print(
        f"  arrival - deadline: p50 {percentile(lateness, 0.5) * 1000:.0f} ms  "
        f"p99 {percentile(lateness, 0.99) * 1000:.0f} ms  "
        f"max {max(lateness, default=float('nan')) * 1000:.0f} ms  "
        f"(flipped down: p50 {percentile(flips, 0.5) * 1000:.0f} ms, "
        f"p99 {percentile(flips, 0.99) * 1000:.0f} ms after the deadline; "
        f"pings sent in {result['ping_seconds']:.1f} s, {result['quiet']} to quiet monitors "
        f"in {result['quiet_seconds']:.1f} s; setup {result['setup_seconds']:.0f} s)"
    )
    status = ", ".join(f"{n} {name}" for name, n in sorted(result["hung_status"].items()))
    outcomes = "; ".join(f"{n} {name}" for name, n in result["hung_outcomes"].most_common())
    print(
        f"  hung channel: {sum(result['hung_status'].values())}/{result['hung_count']} "
        f"notifications queued ({status}); requests accepted: {result['hung_at_done']} "
        f"when the healthy ones were done, {result['hung_requests']} after {linger:g} s more; "
        f"attempts recorded: {outcomes or 'none yet'}"
    )
    print(
        f"  server CPU per alert: {result['cpu_per_alert'] * 1e6:.0f} us "
        f"(pings alone: {result['ping_cpu'] * 1e6:.0f} us each, subtracted)",
        flush=True,
    )


def bench(label: str, data_dir: Path, database_url: str | None, args: argparse.Namespace) -> None:
    """One run on one database."""
    server = ServerProcess(data_dir, database_url)
    server.start()
    try:
        result = run(measure(server, args.monitors, args.timeout, args.linger))
    finally:
        server.stop()
    assert isinstance(result, dict)
    report(label, args.monitors, args.linger, result)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--monitors", type=int, default=10_000)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument(
        "--timeout", type=float, default=120, help="seconds to wait for the healthy alerts"
    )
    parser.add_argument(
        "--linger",
        type=float,
        default=12,
        help="seconds to keep watching the hung channel once the healthy alerts are in "
        "(its webhook timeout is 10 s)",
    )
    args = parser.parse_args()
    if args.only in (None, "sqlite"):
        with tempfile.TemporaryDirectory() as tmp:
            bench("sqlite", Path(tmp), None, args)
    if args.only in (None, "postgresql"):
        with tempfile.TemporaryDirectory() as tmp, scratch_postgres() as url:
            bench("postgresql", Path(tmp), url, args)


if __name__ == "__main__":
    main()
