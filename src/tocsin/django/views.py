"""``/healthz``, ``/livez`` and ``/metrics`` as Django views over the configured endpoint.

The token, the subsets (``?checks=``, ``?tags=``), the HTML page for browsers and every
status code come from :class:`tocsin.health.HealthEndpoint`; these views only hand it the
request's ``Authorization``, query string and ``Accept`` and send back what it answers.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from tocsin.django.conf import current
from tocsin.django.responses import SAFE_METHODS, refuse_method, to_django
from tocsin.health.endpoint import HTTPResponse


def _send(response: HTTPResponse) -> HttpResponse:
    return to_django(response.status, response.headers, response.body)


def healthz(request: HttpRequest) -> HttpResponse:
    """The deep report (or the bare status, 401, 400 for an unknown subset)."""
    refused = refuse_method(request, SAFE_METHODS)
    if refused is not None:
        return refused
    answer = current().endpoint.healthz(
        request.headers.get("Authorization"),
        request.META.get("QUERY_STRING", ""),
        request.headers.get("Accept"),
    )
    return _send(answer)


def livez(request: HttpRequest) -> HttpResponse:
    """Liveness: no I/O, always public."""
    refused = refuse_method(request, SAFE_METHODS)
    if refused is not None:
        return refused
    return _send(current().endpoint.livez())


def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text behind the same token; 404 unless ``"metrics": True``."""
    refused = refuse_method(request, SAFE_METHODS)
    if refused is not None:
        return refused
    configured = current()
    if not configured.metrics:
        return _send(configured.endpoint.not_found())
    answer = configured.endpoint.metrics(
        request.headers.get("Authorization"), request.META.get("QUERY_STRING", "")
    )
    return _send(answer)
