"""Checks over Django's own database connections and caches.

They read ``DATABASES`` and ``CACHES`` only when they run, so they can be built in the
settings module itself. Each runs in a thread of the health runner, where Django gives
it a connection of its own; that connection is closed after each run unless the alias
keeps connections (``CONN_MAX_AGE``), exactly as at the end of a request.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.db import connections, transaction

from tocsin.health.check import DEFAULT_TIMEOUT, Check
from tocsin.health.model import Measurement, Status
from tocsin.health.thresholds import NEVER, Threshold

#: The scratch table of the write probe; it never outlives the transaction.
SCRATCH_TABLE = "tocsin_health_probe_tmp"


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 3)


class DatabaseCheck(Check):
    """``database:latency`` (ms of ``SELECT 1``) of one ``DATABASES`` alias, and with
    ``write=True`` ``database:write_latency`` (ms of a write in a rolled-back transaction).

    The write creates a scratch table and inserts a row, then rolls back: a temporary
    table everywhere but SQLite, where a temporary table lives outside the database file
    (it would pass on a read-only file) and DDL is transactional anyway. Nothing is left.
    """

    def __init__(
        self,
        alias: str = "default",
        *,
        write: bool = False,
        latency: Threshold = NEVER,
        write_latency: Threshold = NEVER,
        timeout: float = DEFAULT_TIMEOUT,
        **options: Any,
    ) -> None:
        options.setdefault("component_id", alias)
        super().__init__(
            component="database",
            measurements=["latency", "write_latency"] if write else ["latency"],
            component_type="datastore",
            timeout=timeout,
            **options,
        )
        self.alias = alias
        self.write = write
        self.latency = latency
        self.write_latency = write_latency

    def collect(self) -> list[Measurement]:
        """``SELECT 1``, then the write if asked for, on this thread's connection."""
        connection = connections[self.alias]
        # A connection broken by an earlier run (a database restart) is replaced here.
        connection.close_if_unusable_or_obsolete()
        try:
            start = time.perf_counter()
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT 1{connection.features.bare_select_suffix}")
                cursor.fetchone()
            results = [self.measure("latency", _ms(start), unit="ms", threshold=self.latency)]
            if self.write:
                results.append(self._write(connection))
            return results
        finally:
            connection.close_if_unusable_or_obsolete()

    def _write(self, connection: Any) -> Measurement:
        temporary = "" if connection.vendor == "sqlite" else "TEMPORARY "
        start = time.perf_counter()
        try:
            with transaction.atomic(using=self.alias), connection.cursor() as cursor:
                cursor.execute(f"CREATE {temporary}TABLE {SCRATCH_TABLE} (x INTEGER)")
                cursor.execute(f"INSERT INTO {SCRATCH_TABLE} (x) VALUES (1)")  # noqa: S608
                transaction.set_rollback(True, using=self.alias)
        except Exception as exc:  # reads work, writes do not: say so on this entry only
            output = f"write refused: {type(exc).__name__}: {exc}".strip()
            return self.measure("write_latency", None, output=output, status=Status.FAIL)
        elapsed = _ms(start)
        return self.measure(
            "write_latency",
            elapsed,
            unit="ms",
            threshold=self.write_latency,
            output="write rolled back",
        )


def database_checks(*, write: bool = False, **options: Any) -> list[Check]:
    """One :class:`DatabaseCheck` per alias in ``DATABASES`` (the default ``"checks"``)."""
    return [DatabaseCheck(alias, write=write, **options) for alias in settings.DATABASES]


class CacheCheck(Check):
    """``cache:latency``: ms to set, read back and delete a unique key in one ``CACHES``
    alias; fails when the cache errs or does not return what was written (``DummyCache``,
    a backend that swallows its errors)."""

    def __init__(
        self,
        alias: str = "default",
        *,
        latency: Threshold = NEVER,
        timeout: float = DEFAULT_TIMEOUT,
        **options: Any,
    ) -> None:
        options.setdefault("component_id", alias)
        super().__init__(
            component="cache",
            measurements=["latency"],
            component_type="datastore",
            timeout=timeout,
            **options,
        )
        self.alias = alias
        self.latency = latency

    def collect(self) -> list[Measurement]:
        """Write, read back and delete one key; the key expires on its own if the delete
        never happens."""
        cache = caches[self.alias]
        key = f"tocsin:health:{secrets.token_hex(8)}"
        value = secrets.token_hex(8)
        start = time.perf_counter()
        cache.set(key, value, timeout=max(1, int(self.timeout * 10)))
        read = cache.get(key)
        cache.delete(key)
        elapsed = _ms(start)
        if read != value:
            output = "the cache did not return the value just written"
            return [self.measure("latency", elapsed, unit="ms", output=output, status=Status.FAIL)]
        return [self.measure("latency", elapsed, unit="ms", threshold=self.latency)]
