"""Benchmark task status: SSE fan-out to many subscribers, and ``GET /tasks/<id>`` latency.

Run from the repository root:

    .venv/bin/python bench/tasks.py [--subscribers 1000] [--updates 20] [--gets 2000]

It starts a private ``redis-server`` on a free port and serves ``tocsin.tasks.asgi_routes.task_app``
on the Redis store with one uvicorn process (uvloop + httptools). Then, from this process:

1. ``--subscribers`` asyncio clients (aiohttp) open ``GET /tasks/<id>/events`` on ONE task
   and wait for its first snapshot;
2. ``--updates`` progress updates are written through the store (as a worker would), one
   every ``--interval`` s; each event's latency is "received by a subscriber" minus "just
   before ``store.update``" on the same clock, over every (subscriber, update) pair;
3. ``--gets`` sequential ``GET /tasks/<id>`` requests on a keep-alive connection, to the
   ASGI app and then to the Flask blueprint on gunicorn ``-k gthread``.

Targets from the issue: SSE p99 <= 250 ms at 1,000 subscribers; GET p50 <= 2 ms.
Client and server share the machine's cores, so treat the figures as an upper bound.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
VERSION = re.compile(rb'"version":(\d+)')


def make_app() -> Any:
    """The served app (a uvicorn ``--factory`` target): task endpoints on ``$BENCH_REDIS_URL``."""
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from tocsin.tasks.asgi_routes import task_app
    from tocsin.tasks.redis_store import RedisTaskStore

    store = RedisTaskStore.from_url(os.environ["BENCH_REDIS_URL"])
    return Starlette(routes=[Mount("/tasks", task_app(store))])


def make_flask_app() -> Any:
    """The Flask blueprint on ``$BENCH_REDIS_URL`` (a gunicorn target)."""
    from flask import Flask

    from tocsin.tasks.flask_blueprint import task_blueprint
    from tocsin.tasks.redis_store import RedisTaskStore

    app = Flask(__name__)
    store = RedisTaskStore.from_url(os.environ["BENCH_REDIS_URL"])
    app.register_blueprint(task_blueprint(store), url_prefix="/tasks")
    return app


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    """Block until 127.0.0.1:``port`` accepts connections."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listened on port {port}")


@contextmanager
def process(
    cmd: list[str], port: int, env: dict[str, str] | None = None, quiet: bool = False
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``cmd`` until the block ends; it must listen on ``port``."""
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        start_new_session=True,
        stdout=subprocess.DEVNULL if quiet else None,
    )
    try:
        wait_for_port(port)
        yield proc
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


async def subscriber(
    session: Any,
    url: str,
    ready: asyncio.Event,
    counter: list[int],
    target: int,
    received: dict[int, list[float]],
) -> None:
    """Read the stream; note when each version arrives."""
    async with session.get(url) as response:
        assert response.status == 200, response.status
        async for raw in response.content:
            if not raw.startswith(b"data: "):
                continue
            now = time.perf_counter()
            match = VERSION.search(raw)
            assert match is not None
            version = int(match[1])
            if version == 1:
                counter[0] += 1
                if counter[0] == target:
                    ready.set()
                continue
            received.setdefault(version, []).append(now)
            if b'"terminal":true' in raw:
                return


async def run_sse(
    base: str, store: Any, args: argparse.Namespace, server_pid: int
) -> dict[str, float]:
    """Open the subscribers, publish updates, return latency statistics in ms."""
    import aiohttp

    from tocsin.tasks import Change, Progress, TaskState

    task = store.create("bench")
    url = f"{base}/tasks/{task.id}/events"
    ready = asyncio.Event()
    counter = [0]
    received: dict[int, list[float]] = {}
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        began = time.perf_counter()
        clients = [
            asyncio.create_task(
                subscriber(session, url, ready, counter, args.subscribers, received)
            )
            for _ in range(args.subscribers)
        ]
        waiter = asyncio.create_task(ready.wait())
        done, _ = await asyncio.wait([waiter, *clients], timeout=120, return_when="FIRST_COMPLETED")
        if waiter not in done:
            for client in done:
                client.result()  # raises what went wrong
            raise TimeoutError(f"only {counter[0]} subscribers connected")
        connect_s = time.perf_counter() - began
        sent: dict[int, float] = {}
        server_cpu, client_cpu = cpu_seconds(server_pid), time.process_time()
        for n in range(args.updates):
            await asyncio.sleep(args.interval)
            final = n == args.updates - 1
            change = (
                Change(TaskState.SUCCEEDED)
                if final
                else Change(TaskState.PROGRESS, progress=Progress(100 * (n + 1) / args.updates))
            )
            version = n + 2
            sent[version] = time.perf_counter()
            store.update(task.id, change)
        await asyncio.wait_for(asyncio.gather(*clients), 60)
        server_cpu = cpu_seconds(server_pid) - server_cpu
        client_cpu = time.process_time() - client_cpu
    latencies = [
        (arrived - sent[version]) * 1000
        for version, arrivals in received.items()
        for arrived in arrivals
    ]
    expected = args.subscribers * args.updates
    first = [(min(arrivals) - sent[version]) * 1000 for version, arrivals in received.items()]
    last = [(max(arrivals) - sent[version]) * 1000 for version, arrivals in received.items()]
    return {
        "first_ms": statistics.median(first),
        "last_ms": statistics.median(last),
        "server_cpu_ms": server_cpu * 1000 / args.updates,
        "client_cpu_ms": client_cpu * 1000 / args.updates,
        "subscribers": args.subscribers,
        "updates": args.updates,
        "deliveries": len(latencies),
        "missing": expected - len(latencies),
        "connect_all_s": connect_s,
        "p50_ms": percentile(latencies, 50),
        "p90_ms": percentile(latencies, 90),
        "p99_ms": percentile(latencies, 99),
        "max_ms": max(latencies),
    }


async def run_gets(base: str, store: Any, count: int) -> dict[str, float]:
    """Sequential GETs on one keep-alive connection; latency statistics in ms."""
    import aiohttp

    from tocsin.tasks import Change, Progress, TaskState

    task = store.create("bench-get", owner=None)
    store.update(task.id, Change(TaskState.PROGRESS, progress=Progress(40)))
    url = f"{base}/tasks/{task.id}"
    timings: list[float] = []
    async with aiohttp.ClientSession() as session:
        for n in range(count + 100):
            began = time.perf_counter()
            async with session.get(url) as response:
                await response.read()
                assert response.status == 200
            if n >= 100:  # warm-up
                timings.append((time.perf_counter() - began) * 1000)
    return {
        "requests": count,
        "p50_ms": statistics.median(timings),
        "p99_ms": percentile(timings, 99),
        "mean_ms": statistics.fmean(timings),
    }


def main() -> None:
    """Parse arguments, start Redis and uvicorn, run both measurements, print a report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--updates", type=int, default=20)
    parser.add_argument("--interval", type=float, default=0.25)
    parser.add_argument("--gets", type=int, default=2000)
    args = parser.parse_args()

    from tocsin.tasks.redis_store import RedisTaskStore

    redis_port, web_port = free_port(), free_port()
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    with tempfile.TemporaryDirectory() as tmp:
        redis_cmd = ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1"]
        redis_cmd += ["--save", "", "--appendonly", "no", "--dir", tmp]
        uvicorn_cmd = [str(BIN / "uvicorn"), "--factory", "bench.tasks:make_app"]
        uvicorn_cmd += ["--host", "127.0.0.1", "--port", str(web_port), "--log-level", "warning"]
        uvicorn_cmd += ["--loop", "uvloop", "--http", "httptools", "--backlog", "4096"]
        with (
            process(redis_cmd, redis_port, quiet=True),
            process(uvicorn_cmd, web_port, {"BENCH_REDIS_URL": redis_url}) as server,
        ):
            store = RedisTaskStore.from_url(redis_url)
            base = f"http://127.0.0.1:{web_port}"
            import uvloop  # the client too: its own overhead is part of what is measured

            sse = uvloop.run(run_sse(base, store, args, server.pid))
            gets = uvloop.run(run_gets(base, store, args.gets))
            flask_port = free_port()
            gunicorn_cmd = [str(BIN / "gunicorn"), "--no-control-socket", "-k", "gthread"]
            gunicorn_cmd += ["--threads", "8", "-b", f"127.0.0.1:{flask_port}"]
            gunicorn_cmd += ["--log-level", "warning", "bench.tasks:make_flask_app()"]
            with process(gunicorn_cmd, flask_port, {"BENCH_REDIS_URL": redis_url}):
                flask_base = f"http://127.0.0.1:{flask_port}"
                flask_gets = uvloop.run(run_gets(flask_base, store, args.gets))
            store.close()
    print(f"SSE fan-out: {sse['subscribers']} subscribers x {sse['updates']} updates")
    print(f"  all connected in {sse['connect_all_s']:.2f} s; deliveries {sse['deliveries']}")
    print(f"  missing {sse['missing']}")
    print(
        "  latency ms: p50 {p50_ms:.1f}  p90 {p90_ms:.1f}  p99 {p99_ms:.1f}  max {max_ms:.1f}"
        "  (target p99 <= 250)".format(**sse)
    )
    print(
        "  per update (median): first subscriber {first_ms:.1f} ms, last {last_ms:.1f} ms;"
        " CPU server {server_cpu_ms:.0f} ms, client {client_cpu_ms:.0f} ms".format(**sse)
    )
    print(f"GET /tasks/<id>: {gets['requests']} sequential requests on one connection")
    for label, result in (("ASGI (uvicorn)", gets), ("Flask (gunicorn gthread)", flask_gets)):
        print(
            f"  {label}: latency ms: p50 {{p50_ms:.2f}}  p99 {{p99_ms:.2f}}  mean {{mean_ms:.2f}}"
            "  (target p50 <= 2)".format(**result)
        )


if __name__ == "__main__":
    main()
