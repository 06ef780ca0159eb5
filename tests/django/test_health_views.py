"""``include("tocsin.django.urls")`` as a user sees it, through Django's test client."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client, override_settings

from tocsin.django.checks import CacheCheck, DatabaseCheck
from tocsin.django.conf import read_settings
from tocsin.health import FunctionCheck

TOKEN = "s3cret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def health(**setting: Any) -> override_settings:
    """``TOCSIN_HEALTH`` for one test; no caching, so each request runs the checks."""
    return override_settings(TOCSIN_HEALTH={"cache_ttl": 0, **setting})


def entries(response: Any, key: str) -> dict[str, dict[str, Any]]:
    """The report's entries under ``key``, by ``componentId``."""
    return {e["componentId"]: e for e in response.json()["checks"][key]}


def test_default_checks_every_database_alias() -> None:
    with override_settings(TOCSIN_HEALTH={"cache_ttl": 0}):
        response = Client().get("/healthz")
    assert response.status_code == 503
    assert response["Content-Type"] == "application/health+json"
    latency = entries(response, "database:latency")
    assert set(latency) == {"default", "sqlite_readonly", "pg", "pg_readonly", "pg_down"}
    assert {alias for alias, e in latency.items() if e["status"] == "fail"} == {"pg_down"}
    assert "Connection refused" in latency["pg_down"]["output"]


def test_token_rules_livez_and_headers() -> None:
    checks = [DatabaseCheck("default")]
    with health(token=TOKEN, checks=checks):
        client = Client()
        refused = client.get("/healthz")
        assert refused.status_code == 401
        assert refused["WWW-Authenticate"].startswith("Bearer")
        assert refused.json() == {"error": "a bearer token is required"}
        assert client.get("/healthz", headers={"Authorization": "Bearer nope"}).status_code == 401
        assert (
            client.get("/healthz", headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401
        )
        deep = client.get("/healthz", headers=AUTH)
        assert deep.status_code == 200
        assert deep["Content-Type"] == "application/health+json"
        assert deep["Cache-Control"] == "no-store"
        assert deep.json()["status"] == "pass"
        assert entries(deep, "database:latency")["default"]["observedUnit"] == "ms"
        live = client.get("/livez")
        assert (live.status_code, live.json()) == (200, {"status": "pass"})
        posted = client.post("/healthz", headers=AUTH)
        assert (posted.status_code, posted["Allow"]) == (405, "GET, HEAD")
        assert posted.json() == {"error": "method POST not allowed"}


def test_public_status_info_and_failing_function_check() -> None:
    down = FunctionCheck(lambda: False, component="flags")
    with health(token=TOKEN, public_status=True, info={"version": "1.2"}, checks=[down]):
        bare = Client().get("/healthz")
        assert (bare.status_code, bare.json()) == (503, {"status": "fail"})
        deep = Client().get("/healthz", headers=AUTH)
        assert deep.json()["version"] == "1.2"
        assert deep.json()["checks"]["flags:status"][0]["output"] == "check returned False"


def test_subsets_and_unknown_names() -> None:
    checks = [DatabaseCheck("default"), DatabaseCheck("pg_down", tags=["replica"]), CacheCheck()]
    with health(checks=checks):
        client = Client()
        assert client.get("/healthz").status_code == 503
        cache_only = client.get("/healthz?checks=cache")
        assert cache_only.status_code == 200
        assert set(cache_only.json()["checks"]) == {"cache:latency"}
        by_name = client.get("/healthz?checks=database/default")
        assert (by_name.status_code, set(entries(by_name, "database:latency"))) == (
            200,
            {"default"},
        )
        tagged = client.get("/healthz?tags=replica")
        assert (tagged.status_code, set(entries(tagged, "database:latency"))) == (503, {"pg_down"})
        typo = client.get("/healthz?checks=cahce")
        assert typo.status_code == 400
        assert typo["Content-Type"] == "application/json"
        assert "unknown check 'cahce'" in typo.json()["error"]


def test_html_for_browsers() -> None:
    with health(token=TOKEN, checks=[DatabaseCheck("pg_down")]):
        page = Client().get("/healthz", headers={**AUTH, "Accept": "text/html,*/*;q=0.8"})
    assert page.status_code == 503
    assert page["Content-Type"].startswith("text/html")
    assert page["Content-Security-Policy"].startswith("default-src 'none'")
    text = page.content.decode()
    assert "database:latency" in text and "pg_down" in text


def test_metrics_only_when_enabled_and_behind_the_token() -> None:
    with health(token=TOKEN, checks=[DatabaseCheck("default")]):
        off = Client().get("/metrics", headers=AUTH)
        assert (off.status_code, off.json()) == (404, {"error": "not found"})
    with health(token=TOKEN, metrics=True, checks=[DatabaseCheck("default")]):
        assert Client().get("/metrics").status_code == 401
        on = Client().get("/metrics", headers=AUTH)
    assert on.status_code == 200
    assert on["Content-Type"].startswith("text/plain")
    assert 'component_id="default"' in on.content.decode()


def test_checks_from_dotted_paths() -> None:
    paths = [
        "tocsin.django.checks.CacheCheck",  # a class, built with no arguments
        "tests.django.factories.sqlite_write",  # a factory returning one check
        "tests.django.factories.ALWAYS_WARN",  # a check object
    ]
    with health(checks=paths):
        response = Client().get("/healthz")
    body = response.json()
    assert (response.status_code, body["status"]) == (200, "warn")
    assert set(body["checks"]) == {
        "cache:latency",
        "database:latency",
        "database:write_latency",
        "optional:status",
    }


def test_every_settings_problem_is_listed_at_once() -> None:
    setting = {
        "tokn": "x",
        "token": "",
        "cache_ttl": -1,
        "metrics": "yes",
        "checks": [
            "tests.django.factories.missing",
            DatabaseCheck("nowhere"),
            CacheCheck("elsewhere"),
            42,
        ],
    }
    with pytest.raises(ImproperlyConfigured) as raised:
        read_settings(setting)
    message = str(raised.value)
    for part in (
        "unknown key 'tokn'",
        "'token' must be a non-empty string",
        "'cache_ttl' must be a number of seconds >= 0, got -1",
        "'metrics' must be True or False",
        "checks[0] ('tests.django.factories.missing'): ImportError",
        "checks[1]: no database alias 'nowhere' in DATABASES",
        "checks[2]: no cache alias 'elsewhere' in CACHES",
        "checks[3]: 42 is neither a Check",
    ):
        assert part in message


def test_a_bad_setting_stops_django_at_start_up() -> None:
    code = (
        "import django\n"
        "from django.conf import settings\n"
        "settings.configure(INSTALLED_APPS=['tocsin.django'],"
        " TOCSIN_HEALTH={'token': '', 'checks': []})\n"
        "django.setup()\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 1
    assert "ImproperlyConfigured: TOCSIN_HEALTH: 'token' must be a non-empty string" in run.stderr
