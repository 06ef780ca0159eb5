"""The Django database and cache checks against real SQLite, PostgreSQL and Redis."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
import redis
from django.conf import settings
from django.test import Client, override_settings

from tests.conftest import free_port
from tocsin.django.checks import SCRATCH_TABLE, CacheCheck, DatabaseCheck


def report(checks: list[Any]) -> tuple[int, dict[str, dict[str, Any]]]:
    """The status code and the entries (``key`` -> entry, one instance each) of /healthz."""
    with override_settings(TOCSIN_HEALTH={"cache_ttl": 0, "checks": checks}):
        response = Client().get("/healthz")
    assert response["Content-Type"] == "application/health+json"
    body = response.json()
    return response.status_code, {key: found[0] for key, found in body["checks"].items()}


@pytest.mark.parametrize("alias", ["default", "pg"])
def test_write_probe_passes_every_time_and_leaves_nothing(alias: str) -> None:
    for _ in range(3):  # SQLWriteCheck once passed only the first time on SQLite
        status, found = report([DatabaseCheck(alias, write=True)])
        assert status == 200
        assert found["database:latency"]["status"] == "pass"
        write = found["database:write_latency"]
        assert (write["status"], write["output"]) == ("pass", "write rolled back")
        assert write["observedValue"] > 0
    if alias == "default":
        with sqlite3.connect(settings.DATABASES["default"]["NAME"]) as conn:
            tables = conn.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall()
        assert (SCRATCH_TABLE,) not in tables


@pytest.mark.parametrize(
    ("alias", "reason"),
    [
        ("sqlite_readonly", "attempt to write a readonly database"),
        ("pg_readonly", "read-only transaction"),
    ],
)
def test_read_only_database_reads_but_refuses_the_write(alias: str, reason: str) -> None:
    status, found = report([DatabaseCheck(alias, write=True)])
    assert status == 503
    assert found["database:latency"]["status"] == "pass"
    write = found["database:write_latency"]
    assert write["status"] == "fail"
    assert write["output"].startswith("write refused: ")
    assert reason in write["output"]
    # Without the write probe the same database passes: reads are fine.
    assert report([DatabaseCheck(alias)])[0] == 200


def test_unreachable_database_fails_both_measurements() -> None:
    status, found = report([DatabaseCheck("pg_down", write=True)])
    assert status == 503
    for key in ("database:latency", "database:write_latency"):
        assert found[key]["status"] == "fail"
        assert "Connection refused" in found[key]["output"]
    # Non-critical: reported as warn, answered 200.
    status, found = report([DatabaseCheck("pg_down", critical=False)])
    assert (status, found["database:latency"]["status"]) == (200, "warn")


def redis_cache(url: str) -> dict[str, Any]:
    return {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}


def test_cache_check_on_real_redis_leaves_no_key(redis_url: str) -> None:
    with override_settings(CACHES={"default": redis_cache(redis_url)}):
        status, found = report([CacheCheck()])
    assert status == 200
    entry = found["cache:latency"]
    assert (entry["status"], entry["componentId"], entry["observedUnit"]) == (
        "pass",
        "default",
        "ms",
    )
    assert redis.Redis.from_url(redis_url).dbsize() == 0


def test_cache_check_fails_when_redis_is_not_there() -> None:
    closed = f"redis://127.0.0.1:{free_port()}/0"
    with override_settings(CACHES={"default": redis_cache(closed)}):
        status, found = report([CacheCheck()])
    assert status == 503
    assert found["cache:latency"]["status"] == "fail"
    assert "ConnectionError" in found["cache:latency"]["output"]


def test_cache_check_fails_on_a_cache_that_keeps_nothing() -> None:
    caches = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "dummy": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"},
    }
    with override_settings(CACHES=caches):
        status, found = report([CacheCheck("default")])
        assert (status, found["cache:latency"]["status"]) == (200, "pass")
        status, found = report([CacheCheck("dummy")])
    assert status == 503
    assert found["cache:latency"]["output"] == "the cache did not return the value just written"
