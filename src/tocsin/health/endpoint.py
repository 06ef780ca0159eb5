"""Framework-free HTTP logic for ``/healthz``, ``/livez`` and metrics.

The Flask extension, the WSGI app and the ASGI app all turn requests into calls on
:class:`HealthEndpoint` and send back the :class:`HTTPResponse` it returns. Nothing
here raises in the request path: a broken run becomes a ``fail`` report.
"""

from __future__ import annotations

import hmac
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from tocsin.health import prometheus
from tocsin.health.model import MEDIA_TYPE, HealthReport
from tocsin.health.runner import HealthChecker

logger = logging.getLogger(__name__)

_NO_STORE = ("Cache-Control", "no-store")


@dataclass(frozen=True, slots=True)
class HTTPResponse:
    """A status code, headers and a body, ready for any framework."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    @property
    def reason(self) -> str:
        """The status line's reason phrase."""
        return _REASONS.get(self.status, "")


_REASONS = {200: "OK", 401: "Unauthorized", 404: "Not Found", 503: "Service Unavailable"}


def _json(status: int, body: dict[str, Any], content_type: str = MEDIA_TYPE) -> HTTPResponse:
    data = json.dumps(body, separators=(",", ":"), default=str).encode()
    headers = [("Content-Type", content_type), _NO_STORE, ("Vary", "Authorization")]
    return HTTPResponse(status, headers, data)


@dataclass(slots=True)
class HealthEndpoint:
    """Answers health requests for one :class:`HealthChecker`.

    With a ``token``, the deep report needs ``Authorization: Bearer <token>``; without
    it the answer is 401, or a bare ``{"status": ...}`` when ``public_status`` is set
    (a wrong token is always 401). Without a token the deep report is public.
    """

    checker: HealthChecker
    token: str | None = None
    public_status: bool = False
    info: dict[str, Any] = field(default_factory=dict)

    def authorized(self, authorization: str | None) -> bool | None:
        """True for the right token (or none configured), False for a wrong one, None for none."""
        if self.token is None:
            return True
        if not authorization:
            return None
        scheme, _, given = authorization.partition(" ")
        if scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(given.strip().encode(), self.token.encode())

    def _access(self, authorization: str | None) -> str | None:
        """``"full"``, ``"bare"`` or None (refused) for this Authorization header."""
        allowed = self.authorized(authorization)
        if allowed is True:
            return "full"
        if allowed is None and self.public_status:
            return "bare"
        return None

    def _answer(self, access: str, report: HealthReport) -> HTTPResponse:
        if access == "full":
            return self.render(report)
        return _json(report.http_status, {"status": report.status.value})

    def healthz(self, authorization: str | None) -> HTTPResponse:
        """The deep report (or the bare status, or 401)."""
        access = self._access(authorization)
        if access is None:
            return self.unauthorized()
        return self._answer(access, self.checker.run())

    async def ahealthz(self, authorization: str | None) -> HTTPResponse:
        """:meth:`healthz` for async servers (the run waits in a thread)."""
        access = self._access(authorization)
        if access is None:
            return self.unauthorized()
        return self._answer(access, await self.checker.arun())

    def render(self, report: HealthReport) -> HTTPResponse:
        """A report as a health+json response."""
        return _json(report.http_status, report.to_json(**self.info))

    def unauthorized(self) -> HTTPResponse:
        """401 with a ``WWW-Authenticate: Bearer`` challenge."""
        response = _json(401, {"error": "a bearer token is required"}, "application/json")
        response.headers.append(("WWW-Authenticate", 'Bearer realm="tocsin"'))
        return response

    def livez(self) -> HTTPResponse:
        """Liveness: the process answers; no I/O, always public."""
        return _json(200, {"status": "pass"})

    def metrics(self, authorization: str | None) -> HTTPResponse:
        """Prometheus text of the (cached) report, behind the same token."""
        if self.authorized(authorization) is not True:
            return self.unauthorized()
        return self._metrics(self.checker.run())

    async def ametrics(self, authorization: str | None) -> HTTPResponse:
        """:meth:`metrics` for async servers."""
        if self.authorized(authorization) is not True:
            return self.unauthorized()
        return self._metrics(await self.checker.arun())

    def _metrics(self, report: HealthReport) -> HTTPResponse:
        text = prometheus.render(report)
        return HTTPResponse(
            200, [("Content-Type", prometheus.CONTENT_TYPE), _NO_STORE], text.encode()
        )

    def not_found(self) -> HTTPResponse:
        """404 for a path this endpoint does not serve."""
        return _json(404, {"error": "not found"}, "application/json")
