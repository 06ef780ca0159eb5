"""``/healthz?checks=...&tags=...`` and the HTML view, through Flask, WSGI and ASGI."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import httpx
import pytest
from flask import Flask
from werkzeug.test import Client

from tests.health.procs import wait_until
from tocsin.flask import Tocsin
from tocsin.health import (
    Check,
    FunctionCheck,
    HealthChecker,
    HealthEndpoint,
    HealthReport,
    Measurement,
)
from tocsin.health.asgi import HealthASGIApp
from tocsin.health.checks.redis import RedisCheck
from tocsin.health.wsgi import HealthWSGIApp

TOKEN = "s3cret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


class JobsCheck(Check):
    """Two measurements, so a pattern can pick one of them."""

    def __init__(self, runs: Counter[str]) -> None:
        super().__init__(component="jobs", measurements=["depth", "age"], component_id="emails")
        self.runs = runs

    def collect(self) -> list[Measurement]:
        self.runs["jobs"] += 1
        return [self.measure("depth", 3, unit="jobs"), self.measure("age", 1.5, unit="s")]


def make_checks(redis_url: str, runs: Counter[str]) -> list[Check]:
    def counted(name: str, result: Any) -> Any:
        def function() -> Any:
            runs[name] += 1
            return result

        function.__name__ = name
        return function

    return [
        RedisCheck(redis_url, tags=["infra"]),
        JobsCheck(runs),
        FunctionCheck(counted("db", True), tags=["infra", "db"]),
        FunctionCheck(counted("broken", False)),
        FunctionCheck(counted("html", "<script>alert(1)</script> & more")),
    ]


def flask_client(redis_url: str, runs: Counter[str], **config: Any) -> Any:
    app = Flask(__name__)
    app.config.update(TOCSIN_HEALTH_TOKEN=TOKEN, TOCSIN_HEALTH_CACHE_SECONDS=60.0, **config)
    Tocsin(app, checks=make_checks(redis_url, runs))
    return app.test_client()


def test_a_subset_runs_and_reports_only_the_checks_it_names(redis_url: str) -> None:
    runs: Counter[str] = Counter()
    client = flask_client(redis_url, runs)
    answer = client.get("/healthz?checks=redis,jobs:*", headers=AUTH)
    assert answer.status_code == 200  # the failing "broken" check is not part of it
    body = answer.get_json()
    assert set(body["checks"]) == {"redis:latency", "jobs:depth", "jobs:age"}
    assert body["status"] == "pass"
    assert runs == Counter(jobs=1)

    one = client.get("/healthz?checks=jobs:age", headers=AUTH).get_json()
    assert set(one["checks"]) == {"jobs:age"}
    assert one["checks"]["jobs:age"][0]["observedValue"] == 1.5

    full = client.get("/healthz", headers=AUTH)
    assert full.status_code == 503
    assert "broken:status" in full.get_json()["checks"]


def test_tags_and_repeated_parameters(redis_url: str) -> None:
    runs: Counter[str] = Counter()
    client = flask_client(redis_url, runs)
    body = client.get("/healthz?tags=db", headers=AUTH).get_json()
    assert set(body["checks"]) == {"db:status"}
    both = client.get("/healthz?tags=infra&checks=broken", headers=AUTH)
    assert both.status_code == 503
    assert set(both.get_json()["checks"]) == {"redis:latency", "db:status", "broken:status"}
    same = client.get("/healthz?checks=redis&checks=jobs:depth", headers=AUTH).get_json()
    assert set(same["checks"]) == {"redis:latency", "jobs:depth"}


def test_unknown_names_and_tags_are_a_400_that_lists_the_known_checks(redis_url: str) -> None:
    runs: Counter[str] = Counter()
    client = flask_client(redis_url, runs)
    answer = client.get("/healthz?checks=redis,rq:*,nope&tags=gpu", headers=AUTH)
    assert answer.status_code == 400
    error = answer.get_json()["error"]
    assert "unknown check 'rq:*', 'nope'" in error
    assert "unknown tag 'gpu'" in error
    assert "jobs:depth" in error and "redis:latency" in error
    assert runs == Counter()  # nothing ran
    # The token comes first: without it, nothing is said about the checks.
    assert client.get("/healthz?checks=nope").status_code == 401


def test_each_subset_is_cached_and_a_fresh_full_report_serves_every_subset(
    redis_url: str,
) -> None:
    runs: Counter[str] = Counter()
    client = flask_client(redis_url, runs)
    for _ in range(3):
        assert client.get("/healthz?checks=db", headers=AUTH).status_code == 200
        assert client.get("/healthz?checks=jobs", headers=AUTH).status_code == 200
    assert runs == Counter(db=1, jobs=1)
    # The same checks named another way share the cache entry.
    assert client.get("/healthz?checks=d*", headers=AUTH).status_code == 200
    assert runs == Counter(db=1, jobs=1)

    client.get("/healthz", headers=AUTH)
    assert runs == Counter(db=2, jobs=2, broken=1, html=1)
    body = client.get("/healthz?checks=broken,html", headers=AUTH).get_json()
    assert set(body["checks"]) == {"broken:status", "html:status"}
    assert runs == Counter(db=2, jobs=2, broken=1, html=1)  # cut from the full report


def test_html_view_for_browsers_escapes_output_and_keeps_the_token_rules(
    redis_url: str,
) -> None:
    runs: Counter[str] = Counter()
    client = flask_client(redis_url, runs)
    page = client.get("/healthz", headers={**AUTH, "Accept": BROWSER})
    assert page.status_code == 503
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert page.headers["Vary"] == "Authorization, Accept"
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    text = page.get_data(as_text=True)
    assert "<script" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in text
    assert "broken:status" in text and "jobs:depth" in text and "3 jobs" in text
    subset = client.get("/healthz?checks=jobs", headers={**AUTH, "Accept": BROWSER})
    assert subset.status_code == 200
    assert "jobs:age" in subset.get_data(as_text=True)
    assert "broken" not in subset.get_data(as_text=True)

    # curl and monitors keep JSON; a tie goes to JSON.
    for accept in ("*/*", "application/json", "text/html;q=0.5,application/json"):
        answer = client.get("/healthz", headers={**AUTH, "Accept": accept})
        assert answer.headers["Content-Type"] == "application/health+json", accept
    assert client.get("/healthz", headers={"Accept": BROWSER}).status_code == 401

    public = flask_client(redis_url, runs, TOCSIN_HEALTH_PUBLIC_STATUS=True)
    bare = public.get("/healthz", headers={"Accept": BROWSER})
    assert bare.status_code == 503
    assert "fail" in bare.get_data(as_text=True)
    assert "broken" not in bare.get_data(as_text=True)


def test_wsgi_app_takes_subsets_and_serves_html(redis_url: str) -> None:
    runs: Counter[str] = Counter()
    endpoint = HealthEndpoint(HealthChecker(make_checks(redis_url, runs)), token=TOKEN)
    client = Client(HealthWSGIApp(endpoint, metrics_path="/metrics"))
    answer = client.get("/healthz?checks=redis", headers=AUTH)
    assert answer.status_code == 200
    assert set(answer.json["checks"]) == {"redis:latency"}  # type: ignore[index]
    assert client.get("/healthz?checks=x", headers=AUTH).status_code == 400
    page = client.get("/healthz?tags=db", headers={**AUTH, "Accept": BROWSER})
    assert page.headers["Content-Type"].startswith("text/html")
    assert "db:status" in page.get_data(as_text=True)
    metrics = client.get("/metrics?checks=jobs:depth", headers=AUTH).get_data(as_text=True)
    assert 'check="jobs:depth"' in metrics and "redis" not in metrics


@pytest.mark.asyncio
async def test_asgi_app_takes_subsets_and_serves_html(redis_url: str) -> None:
    runs: Counter[str] = Counter()
    endpoint = HealthEndpoint(HealthChecker(make_checks(redis_url, runs)), token=TOKEN)
    transport = httpx.ASGITransport(app=HealthASGIApp(endpoint))
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        answer = await client.get("/healthz?checks=jobs:depth,db", headers=AUTH)
        assert answer.status_code == 200
        assert set(answer.json()["checks"]) == {"jobs:depth", "db:status"}
        refused = await client.get("/healthz?checks=rq:*", headers=AUTH)
        assert refused.status_code == 400
        assert refused.json()["error"].startswith("unknown check 'rq:*'")
        page = await client.get("/healthz", headers={**AUTH, "Accept": BROWSER})
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert "&lt;script&gt;" in page.text
    assert runs["jobs"] == 2  # the subset's run, then the full one


def test_a_subset_and_the_full_report_at_the_same_time_share_a_running_check() -> None:
    runs: Counter[str] = Counter()
    release = threading.Event()

    def slow() -> bool:
        runs["slow"] += 1
        return release.wait(5)

    checker = HealthChecker([FunctionCheck(slow, timeout=5), FunctionCheck(lambda: True)], ttl=60)
    full: list[HealthReport] = []
    thread = threading.Thread(target=lambda: full.append(checker.run()))
    thread.start()
    wait_until(lambda: runs["slow"], lambda n: n == 1, 5)
    subset: list[HealthReport] = []
    second = threading.Thread(
        target=lambda: subset.append(checker.run(selection=checker.select(["slow"])))
    )
    second.start()
    release.set()
    thread.join(10)
    second.join(10)
    body = subset[0].to_json()
    assert body["status"] == "pass", body  # not "previous run still hung"
    assert set(body["checks"]) == {"slow:status"}
    assert full[0].status.value == "pass"
    assert runs["slow"] == 1
