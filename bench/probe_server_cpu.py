"""The server's CPU per probe: a real ``tocsin server`` probing N http monitors, no other load.

Starts a server on a fresh database (SQLite, or a scratch PostgreSQL database with
``--postgresql``), creates ``--probing`` http monitors at 60 s on a local target
(``bench/probes.py``'s, in a subprocess), waits until the probe engine schedules them all
plus ``--settle`` seconds, then reads the server process's CPU time over ``--seconds``.
Prints probes/s, the server's share of a core, its CPU per probe, and the result batches
(transactions) per second with their mean write time. The first minute after the start
includes every monitor's first result, which flips it from ``new`` to ``up``; a
``--settle`` of 60 or more measures the steady state. ``--spy FILE`` also records the
server with ``py-spy`` (GIL holders only, raw format; ``pip install py-spy``).

    .venv/bin/python bench/probe_server_cpu.py [--probing 10000] [--seconds 30]
        [--settle 6] [--postgresql] [--spy FILE]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

from _common import ServerProcess, scratch_postgres
from pings import cpu_seconds, probe_metrics, start_probing
from probes import target_process

_WRITES = "tocsin_probe_batch_write_seconds"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--probing", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--settle", type=float, default=6)
    parser.add_argument("--postgresql", action="store_true")
    parser.add_argument("--spy", help="record the server with py-spy into this file")
    args = parser.parse_args()
    database = scratch_postgres() if args.postgresql else nullcontext(None)
    with target_process() as target, tempfile.TemporaryDirectory() as tmp, database as url:
        server = ServerProcess(Path(tmp), url)
        server.start()
        try:
            start_probing(server, target, args.probing)
            time.sleep(args.settle)
            assert server.process is not None
            pid = server.process.pid
            before, cpu_before = probe_metrics(server.base_url), cpu_seconds(pid)
            spy = None
            py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
            if args.spy:
                command = [py_spy, "record", "-p", str(pid), "-d", str(int(args.seconds))]
                command += ["-r", "50", "-f", "raw", "-o", args.spy, "--nonblocking", "--gil"]
                spy = subprocess.Popen(command, stdout=subprocess.DEVNULL)
            time.sleep(args.seconds)
            cpu, after = cpu_seconds(pid) - cpu_before, probe_metrics(server.base_url)
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


if __name__ == "__main__":
    main()
