"""Ping ingestion throughput and latency, on SQLite and PostgreSQL.

Starts a real ``tocsin server`` subprocess, creates 1,000 heartbeat monitors, then an
asyncio load generator (one keep-alive connection per worker, HTTP/1.1 written by hand
on asyncio streams) drives their ping URLs round-robin. Every ping answered 200 is durable
(the writer answers after commit); the script checks the stored count against the
acknowledged count at the end.

    .venv/bin/python bench/pings.py [--seconds 15] [--concurrency 64] [--monitors 1000]

A baseline run follows on each database, in the same process: the same server with one
ping per transaction (``TOCSIN_WRITER_BATCH_MAX=1``), and the ratio between the two.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

from _common import ServerProcess, create_monitors, percentile, run, scratch_postgres
from sqlalchemy import func, select

from tocsin.server.storage.database import Database
from tocsin.server.storage.tables import pings


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
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


async def stored(database_url: str) -> int:
    database = Database(database_url)
    try:
        async with database.read() as conn:
            return int((await conn.execute(select(func.count()).select_from(pings))).scalar_one())
    finally:
        await database.dispose()


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
        run(load(server.base_url, uuids, 2, args.concurrency))  # warm-up
        before = run(stored(server.database_url))
        assert server.process is not None
        cpu_before = cpu_seconds(server.process.pid)
        client_before = time.process_time()
        result = run(load(server.base_url, uuids, seconds, args.concurrency))
        server_cpu = cpu_seconds(server.process.pid) - cpu_before
        client_cpu = time.process_time() - client_before
        assert isinstance(result, dict)
        after = run(stored(server.database_url))
        assert isinstance(before, int) and isinstance(after, int)
    finally:
        server.stop()
    durable = after - before
    print(
        f"{label:<22} {result['rate']:>6.0f} pings/s  p50 {result['p50_ms']:5.1f} ms  "
        f"p99 {result['p99_ms']:5.1f} ms  errors {result['errors']:.0f}  "
        f"acked {result['acked']:.0f}  stored {durable}  "
        f"CPU us/ping: server {server_cpu / max(result['acked'], 1) * 1e6:.0f}, "
        f"load generator {client_cpu / max(result['acked'], 1) * 1e6:.0f}",
        flush=True,
    )
    return float(result["rate"])


def compare(
    label: str, database_url: str | None, baseline_url: str | None, args: argparse.Namespace
) -> None:
    """The server as shipped, then (unless ``--no-baseline``) one transaction per ping,
    each on a fresh database."""
    with tempfile.TemporaryDirectory() as tmp:
        rate = bench(label, Path(tmp), database_url, args.seconds, args)
    if args.no_baseline:
        return
    with tempfile.TemporaryDirectory() as tmp:
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
    args = parser.parse_args()
    print(
        f"{args.monitors} monitors, concurrency {args.concurrency}, {args.seconds:.0f} s, "
        "load generator in this process",
        flush=True,
    )
    if args.only in (None, "sqlite"):
        compare("sqlite", None, None, args)
    if args.only in (None, "postgresql"):
        with scratch_postgres() as url, scratch_postgres() as baseline_url:
            compare("postgresql", url, baseline_url, args)


if __name__ == "__main__":
    main()
