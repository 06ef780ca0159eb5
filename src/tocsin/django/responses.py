"""Framework-free answers turned into Django responses, and the one 405 of the views."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

from django.http import HttpRequest, HttpResponse

SAFE_METHODS = ("GET", "HEAD")


def to_django(
    status: int, headers: Mapping[str, str] | Iterable[tuple[str, str]], body: bytes
) -> HttpResponse:
    """A Django response with exactly this status, these headers and this body."""
    return HttpResponse(body, status=status, headers=headers)


def refuse_method(request: HttpRequest, allowed: tuple[str, ...]) -> HttpResponse | None:
    """405 ``{"error": ...}`` with ``Allow`` when ``request``'s method is not ``allowed``."""
    if request.method in allowed:
        return None
    body = json.dumps({"error": f"method {request.method} not allowed"}).encode()
    headers = {"Content-Type": "application/json", "Allow": ", ".join(allowed)}
    return to_django(405, headers, body)
