"""The Healthchecks-compatible ping routes, as plain Starlette handlers (the hot path).

``/ping/<uuid>[/start|/fail|/log|/<0-255>]`` and
``/ping/<ping-key>/<slug>[/start|/fail|/log|/<0-255>]`` with ``?rid=<uuid>`` and, on slug
URLs, ``?create=1``. Answers are Healthchecks' plain-text ones: ``OK``, ``Created``,
``not found``, ``invalid url format``, ``ambiguous slug``.
"""

from __future__ import annotations

import logging
import uuid as uuid_module
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from tocsin.heartbeats.requests import PingOutcome, PingRequest, SlugTarget
from tocsin.monitors.states import PingKind
from tocsin.web.state import ServerState

logger = logging.getLogger(__name__)

_ACTIONS = {"start": PingKind.START, "fail": PingKind.FAIL, "log": PingKind.LOG}
_STATUS = {
    PingOutcome.OK: 200,
    PingOutcome.CREATED: 201,
    PingOutcome.NOT_FOUND: 404,
    PingOutcome.AMBIGUOUS: 409,
}


class _BadPing(Exception):
    def __init__(self, status: int, text: str) -> None:
        self.status = status
        self.text = text


def _uuid(text: str) -> str | None:
    if len(text) != 36:
        return None
    try:
        return str(uuid_module.UUID(text))
    except ValueError:
        return None


def _action(text: str) -> tuple[PingKind, int | None]:
    if text in _ACTIONS:
        return _ACTIONS[text], None
    if text.isdigit() and len(text) <= 3:
        status = int(text)
        if status > 255:
            raise _BadPing(400, "invalid url format")
        return (PingKind.SUCCESS if status == 0 else PingKind.FAIL), status
    raise _BadPing(404, "not found")


def _answer(request: Request, status: int, text: str, limit: int) -> Response:
    headers = {"Access-Control-Allow-Origin": "*", "Ping-Body-Limit": str(limit)}
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers, media_type="text/plain")
    return PlainTextResponse(text, status_code=status, headers=headers)


async def _read_body(request: Request, keep: int, maximum: int) -> tuple[bytes, int]:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > maximum:
        raise _BadPing(413, "request body too large")
    kept = bytearray()
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > maximum:
            raise _BadPing(413, "request body too large")
        if len(kept) < keep:
            kept += chunk[: keep - len(kept)]
    return bytes(kept), size


def _parse(segments: list[str], query: dict[str, str]) -> dict[str, object]:
    if not 1 <= len(segments) <= 3 or not all(segments):
        raise _BadPing(404, "not found")
    fields: dict[str, object] = {"kind": PingKind.SUCCESS}
    first = _uuid(segments[0].lower())
    if first is not None:
        if len(segments) == 3:
            raise _BadPing(404, "not found")
        fields["uuid"] = first
        rest = segments[1:]
    else:
        if len(segments) == 1:
            raise _BadPing(404, "not found")
        create = query.get("create") == "1"
        fields["slug"] = SlugTarget(segments[0], segments[1], create)
        rest = segments[2:]
    if rest:
        fields["kind"], fields["exit_status"] = _action(rest[0])
    rid = query.get("rid")
    if rid is not None:
        parsed = _uuid(rid.lower())
        if parsed is None:
            raise _BadPing(400, "invalid url format")
        fields["rid"] = parsed
    return fields


async def ping(request: Request) -> Response:
    """Record one ping; answer only after it is durable."""
    state: ServerState = request.app.state.tocsin
    settings = state.settings
    limit = settings.ping_body_limit
    try:
        segments = request.path_params["rest"].removesuffix("/").split("/")
        fields = _parse(segments, dict(request.query_params))
        body, size = await _read_body(request, limit, settings.ping_body_max)
    except _BadPing as bad:
        return _answer(request, bad.status, bad.text, limit)
    ping_request = PingRequest(
        received_at=datetime.now(UTC),
        method=request.method,
        scheme=request.url.scheme,
        remote_addr=request.client.host if request.client else None,
        user_agent=(request.headers.get("user-agent") or "")[:200] or None,
        body=body.decode("utf-8", "replace") if size else None,
        body_size=size,
        **fields,  # type: ignore[arg-type]
    )
    try:
        outcome = await request.app.state.writer.submit(ping_request)
    except Exception:
        logger.warning("ping not stored; answering 503", exc_info=True)
        return _answer(request, 503, "database unavailable, try again", limit)
    return _answer(request, _STATUS[outcome], outcome.value, limit)


ROUTES = [Route("/ping/{rest:path}", ping, methods=["GET", "POST", "HEAD"])]
