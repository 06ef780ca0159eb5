"""Benchmark /healthz (Redis + RQ + database checks) through a real gunicorn.

Run from the repository root:

    .venv/bin/python bench/healthz.py [--requests 3000] [--concurrency 50]
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/test]
        [--checks 'redis,rq:queue_depth']

It starts a private ``redis-server`` on a free port (so Redis commands can be counted
exactly), then serves ``examples/flask_rq``'s app with ``gunicorn -k gthread`` twice:
uncached (cache TTL 0: every request runs or joins a check run) and cached (TTL 60 s).
A raw asyncio keep-alive client keeps ``--concurrency`` requests in flight and reports
client-observed latency (which includes queueing in gunicorn at that concurrency) and
the server-side time spent in the app (a ``Server-Timing`` header added by this
script's WSGI wrapper, not by tocsin), plus Redis commands per request. With
``--checks``, each mode also measures the subset path ``/healthz?checks=<value>``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def wsgi_app() -> Callable[..., Iterable[bytes]]:
    """The example app, wrapped to report its own handling time (gunicorn target)."""
    spec = importlib.util.spec_from_file_location(
        "bench_flask_rq", ROOT / "examples/flask_rq/app.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    inner = module.app.wsgi_app

    def timed(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        started = time.perf_counter()

        def start(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
            elapsed = (time.perf_counter() - started) * 1000
            return start_response(
                status, [*headers, ("Server-Timing", f"app;dur={elapsed:.3f}")], *exc
            )

        return inner(environ, start)

    module.app.wsgi_app = timed
    return module.app  # type: ignore[no-any-return]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on {port}")


def start(
    args: list[str], env: dict[str, str] | None = None, cwd: Path = ROOT
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        args,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


async def one_connection(
    port: int, count: int, client: list[float], server: list[float], path: str
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()
    for _ in range(count):
        began = time.perf_counter()
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        headers = dict(line.split(b": ", 1) for line in head.split(b"\r\n")[1:] if b": " in line)
        await reader.readexactly(int(headers[b"Content-Length"]))
        client.append((time.perf_counter() - began) * 1000)
        server.append(float(headers[b"Server-Timing"].split(b"dur=")[1]))
    writer.close()


async def load(
    port: int, total: int, concurrency: int, path: str = "/healthz"
) -> tuple[list[float], list[float], float]:
    client: list[float] = []
    server: list[float] = []
    per = max(1, total // concurrency)
    began = time.perf_counter()
    await asyncio.gather(
        *(one_connection(port, per, client, server, path) for _ in range(concurrency))
    )
    return client, server, time.perf_counter() - began


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def redis_commands(port: int) -> int:
    import redis

    return int(redis.Redis(port=port).info("stats")["total_commands_processed"])


def run_mode(
    name: str, ttl: float, args: argparse.Namespace, redis_port: int
) -> list[dict[str, Any]]:
    port = free_port()
    env = {
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "DATABASE_URL": args.database_url,
        "HEALTH_CACHE_SECONDS": str(ttl),
        "PYTHONPATH": f"{ROOT / 'src'}:{ROOT / 'examples/flask_rq'}",
    }
    gunicorn = start(
        [
            str(BIN / "gunicorn"),
            "-k",
            "gthread",
            "-w",
            str(args.workers),
            "--threads",
            str(args.threads),
            "-b",
            f"127.0.0.1:{port}",
            "--chdir",
            str(ROOT / "bench"),
            "healthz:wsgi_app()",
        ],
        env,
    )
    try:
        wait_for(port)
        # Warm up until every gunicorn worker process has run its checks once (cached mode:
        # a whole round without a Redis command), at most 10 rounds.
        for _ in range(10):
            before = redis_commands(redis_port)
            asyncio.run(load(port, args.concurrency * 4, args.concurrency))
            if ttl == 0 or redis_commands(redis_port) - before - 1 == 0:
                break
        rows = []
        paths = {name: "/healthz"}
        if args.checks:
            paths[f"{name} ?checks={args.checks}"] = f"/healthz?checks={quote(args.checks, ',*:')}"
        for label, path in paths.items():
            for concurrency in (1, args.concurrency):
                requests = args.requests if concurrency > 1 else args.requests // 5
                before = redis_commands(redis_port)
                client, server, elapsed = asyncio.run(load(port, requests, concurrency, path))
                commands = redis_commands(redis_port) - before - 1  # minus our INFO
                rows.append(_row(label, concurrency, client, server, elapsed, commands))
    finally:
        stop(gunicorn)
    return rows


def _row(
    name: str,
    concurrency: int,
    client: list[float],
    server: list[float],
    elapsed: float,
    commands: int,
) -> dict[str, Any]:
    return {
        "mode": name,
        "concurrency": concurrency,
        "requests": len(client),
        "rps": len(client) / elapsed,
        "client_p50": pct(client, 50),
        "client_p99": pct(client, 99),
        "app_p50": statistics.median(server),
        "app_p99": pct(server, 99),
        "redis_per_request": commands / len(client),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument(
        "--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    parser.add_argument(
        "--checks", default="", help="also measure /healthz?checks=<this> (e.g. redis,rq:*)"
    )
    args = parser.parse_args()
    redis_port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        redis_server = start(
            [
                "redis-server",
                "--port",
                str(redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                tmp,
            ]
        )
        try:
            wait_for(redis_port)
            rows = run_mode("uncached", 0.0, args, redis_port)
            rows += run_mode("cached", 60.0, args, redis_port)
        finally:
            stop(redis_server)
    print(
        f"/healthz: Redis + RQ (1 queue) + database checks; gunicorn gthread "
        f"-w {args.workers} --threads {args.threads}; keep-alive clients"
    )
    print(
        "| mode | concurrency | requests | req/s | client p50 ms | client p99 ms "
        "| app p50 ms | app p99 ms | Redis cmds/request |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['mode']} | {r['concurrency']} | {r['requests']} | {r['rps']:.0f} "
            f"| {r['client_p50']:.2f} | "
            f"{r['client_p99']:.2f} | {r['app_p50']:.2f} | {r['app_p99']:.2f} | "
            f"{r['redis_per_request']:.2f} |"
        )


if __name__ == "__main__":
    main()
