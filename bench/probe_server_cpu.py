"""The server's CPU per probe: a real ``tocsin server`` probing N http monitors, no other load.

Starts a server on a fresh database (SQLite, or a scratch PostgreSQL database with
``--postgresql``), creates ``--probing`` http monitors at 60 s on a local target
(``bench/plain_target.py``, or ``bench/probes.py``'s aiohttp app with ``--target
aiohttp``, in a subprocess), waits until the probe engine schedules them all plus
``--settle`` seconds, then reads the CPU time of the server, of the target and (with
``--postgresql``) of every PostgreSQL process over ``--seconds``. Prints probes/s, each
one's share of a core and CPU per probe, the probes' start lateness in the server (from its
``/metrics`` histogram) and the result batches (transactions) per second with their mean
write time. The first minute after the start
includes every monitor's first result, which flips it from ``new`` to ``up``; a
``--settle`` of 60 or more measures the steady state. ``--spy FILE`` also records the
server with ``py-spy`` (GIL holders only, raw format; ``pip install py-spy``).

    .venv/bin/python bench/probe_server_cpu.py [--probing 10000] [--seconds 30]
        [--settle 6] [--postgresql] [--spy FILE]
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

from _common import ServerProcess, scratch_postgres, start_py_spy
from pings import (
    cpu_seconds,
    postgres_cpu_seconds,
    probe_metrics,
    start_probing,
    user_and_system_seconds,
)
from plain_target import plain_target_process
from probes import target_process


def target_pid(url: str) -> int:
    """The pid of the process listening on ``url``'s port (the bench's own target)."""
    port = url.rsplit(":", 1)[1].strip("/")
    found = subprocess.run(
        ["pgrep", "-f", "--", f"--serve {port}$"], capture_output=True, text=True, check=True
    )
    return int(found.stdout.split()[0])


_WRITES = "tocsin_probe_batch_write_seconds"
_LATE = "tocsin_probe_lateness_seconds"


def lateness_line(before: dict[str, float], after: dict[str, float]) -> str:
    """Start lateness (actual start - scheduled start) over the window, from the server's
    own histogram: each quantile as the bucket bound it falls under."""
    bounds = sorted(
        float(name.split('"')[1])
        for name in after
        if name.startswith(f"{_LATE}_bucket") and '"+Inf"' not in name
    )

    def count(bound: str) -> float:
        key = f'{_LATE}_bucket{{le="{bound}"}}'
        return after.get(key, 0.0) - before.get(key, 0.0)

    total = count("+Inf")
    if not total:
        return "start lateness: no runs in the window"

    def quantile(q: float) -> str:
        for bound in bounds:
            if count(str(bound)) >= q * total:
                return f"<= {bound * 1000:g} ms"
        return f"> {bounds[-1] * 1000:g} ms"

    late = f"{_LATE.removesuffix('_seconds')}_max_seconds"
    return (
        f"start lateness in the server: p50 {quantile(0.5)}, p99 {quantile(0.99)} "
        f"(target: p99 <= 1000 ms), max since the start {after.get(late, 0.0) * 1000:.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--probing", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--settle", type=float, default=6)
    parser.add_argument("--postgresql", action="store_true")
    parser.add_argument("--spy", help="record the server with py-spy into this file")
    parser.add_argument("--target", choices=["plain", "aiohttp"], default="plain")
    args = parser.parse_args()
    database = scratch_postgres() if args.postgresql else nullcontext(None)
    serving = plain_target_process() if args.target == "plain" else target_process()
    with serving as target, tempfile.TemporaryDirectory() as tmp, database as url:
        server = ServerProcess(Path(tmp), url)
        server.start()
        try:
            start_probing(server, target, args.probing)
            time.sleep(args.settle)
            assert server.process is not None
            pid = server.process.pid
            before, split_before = probe_metrics(server.base_url), user_and_system_seconds(pid)
            database_before = postgres_cpu_seconds()
            target_before = cpu_seconds(target_pid(target))
            spy = start_py_spy(pid, args.seconds, args.spy) if args.spy else None
            time.sleep(args.seconds)
            split_after, after = user_and_system_seconds(pid), probe_metrics(server.base_url)
            user, system = (a - b for a, b in zip(split_after, split_before, strict=True))
            cpu = user + system
            database_cpu = postgres_cpu_seconds() - database_before
            target_cpu = cpu_seconds(target_pid(target)) - target_before
            if spy is not None:
                spy.wait()
        finally:
            server.stop()

    def done(name: str) -> float:
        return after.get(name, 0.0) - before.get(name, 0.0)

    runs, batches = done("tocsin_probe_runs_total"), done(f"{_WRITES}_count")
    print(
        f"{'postgresql' if args.postgresql else 'sqlite'}: {args.probing:,} monitors, "
        f"{runs / args.seconds:.0f} probes/s, server CPU {cpu / args.seconds * 100:.1f} % "
        f"of a core = {cpu / max(runs, 1) * 1e6:.0f} us per probe; "
        f"{batches / args.seconds:.1f} result batches/s, "
        f"{done(f'{_WRITES}_sum') / max(batches, 1) * 1000:.1f} ms each",
        flush=True,
    )
    print(f"  {lateness_line(before, after)}", flush=True)
    print(
        f"  of which in the kernel (system time): {system / max(cpu, 1e-9) * 100:.0f} %",
        flush=True,
    )
    print(
        f"  the {args.target} target: {target_cpu / args.seconds * 100:.1f} % of a core = "
        f"{target_cpu / max(runs, 1) * 1e6:.0f} us per probe",
        flush=True,
    )
    if args.postgresql:
        print(
            f"  PostgreSQL (all its processes): {database_cpu / args.seconds * 100:.1f} % of a "
            f"core = {database_cpu / max(runs, 1) * 1e6:.0f} us per probe",
            flush=True,
        )


if __name__ == "__main__":
    main()
