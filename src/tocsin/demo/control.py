"""How ``tocsin demo --break``/``--fix`` reach the running demo: its pid, in a file named
after the server port in the system's temp directory, and a signal (SIGUSR1 breaks the
worker, SIGUSR2 restarts it). Only the demo's own user can signal it."""

from __future__ import annotations

import os
import signal
import tempfile
from pathlib import Path

from tocsin.errors import TocsinError

BREAK = signal.SIGUSR1
FIX = signal.SIGUSR2


def pid_path(port: int) -> Path:
    """The pid file of the demo whose server listens on ``port``."""
    return Path(tempfile.gettempdir()) / f"tocsin-demo-{port}.pid"


def write_pid(port: int) -> Path:
    """Record this process as the demo on ``port``; return the file."""
    path = pid_path(port)
    path.write_text(f"{os.getpid()}\n")
    return path


def remove_pid(port: int) -> None:
    """Forget the demo on ``port`` (if the file is still this process's)."""
    path = pid_path(port)
    try:
        if int(path.read_text().strip()) == os.getpid():
            path.unlink()
    except (OSError, ValueError):
        pass


def signal_demo(port: int, sig: signal.Signals) -> int:
    """Send ``sig`` to the demo running on ``port``; return its pid."""
    path = pid_path(port)
    try:
        pid = int(path.read_text().strip())
        os.kill(pid, sig)
    except (OSError, ValueError):
        raise TocsinError(
            f"no tocsin demo is running on port {port} (start one with `tocsin demo"
            f"{'' if port == 8000 else f' --port {port}'}`)"
        ) from None
    return pid
