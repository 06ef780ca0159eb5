"""/healthz and /livez as a user sees them: auth, failures of Redis, cache, other servers."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import httpx
import pytest
import redis
from flask import Flask
from starlette.applications import Starlette
from starlette.routing import Mount
from werkzeug.test import Client

from tests.health.procs import Processes, entry, load_example, throwaway_redis
from tocsin.health import HealthChecker, HealthEndpoint
from tocsin.health.asgi import HealthASGIApp
from tocsin.health.checks.redis import RedisCheck
from tocsin.health.checks.rq import RQQueueCheck
from tocsin.health.wsgi import HealthWSGIApp

TOKEN = "t0ken"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def rq_app(redis_url: str, **options: Any) -> Flask:
    module = load_example("flask_rq", "app")
    settings: dict[str, Any] = {"token": TOKEN, "cache_seconds": 0.0}
    settings.update(options)
    app: Flask = module.create_app(redis_url, ["default"], **settings)
    return app


def test_auth_bare_status_and_livez(redis_url: str) -> None:
    client = rq_app(redis_url).test_client()
    refused = client.get("/healthz")
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert "checks" not in refused.get_json()
    assert client.get("/healthz", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/healthz", headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401
    deep = client.get("/healthz", headers=AUTH)
    assert deep.headers["Cache-Control"] == "no-store"
    assert "rq:queue_depth" in deep.get_json()["checks"]
    live = client.get("/livez")
    assert (live.status_code, live.get_json()) == (200, {"status": "pass"})

    public = rq_app(redis_url, TOCSIN_HEALTH_PUBLIC_STATUS=True).test_client()
    bare = public.get("/healthz")
    assert bare.status_code == 503  # no worker: the workers check fails
    assert bare.get_json() == {"status": "fail"}
    assert public.get("/healthz", headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_prometheus_text_of_the_same_measurements(redis_url: str) -> None:
    client = rq_app(redis_url).test_client()
    assert client.get("/healthz/metrics").status_code == 401
    text = client.get("/healthz/metrics", headers=AUTH).get_data(as_text=True)
    assert "tocsin_health_status 2" in text
    assert 'tocsin_health_check_status{check="rq:workers",component_id="default"} 2' in text
    assert (
        'tocsin_health_observed_value{check="rq:queue_depth",component_id="default",unit="jobs"} 0'
        in text
    )


@pytest.mark.slow
def test_redis_stopped_gives_503_fast_and_livez_stays_200(procs: Processes) -> None:
    with throwaway_redis(procs) as (port, server):
        client = rq_app(f"redis://127.0.0.1:{port}/0").test_client()
        assert (
            entry(client.get("/healthz", headers=AUTH).get_json(), "redis:latency")["status"]
            == "pass"
        )
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(5)
        start = time.monotonic()
        response = client.get("/healthz", headers=AUTH)
        assert time.monotonic() - start < 2.5
        assert response.status_code == 503
        body = response.get_json()
        redis_entry = entry(body, "redis:latency")
        assert redis_entry["status"] == "fail"
        assert "Connection" in redis_entry["output"]
        assert entry(body, "rq:workers", "default")["status"] == "fail"
        assert client.get("/livez").status_code == 200


@pytest.mark.slow
def test_hung_redis_gives_503_within_the_budget_not_a_hang(procs: Processes) -> None:
    with throwaway_redis(procs) as (port, server):
        url = f"redis://127.0.0.1:{port}/0"
        checker = HealthChecker(
            [RedisCheck(url, timeout=1.0), RQQueueCheck(url, "default", timeout=1.0)],
            ttl=0,
            budget=1.5,
        )
        app = HealthWSGIApp(HealthEndpoint(checker, token=TOKEN))
        client = Client(app)
        assert client.get("/healthz", headers=AUTH).status_code == 503  # no workers yet
        os.killpg(server.pid, signal.SIGSTOP)  # accepts connections, never answers
        try:
            start = time.monotonic()
            response = client.get("/healthz", headers=AUTH)
            elapsed = time.monotonic() - start
        finally:
            os.killpg(server.pid, signal.SIGCONT)
        assert elapsed < 1.5 + 0.5
        assert response.status_code == 503
        body = response.get_json()
        assert entry(body, "redis:latency")["output"] in (
            "timed out after 1.0 s",
            "TimeoutError: Timeout reading from socket",
        )
        assert entry(body, "rq:queue_depth", "default")["status"] == "fail"


def test_cached_requests_issue_no_redis_commands(procs: Processes) -> None:
    with throwaway_redis(procs) as (port, _):
        client = rq_app(f"redis://127.0.0.1:{port}/0", cache_seconds=30).test_client()
        client.get("/healthz", headers=AUTH)
        admin = redis.Redis(port=port)
        before = admin.info("stats")["total_commands_processed"]
        for _ in range(50):
            assert client.get("/healthz", headers=AUTH).status_code == 503
        after = admin.info("stats")["total_commands_processed"]
        assert after - before == 1  # the INFO call itself


async def test_asgi_app_mounted_in_starlette(redis_url: str) -> None:
    checker = HealthChecker([RQQueueCheck(redis_url, "default")])
    checker.check("config", critical=False)(lambda: "loaded")
    health = HealthASGIApp(HealthEndpoint(checker, token=TOKEN), metrics_path="/metrics")
    app = Starlette(routes=[Mount("/ops", app=health)])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.get("/ops/livez")).json() == {"status": "pass"}
        assert (await client.get("/ops/healthz")).status_code == 401
        response = await client.get("/ops/healthz", headers=AUTH)
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/health+json"
        body = response.json()
        assert entry(body, "rq:workers", "default")["status"] == "fail"
        assert entry(body, "config:status")["output"] == "loaded"
        assert (await client.get("/ops/metrics", headers=AUTH)).status_code == 200
        assert (await client.get("/ops/nope")).status_code == 404
