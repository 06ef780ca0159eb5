"""A background thread that proves a worker process is alive, every few seconds.

Each beat runs one pipeline: for each queue, ``ZADD alive <expiry> <identity>`` and
``HSET beats <identity> <now>`` (see :mod:`tocsin.workers.keys`). A crashed process
stops beating and drops out of the live count after ``ttl`` seconds. A clean stop
removes the worker at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

import redis

from tocsin.workers.keys import KEY_TTL_SECONDS, alive_key, beats_key, default_identity

logger = logging.getLogger(__name__)


class LivenessBeat:
    """Beats for ``queues`` every ``interval`` seconds; liveness lasts ``ttl`` seconds.

    ``on_beat`` (optional) is called after each successful beat, from the beat thread;
    the RQ worker uses it to enqueue its heartbeat jobs.
    """

    def __init__(
        self,
        client: redis.Redis,
        queues: Sequence[str],
        *,
        kind: str,
        interval: float = 5.0,
        ttl: float = 15.0,
        identity: str | None = None,
        on_beat: Callable[[], None] | None = None,
    ) -> None:
        if interval <= 0 or ttl <= interval:
            raise ValueError(f"need 0 < interval < ttl, got interval={interval} ttl={ttl}")
        self.client = client
        self.queues = list(queues)
        self.kind = kind
        self.interval = interval
        self.ttl = ttl
        self.identity = identity or default_identity()
        self.on_beat = on_beat
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def beat(self) -> None:
        """Write one beat for every queue (one round trip)."""
        now = time.time()
        with self.client.pipeline(transaction=False) as pipe:
            for queue in self.queues:
                alive, beats = alive_key(self.kind, queue), beats_key(self.kind, queue)
                pipe.zadd(alive, {self.identity: now + self.ttl})
                pipe.zremrangebyscore(alive, "-inf", now - KEY_TTL_SECONDS)
                pipe.hset(beats, self.identity, f"{now:.6f}")
                pipe.expire(alive, KEY_TTL_SECONDS)
                pipe.expire(beats, KEY_TTL_SECONDS)
            pipe.execute()

    def forget(self) -> None:
        """Remove this worker from every queue's live set (on a clean shutdown)."""
        with self.client.pipeline(transaction=False) as pipe:
            for queue in self.queues:
                pipe.zrem(alive_key(self.kind, queue), self.identity)
                pipe.hdel(beats_key(self.kind, queue), self.identity)
            pipe.execute()

    def start(self) -> None:
        """Beat once now, then every ``interval`` seconds in a daemon thread."""
        self._stop.clear()
        self._tick()
        self._thread = threading.Thread(target=self._loop, name="tocsin-liveness", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop beating and forget this worker."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.interval + 1)
        try:
            self.forget()
        except redis.RedisError as exc:
            logger.warning("liveness forget failed identity=%s error=%s", self.identity, exc)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._tick()

    def _tick(self) -> None:
        try:
            self.beat()
            if self.on_beat is not None:
                self.on_beat()
        except Exception as exc:  # a beat must never kill the worker
            logger.warning("liveness beat failed identity=%s error=%s", self.identity, exc)
