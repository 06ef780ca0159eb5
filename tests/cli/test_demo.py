"""`tocsin demo` end to end: the real command as a subprocess, with the test's Redis."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import free_port

READY_SECONDS = 60.0
ALERT_SECONDS = 30.0


class DemoProcess:
    """``tocsin demo`` running, its output lines collected by a thread."""

    def __init__(self, tmp_path: Path, port: int, redis_url: str) -> None:
        # TMPDIR: the demo's throwaway directory and its pid file land in tmp_path.
        self.env = {**os.environ, "TMPDIR": str(tmp_path)}
        self.port = port
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tocsin", "demo", "--port", str(port), "--redis-url", redis_url],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._new: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def close(self) -> None:
        """Kill the demo if it still runs; read its output to the end."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self._reader.join(10)
        assert self.process.stdout is not None
        self.process.stdout.close()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))
            self._new.put(line)

    def wait_for(self, text: str, timeout: float) -> str:
        """The first output line (after those already waited past) that contains ``text``."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no {text!r} in the demo's output:\n" + "\n".join(self.lines)
            try:
                line = self._new.get(timeout=remaining)
            except queue.Empty:
                continue
            if text in line:
                return line

    def command(self, action: str) -> subprocess.CompletedProcess[str]:
        """``tocsin demo --<action> worker`` from a second terminal."""
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "tocsin",
                "demo",
                f"--{action}",
                "worker",
                "--port",
                str(self.port),
            ],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=30,
        )


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (children in other sessions included)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        found |= frontier
    return found


def alive(pid: int) -> bool:
    """Whether ``pid`` is a process that is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.slow
def test_demo_alerts_when_the_worker_is_broken_and_when_fixed_then_stops_everything(
    tmp_path: Path, redis_url: str
) -> None:
    demo = DemoProcess(tmp_path, free_port(), redis_url)
    try:
        demo.wait_for("tocsin demo ready", READY_SECONDS)
        text = "\n".join(demo.lines)
        assert f"http://127.0.0.1:{demo.port}/" in text
        assert "log in as demo / " in text

        broke = demo.command("break")
        assert broke.returncode == 0, broke.stderr
        demo.wait_for("BREAK  killed the worker", 10)
        down = demo.wait_for("ALERT  demo-app is DOWN", ALERT_SECONDS)
        assert "rq:workers" in down

        fixed = demo.command("fix")
        assert fixed.returncode == 0, fixed.stderr
        demo.wait_for("FIX    restarted the worker", 10)
        demo.wait_for("ALERT  demo-app is UP", ALERT_SECONDS)

        children = descendants(demo.process.pid)
        assert len(children) >= 3  # server, app, worker
        demo.process.send_signal(signal.SIGTERM)
        assert demo.process.wait(30) == 0
    finally:
        demo.close()
    assert [pid for pid in children if alive(pid)] == []
    assert "demo stopped" in demo.lines[-1]
    # The throwaway directory and the pid file are gone.
    assert list(tmp_path.iterdir()) == []


def test_demo_without_redis_says_how_to_start_one(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tocsin",
            "demo",
            "--port",
            str(free_port()),
            "--redis-url",
            f"redis://127.0.0.1:{free_port()}/0",
        ],
        env={**os.environ, "TMPDIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "Redis is not reachable" in result.stderr
    assert "docker run --rm -p 6379:6379 redis" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_break_without_a_running_demo_says_so(tmp_path: Path) -> None:
    port = free_port()
    result = subprocess.run(
        [sys.executable, "-m", "tocsin", "demo", "--break", "worker", "--port", str(port)],
        env={**os.environ, "TMPDIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert f"no tocsin demo is running on port {port}" in result.stderr
