"""Celery beat: is it still scheduling? (``celery:beat_age``), read-only from Redis.

Beat writes its liveness with :func:`tocsin.workers.celery.install_beat_liveness`: the
time of the scheduler's last pass, refreshed every few seconds. The check reports the
seconds since that pass. One ``HGETALL``; it imports neither celery nor beat.
"""

from __future__ import annotations

import time
from typing import Any

import redis

from tocsin.health.check import DEFAULT_TIMEOUT, Check
from tocsin.health.checks.redis import connect
from tocsin.health.model import Measurement, Status
from tocsin.health.thresholds import Threshold, above
from tocsin.workers.keys import beat_key

DEFAULT_AGE = above(warn=30, fail=60)


class CeleryBeatCheck(Check):
    """``celery:beat_age``: seconds since beat's scheduler last ran a pass.

    ``target`` is the Redis URL (or client) given to ``install_beat_liveness``; ``name``
    the beat's name there. A beat that never wrote (not started, or started without the
    liveness hook) fails. Beat wakes at least every ``interval`` seconds (5 by default),
    so the age stays below about twice that while beat runs; the default ``age`` fails
    after 60 s, well past a slow publish.
    """

    def __init__(
        self,
        target: str | redis.Redis,
        name: str = "default",
        *,
        age: Threshold = DEFAULT_AGE,
        timeout: float = DEFAULT_TIMEOUT,
        **options: Any,
    ) -> None:
        super().__init__(
            component="celery",
            measurements=["beat_age"],
            component_type="component",
            component_id=name,
            timeout=timeout,
            **options,
        )
        self.client = connect(target, timeout)
        self.beat = name
        self.age = age

    def collect(self) -> list[Measurement]:
        """Read the beat's hash and judge the age of its last pass."""
        raw: dict[Any, Any] = self.client.hgetall(beat_key(self.beat))
        found = {_bytes(k): _bytes(v) for k, v in raw.items()}
        if b"tick" not in found:
            output = (
                f"beat {self.beat!r} never reported (no {beat_key(self.beat)}): is beat "
                "running with install_beat_liveness?"
            )
            return [self.measure("beat_age", None, unit="s", status=Status.FAIL, output=output)]
        now = time.time()
        age = round(max(0.0, now - float(found[b"tick"])), 3)
        who = found.get(b"identity", b"?").decode(errors="replace")
        output = f"last scheduler pass {age:.1f} s ago by {who}"
        if b"next" in found:
            # Passes reach Redis up to one interval late: only a later wake-up is news.
            overdue = now - float(found[b"next"]) - float(found.get(b"interval", b"0"))
            if overdue > 0:
                output += f"; its next pass is {overdue:.1f} s overdue"
        return [self.measure("beat_age", age, unit="s", threshold=self.age, output=output)]


def _bytes(value: bytes | str) -> bytes:
    """A field of a hash, as bytes whether or not the client decodes responses."""
    return value.encode() if isinstance(value, str) else value
