"""The Flask extension: a deep ``/healthz`` and a shallow ``/livez``.

::

    from tocsin.flask import Tocsin
    from tocsin.health.checks.rq import RQQueueCheck

    tocsin = Tocsin()
    tocsin.add(RQQueueCheck(REDIS_URL, "default"))
    tocsin.init_app(app)

Config keys (``app.config``; defaults in brackets):

- ``TOCSIN_HEALTH_TOKEN`` [None]: bearer token for ``/healthz``; without one the deep
  report is public;
- ``TOCSIN_HEALTH_PUBLIC_STATUS`` [False]: answer requests without a token with a bare
  ``{"status": ...}`` instead of 401;
- ``TOCSIN_HEALTH_CACHE_SECONDS`` [5.0] and ``TOCSIN_HEALTH_BUDGET_SECONDS`` [5.0];
- ``TOCSIN_HEALTHZ_PATH`` ["/healthz"], ``TOCSIN_LIVEZ_PATH`` ["/livez"],
  ``TOCSIN_METRICS_PATH`` [None: off] for Prometheus text of the same measurements;
- ``TOCSIN_HEALTH_INFO`` [{}]: extra top-level fields (``version``, ``serviceId``...).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, request

from tocsin.health.check import Check, CheckFunction
from tocsin.health.endpoint import HealthEndpoint, HTTPResponse
from tocsin.health.runner import DEFAULT_BUDGET, DEFAULT_TTL, HealthChecker
from tocsin.health.thresholds import NEVER, Threshold

logger = logging.getLogger(__name__)

EXTENSION_KEY = "tocsin.health"


def _to_flask(response: HTTPResponse) -> Response:
    return Response(response.body, status=response.status, headers=response.headers)


class Tocsin:
    """Flask extension; checks added with :meth:`add` or :meth:`check` apply to every app."""

    def __init__(self, app: Flask | None = None, checks: list[Check] | None = None) -> None:
        self.checks: list[Check] = list(checks or [])
        if app is not None:
            self.init_app(app)

    def add(self, check: Check) -> Check:
        """Add a check to every app this extension serves; returns it."""
        self.checks.append(check)
        return check

    def check(
        self,
        name: str | None = None,
        *,
        critical: bool = True,
        timeout: float = 2.0,
        threshold: Threshold = NEVER,
        **options: Any,
    ) -> Any:
        """Decorator: a function as a check (see :class:`tocsin.health.FunctionCheck`)."""
        from tocsin.health.check import FunctionCheck

        def register(function: CheckFunction) -> CheckFunction:
            self.add(
                FunctionCheck(
                    function,
                    component=name,
                    critical=critical,
                    timeout=timeout,
                    threshold=threshold,
                    **options,
                )
            )
            return function

        return register

    def init_app(self, app: Flask) -> None:
        """Register the routes on ``app``. Raises here, at setup, on bad config."""
        config = app.config
        config.setdefault("TOCSIN_HEALTH_TOKEN", None)
        config.setdefault("TOCSIN_HEALTH_PUBLIC_STATUS", False)
        config.setdefault("TOCSIN_HEALTH_CACHE_SECONDS", DEFAULT_TTL)
        config.setdefault("TOCSIN_HEALTH_BUDGET_SECONDS", DEFAULT_BUDGET)
        config.setdefault("TOCSIN_HEALTHZ_PATH", "/healthz")
        config.setdefault("TOCSIN_LIVEZ_PATH", "/livez")
        config.setdefault("TOCSIN_METRICS_PATH", None)
        config.setdefault("TOCSIN_HEALTH_INFO", {})
        token = config["TOCSIN_HEALTH_TOKEN"]
        if token is not None and (not isinstance(token, str) or not token):
            raise ValueError("TOCSIN_HEALTH_TOKEN must be a non-empty string or None")
        checker = HealthChecker(
            self.checks,
            ttl=float(config["TOCSIN_HEALTH_CACHE_SECONDS"]),
            budget=float(config["TOCSIN_HEALTH_BUDGET_SECONDS"]),
        )
        endpoint = HealthEndpoint(
            checker,
            token=token,
            public_status=bool(config["TOCSIN_HEALTH_PUBLIC_STATUS"]),
            info=dict(config["TOCSIN_HEALTH_INFO"]),
        )
        if token is None:
            logger.warning("healthz has no token, the deep report is public app=%s", app.name)
        app.extensions[EXTENSION_KEY] = endpoint

        def healthz() -> Response:
            return _to_flask(
                endpoint.healthz(
                    request.headers.get("Authorization"),
                    request.query_string.decode("latin-1"),
                    request.headers.get("Accept"),
                )
            )

        def livez() -> Response:
            return _to_flask(endpoint.livez())

        app.add_url_rule(config["TOCSIN_HEALTHZ_PATH"], "tocsin_healthz", healthz)
        app.add_url_rule(config["TOCSIN_LIVEZ_PATH"], "tocsin_livez", livez)
        if config["TOCSIN_METRICS_PATH"]:

            def metrics() -> Response:
                return _to_flask(
                    endpoint.metrics(
                        request.headers.get("Authorization"), request.query_string.decode("latin-1")
                    )
                )

            app.add_url_rule(config["TOCSIN_METRICS_PATH"], "tocsin_metrics", metrics)

    @staticmethod
    def endpoint(app: Flask) -> HealthEndpoint:
        """The app's :class:`HealthEndpoint` (its checker, token and cache)."""
        endpoint: HealthEndpoint = app.extensions[EXTENSION_KEY]
        return endpoint
