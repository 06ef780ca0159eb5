"""The demo's child processes: each started in its own session (so Ctrl-C reaches only
the demo, which stops them in order), its output in a log file in the demo's directory."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

from tocsin.errors import TocsinError

STOP_SECONDS = 10.0


class Child:
    """One child process: ``python -m <module>`` with extra environment."""

    def __init__(self, name: str, args: list[str], env: Mapping[str, str], log: Path) -> None:
        self.name = name
        self._args = [sys.executable, "-m", *args]
        self._env = {**os.environ, **env}
        self._log = log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        """Whether the process was started and has not exited."""
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int | None:
        """The process id while it runs."""
        return self.process.pid if self.running and self.process is not None else None

    def start(self) -> None:
        """Start the process (a no-op while it runs)."""
        if self.running:
            return
        with self._log.open("ab") as log:
            self.process = subprocess.Popen(
                self._args,
                env=self._env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def kill(self) -> None:
        """``kill -9`` the process and its children (a crash: no shutdown code runs)."""
        if self.process is not None and self.running:
            _signal_group(self.process.pid, signal.SIGKILL)
            self.process.wait(STOP_SECONDS)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it lingers; the whole process group either way."""
        if self.process is None:
            return
        if self.running:
            _signal_group(self.process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(STOP_SECONDS)
        # RQ's forked work horses live in the group too: nothing may outlive the demo.
        _signal_group(self.process.pid, signal.SIGKILL)
        if self.process.poll() is None:
            self.process.wait(STOP_SECONDS)

    def log_tail(self, lines: int = 20) -> str:
        """The last lines the process printed."""
        try:
            text = self._log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)


def wait_until_answers(child: Child, url: str, timeout: float = 30.0) -> None:
    """Block until ``url`` answers any HTTP status; raise if the child exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not child.running:
            raise TocsinError(f"the {child.name} exited:\n{child.log_tail()}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise TocsinError(f"the {child.name} did not answer {url} within {timeout:.0f} s")
