"""Alerts at scale: 10,000 heartbeats go silent together across 10 webhook channels, one hung.

Starts a real ``tocsin server`` subprocess and 10 webhook receivers in a second
subprocess (127.0.0.1, one port each, so the pings this script sends never slow the
receivers down). The receivers are a bare HTTP/1.1 server on asyncio's protocols, not a
web framework: they share the machine's cores with the server under test, while a real
Slack or webhook endpoint runs elsewhere. They answer at once, or ``--receiver-delay``
seconds after each alert, as a remote endpoint would. Receiver 0 is hung: it accepts
each request and never answers. 10,000 heartbeat monitors (period 2 s, grace 1 s) are
created and pinged once, interleaved over the channels, then left silent, so all of them
go down within the few seconds the pings took.

Reading of "10,000 monitors go down together across 10 channels": each monitor has one
channel, the monitors spread evenly over the 10 channels, so 10,000 alerts in all, 1,000
per channel: 9,000 to the healthy receivers, 1,000 to the hung one.

Printed per database:

- alerts the 9 healthy receivers got (must be all 9,000, each once);
- their lateness: arrival minus deadline (the stored last ping + period + grace),
  p50/p99/max against the target (p99 <= 1 s), split into the flip's lateness (the
  payload's ``flip.at`` minus the deadline: the deadline watch) and arrival minus flip
  (the outbox, the delivery worker and the receiver);
- the server's CPU per alert: its utime + stime (``/proc/<pid>/stat``), with its child
  processes' (the alert sender), from the first ping
  until the last healthy alert arrived, minus what the pings cost (measured first, on
  2,000 monitors that never go down), divided by the alerts;
- the hung channel: its notifications (its queue) and the requests its receiver accepted
  (each held until the webhook's 10 s timeout); after ``--linger`` seconds, its recorded
  attempts by outcome;
- with ``--chunks``, a line per deadline chunk (alerts share their flip's time, the chunk's
  start; PostgreSQL chunks started together share a line): how many healthy alerts, the
  deadlines it covered, when they arrived, and how late its latest was. A lateness that
  grows chunk by chunk means the flips fall behind.

The bench shares the machine with the server (and whatever else runs): the load average
is printed with each run. Each run stops by itself (``--timeout``) and removes its
scratch database.

    .venv/bin/python bench/alerts.py [--monitors 10000] [--only sqlite|postgresql]
        [--receiver-delay SECONDS] [--chunks]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

import aiohttp
from _common import (
    ServerProcess,
    add_webhook_channels,
    create_monitors,
    percentile,
    run,
    scratch_postgres,
    start_py_spy,
)
from aiohttp import web
from alert_latency import load_once
from pings import cpu_seconds
from plain_target import ANSWER
from sqlalchemy import func, select
from tests.conftest import free_port

from tocsin.server.storage.database import Database
from tocsin.server.storage.tables import channels, delivery_attempts, notifications

PERIOD = timedelta(seconds=2)
GRACE = timedelta(seconds=1)
CHANNELS = 10
HUNG = 0  # the index of the channel whose receiver never answers
QUIET_MONITORS = 2000  # pinged first to measure what a ping costs the server
SPY_SECONDS = 10  # the pings and the burst's deliveries, with room to spare
TARGET_P99_SECONDS = 1.0

# What a receiver records of an alert: channel index, arrival as Unix time, the monitor's
# last_ping_at, flip.at and the idempotency key.
Arrival = tuple[int, float, str, str, str]
BAD_REQUEST = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


# --- the receivers' process


class HookProtocol(asyncio.Protocol):
    """One connection to receiver ``index``: a bare HTTP/1.1 server (keep-alive,
    ``Content-Length`` bodies), so the receivers take little of the CPU the server under
    test shares with them. It records each alert as its head arrives and answers
    ``200 ok`` ``delay`` seconds later (a remote endpoint's round trip); the ``HUNG``
    receiver reads requests and never answers."""

    def __init__(
        self, index: int, arrivals: list[Arrival], hung: dict[str, int], delay: float
    ) -> None:
        self.index = index
        self.delay = delay
        self.arrivals = arrivals
        self.hung = hung
        self.buffer = bytearray()
        self.arrived: float | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            if self.arrived is None:
                self.arrived = time.time()
            length = 0
            for line in bytes(self.buffer[:end]).split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"transfer-encoding":  # never sent by tocsin
                    self.answer(BAD_REQUEST)
                    return
            if len(self.buffer) < end + 4 + length:
                return  # the rest of the body is on its way
            body = bytes(self.buffer[end + 4 : end + 4 + length])
            del self.buffer[: end + 4 + length]
            arrived, self.arrived = self.arrived, None
            if self.index == HUNG:
                self.hung["requests"] += 1
                continue  # held until the server's timeout closes the connection
            alert = json.loads(body)
            monitor, flip = alert["monitor"], alert["flip"]
            self.arrivals.append(
                (self.index, arrived, monitor["last_ping_at"], flip["at"], alert["idempotency_key"])
            )
            if self.delay > 0:
                asyncio.get_running_loop().call_later(self.delay, self.answer, ANSWER)
            else:
                self.answer(ANSWER)

    def answer(self, response: bytes) -> None:
        if self.transport is None:
            return
        self.transport.write(response)
        if response is BAD_REQUEST:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None  # a delayed answer to a closed connection is dropped


async def serve_receivers(control_port: int, ports: list[int], delay: float) -> None:
    """Receiver ``i`` on ``ports[i]``, answering ``delay`` seconds after each request;
    ``GET /status`` and ``GET /arrivals`` on ``control_port`` report what they got.
    Receiver ``HUNG`` holds every request."""
    arrivals: list[Arrival] = []
    hung = {"requests": 0}

    async def status(_request: web.Request) -> web.Response:
        return web.json_response({"healthy": len(arrivals), "hung": hung["requests"]})

    async def got(_request: web.Request) -> web.Response:
        return web.json_response(arrivals)

    app = web.Application()
    app.router.add_get("/status", status)
    app.router.add_get("/arrivals", got)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", control_port).start()
    loop = asyncio.get_running_loop()
    for index, port in enumerate(ports):
        await loop.create_server(
            functools.partial(HookProtocol, index, arrivals, hung, delay), "127.0.0.1", port
        )
    print("ready", flush=True)
    await asyncio.Event().wait()  # until terminated


# --- this process


def server_cpu_seconds(pid: int) -> float:
    """User + system CPU time of the server ``pid`` and its running child processes (the
    alert sender) so far."""
    total = cpu_seconds(pid)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                total += cpu_seconds(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue  # a process that ended meanwhile
    return total


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


class ReceiverProcess:
    """The receivers' subprocess and its control endpoint."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.control = f"http://127.0.0.1:{free_port()}"
        self.ports = [free_port() for _ in range(CHANNELS)]
        self.process: subprocess.Popen[str] | None = None

    @property
    def urls(self) -> list[str]:
        """The webhook URL of each channel."""
        return [f"http://127.0.0.1:{port}/hook/{index}" for index, port in enumerate(self.ports)]

    async def start(self) -> None:
        """Start the receivers and wait until they listen."""
        control_port = self.control.rsplit(":", 1)[1]
        self.process = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--serve-receivers",
                str(self.delay),
                control_port,
                *map(str, self.ports),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = await asyncio.to_thread(self.process.stdout.readline)
        if line.strip() != "ready":
            raise RuntimeError("the receivers did not start")

    async def get(self, session: aiohttp.ClientSession, path: str) -> Any:
        """A control endpoint's JSON."""
        async with session.get(f"{self.control}{path}") as response:
            return await response.json()

    def stop(self) -> None:
        """Stop the receivers (the hung one's held requests end with them)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


async def wait_healthy(
    receivers: ReceiverProcess, session: aiohttp.ClientSession, expected: int, timeout: float
) -> dict[str, int]:
    """Poll the receivers until the healthy ones got ``expected`` alerts (or ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        status: dict[str, int] = await receivers.get(session, "/status")
        if status["healthy"] >= expected or time.monotonic() > deadline:
            return status
        await asyncio.sleep(0.02)


async def measure(
    server: ServerProcess,
    count: int,
    timeout: float,
    linger: float,
    spy: str | None = None,
    receiver_delay: float = 0.0,
) -> dict[str, Any]:
    """Set up receivers, channels and monitors, ping once, wait for the alerts."""
    assert server.process is not None
    pid = server.process.pid
    hung_count = len(range(HUNG, count, CHANNELS))
    expected = count - hung_count
    receivers = ReceiverProcess(receiver_delay)
    await receivers.start()
    try:
        async with aiohttp.ClientSession() as control:
            await add_webhook_channels(
                server.database_url, {f"bench-{i}": url for i, url in enumerate(receivers.urls)}
            )
            # The cost of the pings alone, on monitors that never go down.
            started = time.monotonic()
            quiet = min(count, QUIET_MONITORS)
            calibration = await create_monitors(
                server.database_url, quiet, prefix="quiet", period="1d"
            )
            uuids = await create_spread(server.database_url, count)
            setup_seconds = time.monotonic() - started
            cpu_before, started = server_cpu_seconds(pid), time.monotonic()
            await load_once(server.base_url, calibration)
            ping_cpu = (server_cpu_seconds(pid) - cpu_before) / quiet
            quiet_seconds = time.monotonic() - started

            load = os.getloadavg()
            spying = start_py_spy(pid, SPY_SECONDS, spy) if spy else None
            cpu_before = server_cpu_seconds(pid)
            started = time.monotonic()
            await load_once(server.base_url, uuids)
            ping_seconds = time.monotonic() - started
            at_done = await wait_healthy(receivers, control, expected, timeout)
            if spying is not None:
                await asyncio.to_thread(spying.wait)
            alerts_cpu = server_cpu_seconds(pid) - cpu_before - ping_cpu * count
            load_after = os.getloadavg()
            await asyncio.sleep(linger)
            hung_later = (await receivers.get(control, "/status"))["hung"]
            arrivals = await receivers.get(control, "/arrivals")
        hung_status, hung_outcomes = await hung_channel_state(server.database_url)
    finally:
        receivers.stop()
        server.stop()
    lateness: list[float] = []
    flip_lateness: list[float] = []
    after_flip: list[float] = []
    keys: set[str] = set()
    per_channel: Counter[int] = Counter()
    # Alerts by their flip's time, which is when its deadline chunk started.
    chunks: dict[float, list[tuple[float, float]]] = {}
    for index, arrived, last_ping_at, flip_at, key in arrivals:
        deadline = (datetime.fromisoformat(last_ping_at) + PERIOD + GRACE).timestamp()
        flipped = datetime.fromisoformat(flip_at).timestamp()
        lateness.append(arrived - deadline)
        flip_lateness.append(flipped - deadline)
        after_flip.append(arrived - flipped)
        chunks.setdefault(flipped, []).append((deadline, arrived))
        keys.add(key)
        per_channel[index] += 1
    return {
        "load": load,
        "load_after": load_after,
        "ping_seconds": ping_seconds,
        "quiet": quiet,
        "quiet_seconds": quiet_seconds,
        "setup_seconds": setup_seconds,
        "healthy": len(arrivals),
        "expected": expected,
        "duplicates": len(arrivals) - len(keys),
        "per_channel": sorted(per_channel.values()),
        "lateness": lateness,
        "flip_lateness": flip_lateness,
        "after_flip": after_flip,
        "chunks": chunks,
        "hung_count": hung_count,
        "hung_at_done": at_done["hung"],
        "hung_requests": hung_later,
        "hung_status": hung_status,
        "hung_outcomes": hung_outcomes,
        "cpu_per_alert": alerts_cpu / count,
        "ping_cpu": ping_cpu,
    }


def _ms(values: list[float]) -> str:
    """p50/p99/max of ``values`` (seconds) in milliseconds."""
    if not values:
        return "no values"
    return (
        f"p50 {percentile(values, 0.5) * 1000:.0f} ms  p99 {percentile(values, 0.99) * 1000:.0f} ms"
        f"  max {max(values) * 1000:.0f} ms"
    )


def report_chunks(chunks: dict[float, list[tuple[float, float]]]) -> None:
    """One line per deadline chunk that sent healthy alerts: when it started, how many,
    the deadlines it covered and when its alerts arrived (seconds from the first
    deadline), and its latest alert's lateness."""
    if not chunks:
        return
    first = min(deadline for alerts in chunks.values() for deadline, _ in alerts)
    print("  chunk start  alerts  deadlines         arrivals          latest")
    for started, alerts in sorted(chunks.items()):
        deadlines = [deadline - first for deadline, _ in alerts]
        arrived = [at - first for _, at in alerts]
        worst = max(at - deadline for deadline, at in alerts)
        print(
            f"  {started - first:11.3f}  {len(alerts):6d}  "
            f"{min(deadlines):6.3f} - {max(deadlines):6.3f}  "
            f"{min(arrived):6.3f} - {max(arrived):6.3f}  {worst * 1000:6.0f} ms"
        )


def report(label: str, count: int, linger: float, result: dict[str, Any]) -> None:
    """Print one run's figures."""
    lateness = result["lateness"]
    loads = [" ".join(f"{value:.2f}" for value in result[key]) for key in ("load", "load_after")]
    healthy_channels = CHANNELS - 1
    p99 = percentile(lateness, 0.99)
    verdict = "met" if lateness and p99 <= TARGET_P99_SECONDS else "missed"
    print(
        f"{label}: {count} monitors over {CHANNELS} channels (1 hung); "
        f"load average {loads[0]} at the pings, {loads[1]} when done"
    )
    print(
        f"  delivered to the {healthy_channels} healthy channels: "
        f"{result['healthy']}/{result['expected']} (each {min(result['per_channel'], default=0)}"
        f"..{max(result['per_channel'], default=0)} over {len(result['per_channel'])}"
        f"/{healthy_channels} channels), duplicates {result['duplicates']}"
    )
    print(
        f"  arrival - deadline: {_ms(lateness)}  "
        f"(target p99 <= {TARGET_P99_SECONDS * 1000:.0f} ms: {verdict})"
    )
    print(f"    flip - deadline:    {_ms(result['flip_lateness'])}  (the deadline watch)")
    print(f"    arrival - flip:     {_ms(result['after_flip'])}  (outbox, delivery, receiver)")
    print(
        f"  server CPU per alert: {result['cpu_per_alert'] * 1e6:.0f} us "
        f"(pings alone: {result['ping_cpu'] * 1e6:.0f} us each, subtracted)"
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
        f"  pings sent in {result['ping_seconds']:.1f} s ({result['quiet']} to quiet monitors "
        f"in {result['quiet_seconds']:.1f} s); setup {result['setup_seconds']:.0f} s",
        flush=True,
    )


def bench(label: str, data_dir: Path, database_url: str | None, args: argparse.Namespace) -> None:
    """One run on one database."""
    server = ServerProcess(data_dir, database_url)
    server.start()
    try:
        spy = str(Path(args.spy) / f"alerts-{label}.txt") if args.spy else None
        result = run(
            measure(server, args.monitors, args.timeout, args.linger, spy, args.receiver_delay)
        )
    finally:
        server.stop()
    assert isinstance(result, dict)
    report(label, args.monitors, args.linger, result)
    if args.chunks:
        report_chunks(result["chunks"])


def main() -> None:
    if sys.argv[1:2] == ["--serve-receivers"]:
        delay = float(sys.argv[2])
        control, *ports = (int(port) for port in sys.argv[3:])
        with contextlib.suppress(KeyboardInterrupt):
            run(serve_receivers(control, ports, delay))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--monitors", type=int, default=10_000)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument(
        "--timeout", type=float, default=120, help="seconds to wait for the healthy alerts"
    )
    parser.add_argument(
        "--chunks",
        action="store_true",
        help="also print each deadline chunk: its start, its alerts, the deadlines it "
        "covered, when they arrived and its latest one's lateness",
    )
    parser.add_argument(
        "--linger",
        type=float,
        default=12,
        help="seconds to keep watching the hung channel once the healthy alerts are in "
        "(its webhook timeout is 10 s)",
    )
    parser.add_argument(
        "--spy",
        metavar="DIR",
        help=f"record the server with py-spy for {SPY_SECONDS} s from the burst's first ping, "
        "one file per database in DIR",
    )
    parser.add_argument(
        "--receiver-delay",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="the healthy receivers answer this long after each alert arrives, as a remote "
        "endpoint would (default 0)",
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
