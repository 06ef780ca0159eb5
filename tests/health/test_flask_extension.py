"""The Flask extension's setup rules and config keys, in a real Flask app."""

from __future__ import annotations

import pytest
from flask import Flask

from tocsin.flask import Tocsin
from tocsin.health import above


def test_init_app_pattern_config_and_custom_checks() -> None:
    tocsin = Tocsin()

    @tocsin.check("backlog", measurement="depth", unit="jobs", threshold=above(warn=10))
    def depth() -> int:
        return 12

    app = Flask("one")
    app.config.update(
        TOCSIN_HEALTHZ_PATH="/ops/health",
        TOCSIN_LIVEZ_PATH="/ops/live",
        TOCSIN_HEALTH_INFO={"version": "1.2.3", "serviceId": "api"},
    )
    tocsin.init_app(app)
    assert app.config["TOCSIN_HEALTH_CACHE_SECONDS"] == 5.0
    client = app.test_client()
    response = client.get("/ops/health")
    assert response.status_code == 200  # warn is still 2xx
    body = response.get_json()
    assert (body["status"], body["version"], body["serviceId"]) == ("warn", "1.2.3", "api")
    assert body["checks"]["backlog:depth"][0]["observedValue"] == 12
    assert client.get("/ops/live").status_code == 200
    assert client.get("/healthz").status_code == 404
    assert Tocsin.endpoint(app).checker.ttl == 5.0

    # A check added after init_app is run too, and a second app gets its own cache.
    tocsin.check("always_down")(lambda: False)
    other = Flask("two")
    other.config["TOCSIN_HEALTH_CACHE_SECONDS"] = 0
    tocsin.init_app(other)
    assert other.test_client().get("/healthz").status_code == 503


def test_bad_config_raises_at_setup_not_in_requests() -> None:
    app = Flask("bad")
    app.config["TOCSIN_HEALTH_TOKEN"] = ""
    with pytest.raises(ValueError, match="TOCSIN_HEALTH_TOKEN"):
        Tocsin(app)
