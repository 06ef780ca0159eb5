"""Framework-free HTTP logic for ``/healthz``, ``/livez`` and metrics.

The Flask extension, the WSGI app and the ASGI app all turn requests into calls on
:class:`HealthEndpoint` and send back the :class:`HTTPResponse` it returns. Nothing
here raises in the request path: a broken run becomes a ``fail`` report.

``/healthz`` and the metrics take ``?checks=redis,rq:*`` and ``?tags=db`` (see
:mod:`tocsin.health.selection`) to run and report only some checks, and ``/healthz``
answers a client whose ``Accept`` prefers ``text/html`` (a browser) with an HTML page.
"""

from __future__ import annotations

import hmac
import json
import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from tocsin.health import html, prometheus
from tocsin.health.model import MEDIA_TYPE, HealthReport
from tocsin.health.runner import HealthChecker
from tocsin.health.selection import Selection, UnknownSelection, parse_list

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


_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    503: "Service Unavailable",
}
_VARY = ("Vary", "Authorization, Accept")


def _json(status: int, body: dict[str, Any], content_type: str = MEDIA_TYPE) -> HTTPResponse:
    data = json.dumps(body, separators=(",", ":"), default=str).encode()
    headers = [("Content-Type", content_type), _NO_STORE, _VARY]
    return HTTPResponse(status, headers, data)


def _html(status: int, page: str) -> HTTPResponse:
    headers = [("Content-Type", html.CONTENT_TYPE), _NO_STORE, _VARY, *html.SECURITY_HEADERS]
    return HTTPResponse(status, headers, page.encode())


def _bad_request(message: str) -> HTTPResponse:
    return _json(400, {"error": message}, "application/json")


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

    def _answer(self, access: str, report: HealthReport, accept: str | None) -> HTTPResponse:
        as_html = html.prefers_html(accept)
        if access == "full":
            if as_html:
                return _html(report.http_status, html.render(report, self.info))
            return self.render(report)
        if as_html:
            return _html(report.http_status, html.render_status(report))
        return _json(report.http_status, {"status": report.status.value})

    def selection(self, query: str) -> Selection | None:
        """The subset a query string (``checks=...&tags=...``) asks for; None for all.

        Raises :class:`UnknownSelection` for a name, pattern or tag that matches nothing.
        """
        if not query:
            return None
        params = parse_qs(query)
        patterns = parse_list(params.get("checks", ()))
        tags = parse_list(params.get("tags", ()))
        if not patterns and not tags:
            return None
        return self.checker.select(patterns, tags)

    def _prepare(
        self, authorization: str | None, query: str
    ) -> tuple[str, Selection | None] | HTTPResponse:
        """The access and selection of a request, or the response refusing it."""
        access = self._access(authorization)
        if access is None:
            return self.unauthorized()
        try:
            return access, self.selection(query)
        except UnknownSelection as exc:
            return _bad_request(str(exc))

    def healthz(
        self, authorization: str | None, query: str = "", accept: str | None = None
    ) -> HTTPResponse:
        """The deep report (or the bare status, or 401), of the checks ``query`` selects."""
        prepared = self._prepare(authorization, query)
        if isinstance(prepared, HTTPResponse):
            return prepared
        access, selection = prepared
        return self._answer(access, self.checker.run(selection=selection), accept)

    async def ahealthz(
        self, authorization: str | None, query: str = "", accept: str | None = None
    ) -> HTTPResponse:
        """:meth:`healthz` for async servers (the run waits in a thread)."""
        prepared = self._prepare(authorization, query)
        if isinstance(prepared, HTTPResponse):
            return prepared
        access, selection = prepared
        return self._answer(access, await self.checker.arun(selection=selection), accept)

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

    def _prepare_metrics(
        self, authorization: str | None, query: str
    ) -> Selection | HTTPResponse | None:
        if self.authorized(authorization) is not True:
            return self.unauthorized()
        try:
            return self.selection(query)
        except UnknownSelection as exc:
            return _bad_request(str(exc))

    def metrics(self, authorization: str | None, query: str = "") -> HTTPResponse:
        """Prometheus text of the (cached) report, behind the same token."""
        prepared = self._prepare_metrics(authorization, query)
        if isinstance(prepared, HTTPResponse):
            return prepared
        return self._metrics(self.checker.run(selection=prepared))

    async def ametrics(self, authorization: str | None, query: str = "") -> HTTPResponse:
        """:meth:`metrics` for async servers."""
        prepared = self._prepare_metrics(authorization, query)
        if isinstance(prepared, HTTPResponse):
            return prepared
        return self._metrics(await self.checker.arun(selection=prepared))

    def _metrics(self, report: HealthReport) -> HTTPResponse:
        text = prometheus.render(report)
        return HTTPResponse(
            200, [("Content-Type", prometheus.CONTENT_TYPE), _NO_STORE], text.encode()
        )

    def not_found(self) -> HTTPResponse:
        """404 for a path this endpoint does not serve."""
        return _json(404, {"error": "not found"}, "application/json")
