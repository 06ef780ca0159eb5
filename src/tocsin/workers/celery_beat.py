"""Celery beat liveness: proof that beat's scheduler loop still turns.

``install_beat_liveness(app)`` hooks the ``beat_init`` signal. In the beat process it
wraps the scheduler's ``tick`` (one pass of beat's loop: send what is due, say how long
to sleep) so each pass records its time, and makes beat wake at least every
``interval`` seconds. A daemon thread writes the last pass to Redis every ``interval``
(:func:`tocsin.workers.keys.beat_key`, a hash: ``tick``, ``next``, ``identity``,
``interval``), so a slow Redis never delays scheduling. The value written is the time of
the last *pass*, not "now": a beat whose loop is stuck (a broker publish that never
returns) ages as surely as a killed one. :class:`tocsin.health.checks.celery_beat.
CeleryBeatCheck` reads the hash.

Nothing here reads files: beat's schedule file mtime says when it was last synced, which
lags minutes behind and is not shared between hosts.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import redis
from celery import Celery
from celery.signals import beat_init

from tocsin.workers.keys import KEY_TTL_SECONDS, beat_key, default_identity

logger = logging.getLogger(__name__)


def on_beat_init(app: Celery, setup: Callable[[Any], None], uid: str) -> None:
    """Call ``setup(scheduler)`` when a beat of ``app`` starts (in the beat process)."""

    def started(sender: Any = None, **_: Any) -> None:
        if getattr(sender, "app", None) is not app:
            return
        try:
            setup(sender.scheduler)
        except Exception:  # tocsin must never stop beat from scheduling
            logger.exception("tocsin beat setup failed uid=%s", uid)

    beat_init.connect(started, weak=False, dispatch_uid=f"{uid}.{id(app)}")


class BeatLiveness:
    """Records beat's passes and writes the latest to Redis every ``interval`` seconds."""

    def __init__(self, client: redis.Redis, name: str = "default", interval: float = 5.0) -> None:
        if interval <= 0:
            raise ValueError(f"interval must be positive, got {interval}")
        self.client = client
        self.name = name
        self.interval = interval
        self.identity = default_identity()
        self._tick: float | None = None
        self._next: float | None = None
        self._stop = threading.Event()

    def ticked(self, delay: float | None) -> None:
        """Record one pass of the scheduler that will sleep ``delay`` seconds."""
        now = time.time()
        self._tick, self._next = now, now + (delay or 0.0)

    def write(self) -> None:
        """Write the last pass (one round trip); nothing before the first pass."""
        tick, upcoming = self._tick, self._next
        if tick is None or upcoming is None:
            return
        key = beat_key(self.name)
        fields = {
            "tick": f"{tick:.6f}",
            "next": f"{upcoming:.6f}",
            "identity": self.identity,
            "interval": f"{self.interval:g}",
        }
        with self.client.pipeline(transaction=False) as pipe:
            for field, value in fields.items():
                pipe.hset(key, field, value)
            pipe.expire(key, KEY_TTL_SECONDS)
            pipe.execute()

    def start(self) -> None:
        """Write now and then every ``interval`` seconds from a daemon thread."""
        threading.Thread(target=self._loop, name="tocsin-beat-liveness", daemon=True).start()

    def stop(self) -> None:
        """Stop writing (the last pass stays in Redis and ages)."""
        self._stop.set()

    def _loop(self) -> None:
        while True:
            try:
                self.write()
            except Exception as exc:  # a failed write must never end the beats
                logger.warning("beat liveness write failed name=%s error=%s", self.name, exc)
            if self._stop.wait(self.interval):
                return

    def hook(self, scheduler: Any) -> None:
        """Wrap ``scheduler.tick`` to record each pass; wake at least every ``interval``."""
        original = scheduler.tick

        def tick(*args: Any, **kwargs: Any) -> Any:
            delay = original(*args, **kwargs)
            self.ticked(delay)
            return delay

        scheduler.tick = tick
        scheduler.max_interval = min(scheduler.max_interval or self.interval, self.interval)
        self.ticked(0.0)  # beat starts: a pass is due now
        self.start()
        logger.info("beat liveness started name=%s identity=%s", self.name, self.identity)


def install_beat_liveness(
    app: Celery,
    redis_url: str | None = None,
    *,
    name: str = "default",
    interval: float = 5.0,
) -> None:
    """Make every beat of ``app`` write its liveness to Redis (see the module docstring).

    ``redis_url`` defaults to the broker URL when the broker is Redis; with RabbitMQ,
    pass a Redis URL (``CeleryBeatCheck`` reads the same one). ``name`` tells several
    beats apart. Call it where beat imports the app; in other processes it does nothing.
    """
    url = redis_url or str(app.conf.broker_url or "")
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError("install_beat_liveness needs a Redis URL (the broker is not Redis)")
    if interval <= 0:
        raise ValueError(f"interval must be positive, got {interval}")

    def setup(scheduler: Any) -> None:
        timeout = max(1.0, min(5.0, interval))
        client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        BeatLiveness(client, name, interval).hook(scheduler)

    on_beat_init(app, setup, f"tocsin.beat_liveness.{name}")
