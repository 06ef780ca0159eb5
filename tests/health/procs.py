"""Helpers for the app-library tests: example apps, subprocesses, polling."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

from tests.conftest import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
AMQP_URL = "amqp://guest:guest@127.0.0.1:5672//"
EXAMPLES = ROOT / "examples"
T = TypeVar("T")


def load_example(example: str, module: str) -> ModuleType:
    """Import ``examples/<example>/<module>.py`` under a unique name."""
    folder = EXAMPLES / example
    name = f"example_{example}_{module}"
    if name in sys.modules:
        return sys.modules[name]
    sys.path.insert(0, str(folder))
    try:
        spec = importlib.util.spec_from_file_location(name, folder / f"{module}.py")
        assert spec is not None and spec.loader is not None
        loaded = importlib.util.module_from_spec(spec)
        sys.modules[name] = loaded
        spec.loader.exec_module(loaded)
    finally:
        sys.path.remove(str(folder))
    return loaded


def wait_until(
    probe: Callable[[], T], ok: Callable[[T], bool], timeout: float, step: float = 0.1
) -> T:
    """Call ``probe`` until ``ok(result)``; return that result or fail with the last one."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if ok(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s; last value: {value!r}")
        time.sleep(step)


class Processes:
    """Starts subprocesses in their own process groups and kills them all at the end."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(
        self, args: list[str], *, cwd: Path = ROOT, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        """Start ``args``; output goes to a log file in the test's tmp dir."""
        log = open(self.log_dir / f"proc-{len(self.procs)}.log", "wb")  # noqa: SIM115
        full_env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), **(env or {})}
        proc = subprocess.Popen(
            args,
            cwd=cwd,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.procs.append(proc)
        return proc

    def log(self, proc: subprocess.Popen[bytes]) -> str:
        """What ``proc`` printed so far."""
        return (self.log_dir / f"proc-{self.procs.index(proc)}.log").read_text(errors="replace")

    def stop_all(self) -> None:
        """Kill every process group still running."""
        for proc in self.procs:
            if proc.poll() is None:
                with suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
            else:
                # The leader died; its children (a scheduler, a horse) may not have.
                with suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)


@contextmanager
def throwaway_redis(procs: Processes) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """A private ``redis-server`` on a free port (port, process)."""
    port = free_port()
    proc = procs.start(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ]
    )
    wait_for_port(port, timeout=10)
    try:
        yield port, proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGCONT)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def entry(body: dict[str, Any], key: str, component_id: str | None = None) -> dict[str, Any]:
    """The entry of ``key`` (for ``component_id`` when given) in a health+json body."""
    entries = body["checks"][key]
    if component_id is not None:
        entries = [e for e in entries if e["componentId"] == component_id]
    assert len(entries) == 1, entries
    result: dict[str, Any] = entries[0]
    return result
