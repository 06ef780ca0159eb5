"""Ping ingestion throughput and latency, on SQLite and PostgreSQL.

Starts a real ``tocsin server`` subprocess, creates 1,000 heartbeat monitors, then an
asyncio load generator (one keep-alive connection per worker, HTTP/1.1 written by hand
on asyncio streams) drives their ping URLs round-robin. Every ping answered 200 is durable
(the writer answers after commit); the script checks the stored count against the
acknowledged count after each run, and exits with status 1 if any run stored fewer pings
than it acknowledged.

    .venv/bin/python bench/pings.py [--seconds 15] [--concurrency 64] [--monitors 1000]
        [--probing 10000]

A baseline run follows on each database, in the same process: the same server with one
ping per transaction (``TOCSIN_WRITER_BATCH_MAX=1``), and the ratio between the two.

``--probing N`` adds, on each database, one more server with ``N`` ``http`` monitors
(every 60 s) on a local target in a subprocess (``bench/plain_target.py``, a fixed answer
that costs next to nothing, as a site on another machine would; ``--target aiohttp``
takes ``bench/probes.py``'s aiohttp app, which spent about 8 % of a core), and runs the
ping load ``--rounds`` times with those monitors paused, then probing (resumed, after the
probe engine scheduled them all): the ping load then competes with probing and with the
writes of its results. Phases alternate in the same server and minute, so the machine's
other load drifts less between them. It prints each phase, the probes/s the server made
meanwhile, and the median of the rounds' pings/s while probing as a share of without
(target: at least 90 %).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pwd
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from pathlib import Path

import httpx
from _common import (
    ServerProcess,
    create_monitors,
    percentile,
    run,
    scratch_postgres,
    start_py_spy,
)
from plain_target import plain_target_process
from probes import target_process
from sqlalchemy import func, select, update

from tocsin.server.storage.database import Database
from tocsin.server.storage.tables import monitors, pings


async def _connection_worker(
    host: str,
    port: int,
    paths: list[bytes],
    offset: int,
    stop_at: float,
    latencies: list[float],
    errors: list[int],
) -> None:
    """One keep-alive HTTP/1.1 connection sending pings back to back."""
    reader, writer = await asyncio.open_connection(host, port)
    n = offset
    try:
        while time.monotonic() < stop_at:
            path = paths[n % len(paths)]
            n += 1
            started = time.perf_counter()
            writer.write(b"GET " + path + b" HTTP/1.1\r\nHost: bench\r\nUser-Agent: bench\r\n\r\n")
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            if head.startswith(b"HTTP/1.1 200"):
                latencies.append(time.perf_counter() - started)
            else:
                errors.append(1)
    except (ConnectionError, asyncio.IncompleteReadError):
        errors.append(1)
    finally:
        writer.close()


async def load(
    base_url: str, uuids: list[str], seconds: float, concurrency: int
) -> dict[str, float]:
    """Drive ``/ping/<uuid>`` round-robin over ``concurrency`` keep-alive connections.

    A hand-written HTTP/1.1 client on asyncio streams: aiohttp spends ~250 us of CPU per
    request, more than the server, and the two share the machine's two cores.
    """
    address = base_url.split("://", 1)[1]
    host, port = address.rsplit(":", 1)
    paths = [f"/ping/{uuid}".encode() for uuid in uuids]
    latencies: list[float] = []
    errors: list[int] = []
    stop_at = time.monotonic() + seconds
    began = time.monotonic()
    await asyncio.gather(
        *(
            _connection_worker(host, int(port), paths, i * 7, stop_at, latencies, errors)
            for i in range(concurrency)
        )
    )
    elapsed = time.monotonic() - began
    return {
        "acked": len(latencies),
        "rate": len(latencies) / elapsed,
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "errors": len(errors),
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    return sum(user_and_system_seconds(pid))


def user_and_system_seconds(pid: int) -> tuple[float, float]:
    """The user and the system (kernel) CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / ticks, int(fields[12]) / ticks


def postgres_cpu_seconds() -> float:
    """User + system CPU time of every process the ``postgres`` user runs (the local
    PostgreSQL cluster: its backends, WAL writer, checkpointer and autovacuum), or 0.0
    when there is none. Backends that exited take their time with them."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/status"):
        try:
            uid = next(line for line in stat.read_text().splitlines() if line.startswith("Uid:"))
            if int(uid.split()[1]) == _POSTGRES_UID:
                total += cpu_seconds(int(stat.parent.name))
        except (OSError, StopIteration, ValueError):
            continue  # the process ended meanwhile
    return total


def _postgres_uid() -> int:
    try:
        return pwd.getpwnam("postgres").pw_uid
    except KeyError:
        return -1


_POSTGRES_UID = _postgres_uid()


async def stored(database_url: str) -> int:
    database = Database(database_url)
    try:
        async with database.read() as conn:
            return int((await conn.execute(select(func.count()).select_from(pings))).scalar_one())
    finally:
        await database.dispose()


def probe_metrics(base_url: str) -> dict[str, float]:
    """The server's ``tocsin_probe_*`` samples from ``/metrics``, by name with labels."""
    text = httpx.get(f"{base_url}/metrics", timeout=10).text
    sample = r"^(tocsin_probe_\w+(?:\{[^}]*\})?) (\S+)$"
    return {name: float(value) for name, value in re.findall(sample, text, re.MULTILINE)}


def probing_summary(before: dict[str, float], after: dict[str, float], seconds: float) -> str:
    """What the probe engine did between two ``probe_metrics`` readings."""
    samples = {
        "runs": "runs_total",
        "skips": "skips_total",
        "failed": 'results_total{verdict="fail"}',
        "errors": "errors_total",
        "dropped": "dropped_results_total",
    }
    done = {
        short: after.get(f"tocsin_probe_{name}", 0) - before.get(f"tocsin_probe_{name}", 0)
        for short, name in samples.items()
    }
    return (
        f"{done['runs'] / seconds:.0f} probes/s, {done['skips']:.0f} skipped slots, "
        f"{done['failed']:.0f} failed, {done['errors']:.0f} probe errors, "
        f"{done['dropped']:.0f} dropped results"
    )


def start_probing(server: ServerProcess, target_url: str, count: int) -> None:
    """Create ``count`` http monitors on ``target_url`` (every 60 s) in the server's
    database and wait until its probe engine schedules them all and has probed some."""
    run(
        create_monitors(
            server.database_url, count, prefix="probe", kind="http", url=target_url, interval=60
        )
    )
    wait_for_jobs(server, count)


def wait_for_jobs(server: ServerProcess, count: int) -> None:
    """Wait until the probe engine schedules ``count`` monitors (and, if any, has probed)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = probe_metrics(server.base_url)
        jobs = found.get("tocsin_probe_jobs", 0)
        if jobs == count == 0 or (count and jobs >= count and found.get("tocsin_probe_runs_total")):
            return
        time.sleep(0.5)
    raise RuntimeError(f"the probe engine did not schedule {count}:\n{server.log()[-2000:]}")


async def _set_probing(database_url: str, on: bool) -> None:
    database = Database(database_url)
    try:
        async with database.write() as conn:
            await conn.execute(
                update(monitors)
                .where(monitors.c.name.like("probe-%"))
                .values(
                    state="new" if on else "paused",
                    fail_streak=0,
                    pass_streak=0,
                    updated_at=datetime.now(UTC),
                )
            )
    finally:
        await database.dispose()


def set_probing(server: ServerProcess, count: int, on: bool) -> None:
    """Resume (``on``) or pause the ``probe-*`` monitors, as the API would (their
    ``updated_at`` moves), and wait until the probe engine followed."""
    run(_set_probing(server.database_url, on))
    wait_for_jobs(server, count if on else 0)


def bench(
    label: str,
    data_dir: Path,
    database_url: str | None,
    seconds: float,
    args: argparse.Namespace,
    **env: str,
) -> float:
    """Run one server configuration; print its line and return its pings/s."""
    server = ServerProcess(data_dir, database_url, TOCSIN_PING_HISTORY="1000000", **env)
    server.start()
    try:
        uuids = run(create_monitors(server.database_url, args.monitors, period="1d"))
        assert isinstance(uuids, list)
        return measure(label, server, uuids, seconds, args)
    finally:
        server.stop()


# Runs that stored fewer pings than they acknowledged: the process exits with status 1.
LOST_PINGS: list[str] = []


def measure(
    label: str, server: ServerProcess, uuids: list[str], seconds: float, args: argparse.Namespace
) -> float:
    """One timed ping load on a running server; print its line, return its pings/s."""
    run(load(server.base_url, uuids, 2, args.concurrency))  # warm-up
    probes_before = probe_metrics(server.base_url)
    before = run(stored(server.database_url))
    assert server.process is not None
    cpu_before = cpu_seconds(server.process.pid)
    client_before = time.process_time()
    spy = None
    if getattr(args, "spy", None):
        path = f"{args.spy}/{label.replace(' ', '').replace(':', '-')}.txt"
        spy = start_py_spy(server.process.pid, seconds, path)
    result = run(load(server.base_url, uuids, seconds, args.concurrency))
    server_cpu = cpu_seconds(server.process.pid) - cpu_before
    client_cpu = time.process_time() - client_before
    if spy is not None:
        spy.wait()
    assert isinstance(result, dict)
    after = run(stored(server.database_url))
    assert isinstance(before, int) and isinstance(after, int)
    probes_after = probe_metrics(server.base_url)
    acked = max(result["acked"], 1)
    print(
        f"{label:<26} {result['rate']:>6.0f} pings/s  p50 {result['p50_ms']:5.1f} ms  "
        f"p99 {result['p99_ms']:5.1f} ms  errors {result['errors']:.0f}  "
        f"acked {result['acked']:.0f}  stored {after - before}  "
        f"CPU us/ping: server {server_cpu / acked * 1e6:.0f}, "
        f"load generator {client_cpu / acked * 1e6:.0f}",
        flush=True,
    )
    if after - before < result["acked"]:
        lost = result["acked"] - (after - before)
        LOST_PINGS.append(f"{label}: {lost:.0f} acknowledged pings not stored")
        print(f"{'':<26} LOST: {LOST_PINGS[-1]}", flush=True)
    if probes_after.get("tocsin_probe_runs_total") != probes_before.get("tocsin_probe_runs_total"):
        print(f"{'':<26} meanwhile: {probing_summary(probes_before, probes_after, seconds)}")
    return float(result["rate"])


def bench_probing(
    label: str,
    data_dir: Path,
    database_url: str | None,
    args: argparse.Namespace,
    probe_target: str,
) -> list[float]:
    """One server with ``args.probing`` http monitors on ``probe_target``: ping load with
    them paused, then probing, ``args.rounds`` times. Returns each round's pings/s while
    probing as a share of without."""
    server = ServerProcess(data_dir, database_url, TOCSIN_PING_HISTORY="1000000")
    server.start()
    shares: list[float] = []
    try:
        uuids = run(create_monitors(server.database_url, args.monitors, period="1d"))
        assert isinstance(uuids, list)
        run(
            create_monitors(
                server.database_url,
                args.probing,
                prefix="probe",
                kind="http",
                url=probe_target,
                interval=60,
                paused=True,
            )
        )
        for round_ in range(1, args.rounds + 1):
            set_probing(server, args.probing, on=False)
            without = measure(f"{label} {round_}: paused", server, uuids, args.seconds, args)
            set_probing(server, args.probing, on=True)
            probing = measure(f"{label} {round_}: probing", server, uuids, args.seconds, args)
            shares.append(probing / max(without, 1))
    finally:
        server.stop()
    return shares


def compare(
    label: str,
    database: Callable[[], AbstractContextManager[str | None]],
    args: argparse.Namespace,
    probe_target: str | None,
) -> None:
    """The server as shipped, then (with ``probe_target``) the same while monitors probe
    it, then (unless ``--no-baseline``) one transaction per ping; each run on a fresh
    database from ``database``."""
    with tempfile.TemporaryDirectory() as tmp, database() as database_url:
        rate = bench(label, Path(tmp), database_url, args.seconds, args)
    if probe_target:
        with tempfile.TemporaryDirectory() as tmp, database() as database_url:
            shares = bench_probing(label, Path(tmp), database_url, args, probe_target)
        print(
            f"{label}: pings/s while {args.probing:,} monitors probe: "
            f"{statistics.median(shares) * 100:.0f} % of without, median of "
            f"{', '.join(f'{share * 100:.0f}' for share in shares)} (target: >= 90 %)",
            flush=True,
        )
    if args.no_baseline:
        return
    with tempfile.TemporaryDirectory() as tmp, database() as baseline_url:
        baseline = bench(
            f"{label} baseline",
            Path(tmp),
            baseline_url,
            args.baseline_seconds,
            args,
            TOCSIN_WRITER_BATCH_MAX="1",
            TOCSIN_WRITER_CONCURRENCY="1",
        )
    print(f"{label}: group commit gives {rate / max(baseline, 1):.1f}x the baseline's pings/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--monitors", type=int, default=1000)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument(
        "--baseline-seconds",
        type=float,
        default=5,
        help="length of the baseline run: one ping per transaction (no group commit)",
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip the baseline run")
    parser.add_argument(
        "--probing",
        type=int,
        default=0,
        help="also run with this many http monitors (every 60 s) probing a local target",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="with --probing: paused/probing rounds, alternating in one server",
    )
    parser.add_argument(
        "--spy",
        metavar="DIR",
        help="record the server with py-spy during each timed run, one file per run in DIR",
    )
    parser.add_argument(
        "--target",
        choices=["plain", "aiohttp"],
        default="plain",
        help="with --probing: what answers the probes (see above)",
    )
    args = parser.parse_args()
    print(
        f"{args.monitors} monitors, concurrency {args.concurrency}, {args.seconds:.0f} s, "
        "load generator in this process",
        flush=True,
    )
    target = plain_target_process if args.target == "plain" else target_process
    probing = target() if args.probing else nullcontext(None)
    with probing as probe_target:
        if probe_target:
            print(
                f"probing: {args.probing:,} http monitors at 60 s on {probe_target} "
                f"({args.target} target)",
                flush=True,
            )
        if args.only in (None, "sqlite"):
            compare("sqlite", lambda: nullcontext(None), args, probe_target)
        if args.only in (None, "postgresql"):
            compare("postgresql", scratch_postgres, args, probe_target)
    if LOST_PINGS:
        sys.exit("acknowledged pings were lost: " + "; ".join(LOST_PINGS))


if __name__ == "__main__":
    main()
