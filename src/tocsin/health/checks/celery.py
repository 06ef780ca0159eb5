"""Celery workers and queues (Redis or RabbitMQ broker), read-only.

- :class:`CeleryWorkersCheck` — live workers (from tocsin's liveness keys when the
  workers run :func:`tocsin.workers.celery.install_liveness`, else from one bounded
  ``inspect().active_queues()`` broadcast with ``limit=`` and a short timeout, cached),
  and their active and reserved task counts.
- :class:`CeleryQueueCheck` — queue depth (Redis: the base list plus every priority
  list; RabbitMQ: a passive declare, which counts ready messages), the age of the oldest
  waiting task (Redis: the ``tocsin_sent_at`` header that
  :func:`tocsin.workers.celery.stamp_publish_time` adds at publish; RabbitMQ: the head
  message's AMQP ``timestamp`` through the management API), messages held unacked
  (kombu's ``unacked`` hash on Redis) and failed tasks counted by
  :func:`tocsin.workers.celery_failures.install_failure_counter`.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import math
import threading
import time
from collections import Counter
from typing import Any

import redis
from celery import Celery

from tocsin.health.check import DEFAULT_TIMEOUT, Check
from tocsin.health.checks.rabbitmq_management import ManagementAPI, ManagementError
from tocsin.health.checks.redis import connect
from tocsin.health.model import Measurement, Status
from tocsin.health.thresholds import NEVER, Threshold, above, below
from tocsin.workers.keys import (
    FAILURE_BUCKET_SECONDS,
    SENT_AT_HEADER,
    alive_key,
    beats_key,
    failures_key,
)

logger = logging.getLogger(__name__)

SOCKET_TIMEOUT_FLOOR = 2.0
"""Broker socket timeout at least this: above kombu's 1 s BRPOP, which must not trip it."""
SOCKET_TIMEOUT_MARGIN = 0.5
"""Broker sockets time out this much before the check does, so a run reports the cause."""
DEFAULT_SEP = "\x06\x16"
DEFAULT_PRIORITY_STEPS = (0, 3, 6, 9)
NONE_IS_FAIL = below(fail=0)
ANY_IS_WARN = above(warn=1)
DEFAULT_VISIBILITY_TIMEOUT = 3600.0
"""kombu's Redis transport default: how long an unacked message stays invisible."""
DEFAULT_FAILURE_WINDOW = 3600.0
FAILED_TASKS_SHOWN = 5


def _is_redis(url: str) -> bool:
    return url.split("://", 1)[0] in ("redis", "rediss")


class CeleryWorkersCheck(Check):
    """``celery:workers`` (live workers consuming ``queue``, or all), plus active/reserved.

    Without ``liveness=``, workers are counted by an ``inspect().active_queues()``
    broadcast. It stops at ``limit=`` replies (the count seen last, at least
    ``expected_workers``), which takes milliseconds instead of the whole
    ``inspect_timeout`` but cannot see a worker that joined; so every ``inspect_rescan``
    seconds a background broadcast without a limit counts everyone, and the next run
    waits for that many. The broadcasts go through a private copy of ``app`` whose broker
    sockets time out, so a half-open broker connection fails a run instead of hanging it.
    """

    def __init__(
        self,
        app: Celery,
        queue: str | None = None,
        *,
        liveness: str | redis.Redis | None = None,
        workers: Threshold = NONE_IS_FAIL,
        expected_workers: int | None = None,
        inspect_timeout: float = 1.0,
        inspect_cache: float = 10.0,
        inspect_rescan: float = 60.0,
        timeout: float = 3.0,
        **options: Any,
    ) -> None:
        super().__init__(
            component="celery",
            measurements=["workers", "active_tasks", "reserved_tasks"],
            component_type="system",
            component_id=queue or "all",
            timeout=timeout,
            **options,
        )
        if liveness is not None and queue is None:
            raise ValueError("liveness keys are per queue: pass queue=")
        self.app = app
        self.queue = queue
        self.liveness = connect(liveness, timeout) if liveness is not None else None
        self.workers = workers
        self.expected = expected_workers
        self.inspect_timeout = inspect_timeout
        self.inspect_cache = inspect_cache
        self.inspect_rescan = inspect_rescan
        self._lock = threading.Lock()
        self._cached: tuple[float, list[Measurement]] | None = None
        self._last_count = 0
        self._counted_all_at = -math.inf
        self._rescanning = False

    # Two private apps, made at the first broadcast (the user's app is configured by then):
    # each has its own reply queue, so a rescan and a run never take each other's replies.
    @functools.cached_property
    def _probe(self) -> Celery:
        return probe_app(self.app, self.timeout)

    @functools.cached_property
    def _rescan_probe(self) -> Celery:
        return probe_app(self.app, self.timeout)

    def collect(self) -> list[Measurement]:
        """Liveness keys (fast) or a cached, bounded inspect broadcast."""
        if self.liveness is not None and self.queue is not None:
            return self._from_liveness(self.liveness, self.queue)
        with self._lock:
            if self._cached and time.monotonic() - self._cached[0] < self.inspect_cache:
                return self._cached[1]
        measurements = self._from_inspect()
        with self._lock:
            self._cached = (time.monotonic(), measurements)
        self._maybe_rescan()
        return measurements

    def _from_liveness(self, client: redis.Redis, queue: str) -> list[Measurement]:
        now = time.time()
        with client.pipeline(transaction=False) as pipe:
            pipe.zcount(alive_key("celery", queue), f"({now}", "+inf")
            pipe.hgetall(beats_key("celery", queue))
            live, beats = pipe.execute()
        newest = max((float(v) for v in beats.values()), default=None)
        age = f"; newest heartbeat {now - newest:.1f} s ago" if newest else ""
        return [
            self.measure(
                "workers",
                live,
                unit="workers",
                threshold=self.workers,
                output=f"live workers (tocsin heartbeat){age}",
            ),
            self.measure("active_tasks", None, output="not read in liveness mode"),
            self.measure("reserved_tasks", None, output="not read in liveness mode"),
        ]

    def _active_queues(self, probe: Celery, conn: Any, limit: int | None) -> dict[str, Any]:
        """Each answering worker's queues; remembers the count when it covers everyone."""
        inspect = probe.control.inspect(timeout=self.inspect_timeout, limit=limit, connection=conn)
        replies: dict[str, Any] = inspect.active_queues() or {}
        if limit is None or len(replies) < limit:
            # The broadcast waited out its timeout, so every worker that answers was heard.
            with self._lock:
                self._last_count = len(replies)
                self._counted_all_at = time.monotonic()
        return replies

    def _maybe_rescan(self) -> None:
        """Count every worker in the background when the last full count is too old."""
        with self._lock:
            if self._rescanning or time.monotonic() - self._counted_all_at < self.inspect_rescan:
                return
            self._rescanning = True
        threading.Thread(target=self._rescan, name="tocsin-celery-rescan", daemon=True).start()

    def _rescan(self) -> None:
        try:
            with self._rescan_probe.connection_for_write(
                connect_timeout=self.inspect_timeout
            ) as conn:
                self._active_queues(self._rescan_probe, conn, None)
        except Exception as exc:  # the next run tries again; the run itself reports errors
            logger.warning("celery worker rescan failed check=%s error=%s", self.name, exc)
        finally:
            with self._lock:
                self._rescanning = False

    def _from_inspect(self) -> list[Measurement]:
        with self._lock:
            limit = max(self.expected or 0, self._last_count) or None
        probe = self._probe
        with probe.connection_for_write(connect_timeout=self.inspect_timeout) as conn:
            queues_by_worker = self._active_queues(probe, conn, limit)
            names = [
                name
                for name, queues in queues_by_worker.items()
                if self.queue is None or any(q.get("name") == self.queue for q in queues or [])
            ]
            active = reserved = None
            if names:
                narrow = probe.control.inspect(
                    destination=names,
                    timeout=self.inspect_timeout,
                    limit=len(names),
                    connection=conn,
                )
                active = sum(len(v or []) for v in (narrow.active() or {}).values())
                reserved = sum(len(v or []) for v in (narrow.reserved() or {}).values())
        shown = ", ".join(sorted(names)) or "none replied"
        return [
            self.measure(
                "workers",
                len(names),
                unit="workers",
                threshold=self.workers,
                output=f"workers answering inspect: {shown}",
            ),
            self.measure("active_tasks", active, unit="tasks"),
            self.measure("reserved_tasks", reserved, unit="tasks", output="prefetched"),
        ]


def probe_app(app: Celery, timeout: float) -> Celery:
    """A private app with ``app``'s settings whose broker sockets time out within ``timeout``.

    Celery publishes broadcasts through the app's producer pool, whose Redis sockets wait
    forever by default: one half-open connection would hang every later broadcast. The
    copy leaves the user's app (and its pool) untouched.
    """
    settings = app.conf.table(with_defaults=False, censored=False)  # what the user set
    probe = Celery(app.main, set_as_current=False, config_source=settings)
    options = dict(app.conf.broker_transport_options or {})
    seconds = max(timeout - SOCKET_TIMEOUT_MARGIN, SOCKET_TIMEOUT_FLOOR)
    if _is_redis(str(app.conf.broker_url or "")):
        options.update(socket_timeout=seconds, socket_connect_timeout=seconds)
    else:  # py-amqp's names
        options.update(read_timeout=seconds, write_timeout=seconds)
    probe.conf.broker_transport_options = options
    return probe


class CeleryQueueCheck(Check):
    """One queue: ``celery:queue_depth``, ``celery:oldest_task_age`` and, where readable,
    ``celery:unacked`` / ``celery:unacked_age`` and ``celery:failed_tasks``.

    Thresholds: ``depth`` (tasks waiting), ``age`` (seconds the oldest waiting task has
    waited), ``unacked`` (messages delivered to a worker and not acknowledged),
    ``unacked_age`` (default: warn when one is held past the transport's
    ``visibility_timeout``) and ``failed`` (failed tasks in the last ``failed_window``
    seconds, counted by :func:`tocsin.workers.celery_failures.install_failure_counter` in
    the Redis at ``failures``; default warn at 1). ``management_url`` (RabbitMQ) reads the
    head message's age and the unacked count from the management plugin.
    """

    unacked_scan = 100
    """How many of the oldest unacked messages (all queues) are examined on Redis."""

    def __init__(
        self,
        app: Celery,
        queue: str = "celery",
        *,
        depth: Threshold = NEVER,
        age: Threshold = NEVER,
        unacked: Threshold = NEVER,
        unacked_age: Threshold | None = None,
        failures: str | redis.Redis | None = None,
        failed: Threshold = ANY_IS_WARN,
        failed_window: float = DEFAULT_FAILURE_WINDOW,
        management_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        **options: Any,
    ) -> None:
        url = str(app.conf.broker_url or "")
        transport = dict(app.conf.broker_transport_options or {})
        on_redis = _is_redis(url)
        if management_url is not None and on_redis:
            raise ValueError("management_url= is for RabbitMQ brokers; this broker is Redis")
        measurements = ["queue_depth", "oldest_task_age"]
        if on_redis:
            measurements += ["unacked", "unacked_age"]
        elif management_url is not None:
            measurements += ["unacked"]
        if failures is not None:
            measurements += ["failed_tasks"]
        super().__init__(
            component="celery",
            measurements=measurements,
            component_type="queue",
            component_id=queue,
            timeout=timeout,
            **options,
        )
        self.app = app
        self.queue = queue
        self.redis = connect(url, timeout) if on_redis else None
        self.sep = str(transport.get("sep", DEFAULT_SEP))
        self.steps = tuple(transport.get("priority_steps", DEFAULT_PRIORITY_STEPS))
        self.key_prefix = str(transport.get("global_keyprefix", ""))
        self.unacked_keys = (
            self.key_prefix + str(transport.get("unacked_key", "unacked")),
            self.key_prefix + str(transport.get("unacked_index_key", "unacked_index")),
        )
        self.visibility_timeout = float(
            transport.get("visibility_timeout", DEFAULT_VISIBILITY_TIMEOUT)
        )
        if unacked_age is None:  # past it, a live worker redelivers the message (again)
            unacked_age = above(warn=self.visibility_timeout)
        self.thresholds = {
            "queue_depth": depth,
            "oldest_task_age": age,
            "unacked": unacked,
            "unacked_age": unacked_age,
            "failed_tasks": failed,
        }
        self.failures: redis.Redis | None = None
        if failures is not None:
            same = self.redis is not None and failures == url
            self.failures = self.redis if same else connect(failures, timeout)
        if failed_window <= 0:
            raise ValueError(f"failed_window must be positive, got {failed_window}")
        self.failed_window = failed_window
        self.management: ManagementAPI | None = None
        if management_url is not None:
            with app.connection_for_read() as broker:  # parses the URL; does not connect
                self.management = ManagementAPI(
                    management_url, username=broker.userid, password=broker.password
                )
                self.vhost = str(broker.virtual_host or "/")

    def collect(self) -> list[Measurement]:
        """Redis: one pipeline (a second when messages are unacked); AMQP: a passive
        declare (plus one management API request); failures: in the broker's pipeline
        when they are counted in the broker's Redis."""
        if self.redis is not None:
            found = self._from_redis(self.redis)
        else:
            found = self._from_amqp()
        if self.failures is not None and self.failures is not self.redis:
            with self.failures.pipeline(transaction=False) as pipe:
                keys = self._failure_keys(pipe)
                found.append(self._failed(pipe.execute(), keys))
        return found

    def redis_keys(self) -> list[str]:
        """The base list and one list per priority step (priority 0 has no suffix)."""
        base = self.key_prefix + self.queue
        return [base if step == 0 else f"{base}{self.sep}{step}" for step in self.steps]

    def _m(self, name: str, value: Any, unit: str, output: str = "") -> Measurement:
        return self.measure(
            name, value, unit=unit, threshold=self.thresholds.get(name, NEVER), output=output
        )

    def _from_redis(self, client: redis.Redis) -> list[Measurement]:
        keys = self.redis_keys()
        unacked_hash, unacked_index = self.unacked_keys
        with client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.llen(key)
                pipe.lindex(key, -1)  # kombu LPUSHes, workers BRPOP: the tail is oldest
            pipe.zcard(unacked_index)
            pipe.zrange(unacked_index, 0, self.unacked_scan - 1, withscores=True)
            counted = self.failures is client
            failure_keys = self._failure_keys(pipe) if counted else []
            rows = pipe.execute()
        n = 2 * len(keys)
        lists, (unacked_total, oldest), buckets = rows[:n], rows[n : n + 2], rows[n + 2 :]
        depth = sum(int(n) for n in lists[0::2])
        sent = [t for t in (_sent_at(raw) for raw in lists[1::2] if raw) if t is not None]
        now = time.time()
        age = round(max(0.0, now - min(sent)), 3) if sent else None
        note = "" if age is not None or depth == 0 else "no tocsin_sent_at header: age unknown"
        found = [
            self._m("queue_depth", depth, "tasks", "waiting, not yet prefetched"),
            self._m("oldest_task_age", age, "s", note),
            *self._unacked(client, unacked_hash, int(unacked_total), oldest, now),
        ]
        if counted:
            found.append(self._failed(buckets, failure_keys))
        return found

    def _unacked(
        self,
        client: redis.Redis,
        unacked_hash: str,
        total: int,
        oldest: list[tuple[bytes, float]],
        now: float,
    ) -> list[Measurement]:
        """This queue's share of the oldest unacked messages (one HMGET), and the oldest age.

        kombu keeps every message delivered to a worker and not yet acknowledged in one
        hash for all queues, indexed by delivery time; a dead worker's stay there, invisible,
        until ``visibility_timeout`` has passed and a live worker restores them.
        """
        delivered = client.hmget(unacked_hash, [tag for tag, _ in oldest]) if oldest else []
        mine = [
            score
            for (_, score), raw in zip(oldest, delivered, strict=True)
            if raw and _routing_key(raw) == self.queue
        ]
        age = round(max(0.0, now - min(mine)), 3) if mine else None
        note = (
            "delivered to a worker, not acknowledged (prefetched, running with acks_late, or held"
            f" by a dead worker until visibility_timeout {self.visibility_timeout:g} s)"
        )
        if total > len(oldest):
            note += f"; the oldest {len(oldest)} of {total} unacked messages (all queues) examined"
        return [
            self._m("unacked", len(mine), "tasks", note),
            self._m("unacked_age", age, "s", "" if mine else "none unacked"),
        ]

    def _failure_keys(self, pipe: Any) -> list[str]:
        """Queue one ``HGETALL`` per bucket of the window on ``pipe``; the keys read."""
        now = time.time()
        first = int((now - self.failed_window) // FAILURE_BUCKET_SECONDS)
        last = int(now // FAILURE_BUCKET_SECONDS)
        keys = [failures_key("celery", self.queue, b) for b in range(first, last + 1)]
        for key in keys:
            pipe.hgetall(key)
        return keys

    def _failed(self, buckets: list[dict[bytes, bytes]], keys: list[str]) -> Measurement:
        by_task: Counter[str] = Counter()
        for bucket in buckets[: len(keys)]:
            for task, count in bucket.items():
                by_task[task.decode(errors="replace")] += int(count)
        shown = ", ".join(f"{task}: {n}" for task, n in by_task.most_common(FAILED_TASKS_SHOWN))
        window = f"failed tasks in the last {self.failed_window:g} s"
        return self._m(
            "failed_tasks",
            sum(by_task.values()),
            "tasks",
            f"{window}: {shown}" if shown else window,
        )

    def _from_amqp(self) -> list[Measurement]:
        with self.app.connection_for_read(connect_timeout=self.timeout) as conn:
            conn.ensure_connection(max_retries=1)
            channel = conn.channel()
            try:
                _, depth, consumers = channel.queue_declare(queue=self.queue, passive=True)
            finally:
                with contextlib.suppress(Exception):  # a channel closed by a 404 is fine
                    channel.close()
        found = [self._m("queue_depth", depth, "tasks", f"ready messages; consumers={consumers}")]
        if self.management is None:
            note = "not readable on AMQP without consuming: pass management_url="
            return [*found, self.measure("oldest_task_age", None, unit="s", output=note)]
        return [*found, *self._from_management(self.management, int(depth))]

    def _from_management(self, api: ManagementAPI, depth: int) -> list[Measurement]:
        try:
            stats = api.queue(self.vhost, self.queue, self.timeout)
        except (OSError, ValueError, ManagementError) as exc:
            note = f"management API: {exc}"
            return [
                self.measure(name, None, unit=unit, output=note, status=Status.WARN)
                for name, unit in (("oldest_task_age", "s"), ("unacked", "tasks"))
            ]
        if stats.head_timestamp is not None:
            age: float | None = round(max(0.0, time.time() - stats.head_timestamp), 3)
            note = "from the head message's AMQP timestamp (whole seconds)"
        elif depth and not stats.ready:
            age, note = None, "management statistics not refreshed yet (every 5 s by default)"
        elif depth:
            age, note = (
                None,
                "head message has no AMQP timestamp: stamp_publish_time() in producers",
            )
        else:
            age, note = None, "queue empty"
        return [
            self._m("oldest_task_age", age, "s", note),
            self._m("unacked", stats.unacknowledged, "tasks", "delivered, not acknowledged"),
        ]


def _routing_key(raw: bytes | str) -> str | None:
    """The routing key of a kombu unacked entry (``[message, exchange, routing_key]``)."""
    try:
        entry = json.loads(raw)
        return str(entry[2]) if isinstance(entry, list) and len(entry) == 3 else None
    except (ValueError, TypeError):
        return None


def _sent_at(raw: bytes) -> float | None:
    try:
        message = json.loads(raw)
        value = message.get("headers", {}).get(SENT_AT_HEADER)
        return float(value) if value is not None else None
    except (ValueError, TypeError, AttributeError):
        return None
