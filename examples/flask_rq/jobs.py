"""The example's background work: jobs an RQ worker runs."""

from __future__ import annotations

import time


def send_welcome_email(address: str) -> str:
    """Pretend to send an email (the real work the heartbeat vouches for)."""
    time.sleep(0.05)
    return f"sent to {address}"


def explode(message: str) -> None:
    """A job that fails, to show the failed-job count on /healthz."""
    raise RuntimeError(message)


def nap(seconds: float) -> None:
    """A job that takes a while."""
    time.sleep(seconds)
