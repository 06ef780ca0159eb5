"""A plain WSGI app serving ``/healthz``, ``/livez`` and optional metrics.

Mount it in Django (``WSGIHandler`` dispatch), behind werkzeug's ``DispatcherMiddleware``
or run it alone; paths are matched against ``PATH_INFO``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from tocsin.health.endpoint import HealthEndpoint, HTTPResponse

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


class HealthWSGIApp:
    """WSGI application answering the health paths of one :class:`HealthEndpoint`."""

    def __init__(
        self,
        endpoint: HealthEndpoint,
        *,
        healthz_path: str = "/healthz",
        livez_path: str = "/livez",
        metrics_path: str | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.healthz_path = healthz_path
        self.livez_path = livez_path
        self.metrics_path = metrics_path

    def respond(
        self, path: str, authorization: str | None, query: str = "", accept: str | None = None
    ) -> HTTPResponse:
        """The response for ``path`` (without running anything for ``/livez``)."""
        if path == self.livez_path:
            return self.endpoint.livez()
        if path == self.healthz_path:
            return self.endpoint.healthz(authorization, query, accept)
        if self.metrics_path is not None and path == self.metrics_path:
            return self.endpoint.metrics(authorization, query)
        return self.endpoint.not_found()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """The WSGI entry point."""
        response = self.respond(
            environ.get("PATH_INFO", "") or "/",
            environ.get("HTTP_AUTHORIZATION"),
            environ.get("QUERY_STRING", ""),
            environ.get("HTTP_ACCEPT"),
        )
        headers = [*response.headers, ("Content-Length", str(len(response.body)))]
        start_response(f"{response.status} {response.reason}", headers)
        return [response.body]
