"""Redis: ``PING`` and its round-trip latency."""

from __future__ import annotations

import time
from typing import Any

import redis

from tocsin.health.check import DEFAULT_TIMEOUT, Check
from tocsin.health.model import Measurement
from tocsin.health.thresholds import NEVER, Threshold


def connect(target: str | redis.Redis, timeout: float) -> redis.Redis:
    """A client for ``target`` (a URL or an existing client) with socket timeouts set."""
    if isinstance(target, redis.Redis):
        return target
    return redis.Redis.from_url(
        target, socket_timeout=timeout, socket_connect_timeout=timeout, retry_on_timeout=False
    )


def describe(client: redis.Redis) -> str:
    """``host:port/db`` of a client, without credentials."""
    kwargs: dict[str, Any] = client.connection_pool.connection_kwargs
    if "path" in kwargs:
        return f"unix:{kwargs['path']}/{kwargs.get('db', 0)}"
    return f"{kwargs.get('host', '?')}:{kwargs.get('port', 6379)}/{kwargs.get('db', 0)}"


class RedisCheck(Check):
    """``redis:latency``: milliseconds for one ``PING``; fails when Redis does not answer."""

    def __init__(
        self,
        target: str | redis.Redis,
        *,
        latency: Threshold = NEVER,
        timeout: float = DEFAULT_TIMEOUT,
        **options: Any,
    ) -> None:
        self.client = connect(target, timeout)
        options.setdefault("component_id", describe(self.client))
        super().__init__(
            component="redis",
            measurements=["latency"],
            component_type="datastore",
            timeout=timeout,
            **options,
        )
        self.latency = latency

    def collect(self) -> list[Measurement]:
        """Ping once and time it."""
        start = time.perf_counter()
        self.client.ping()
        elapsed = (time.perf_counter() - start) * 1000
        return [self.measure("latency", round(elapsed, 3), unit="ms", threshold=self.latency)]
