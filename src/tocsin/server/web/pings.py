"""The Healthchecks-compatible ping endpoint, as a raw ASGI app (the hot path).

``/ping/<uuid>[/start|/fail|/log|/<0-255>]`` and
``/ping/<ping-key>/<slug>[/start|/fail|/log|/<0-255>]`` with ``?rid=<uuid>`` and, on slug
URLs, ``?create=1``. Answers are Healthchecks' plain-text ones: ``OK``, ``Created``,
``not found``, ``invalid url format``, ``ambiguous slug``; 400 ``invalid slug: ...`` for a
slug no monitor may have (``is_slug``: the API and config use the same rule); 413
``request body too large`` for a body over ``TOCSIN_PING_BODY_MAX``, 503 when the database
refused the write.
"""

from __future__ import annotations

import functools
import logging
import re
import uuid as uuid_module
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import Receive, Scope, Send

from tocsin.server.domain.ping_urls import PING_PREFIX
from tocsin.server.domain.spec import SLUG_RULE, is_slug
from tocsin.server.domain.states import PingKind
from tocsin.server.ingest.requests import PingOutcome, PingRequest, SlugTarget
from tocsin.server.storage.database import DatabaseLost
from tocsin.settings import Settings

logger = logging.getLogger(__name__)

_PING_KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")
# ASCII only: str.isdigit() is also true for "²" and for Arabic-Indic or fullwidth digits.
_EXIT_STATUS = re.compile(r"[0-9]+")
_ACTIONS = {"start": PingKind.START, "fail": PingKind.FAIL, "log": PingKind.LOG}
_STATUS = {
    PingOutcome.OK: 200,
    PingOutcome.CREATED: 201,
    PingOutcome.NOT_FOUND: 404,
    PingOutcome.AMBIGUOUS: 409,
    PingOutcome.PROBED_HTTP: 409,
    PingOutcome.PROBED_APP: 409,
    PingOutcome.PROBED_TCP: 409,
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
    if _EXIT_STATUS.fullmatch(text):
        digits = text.lstrip("0") or "0"  # leading zeros are fine, as in Healthchecks
        if len(digits) > 3 or int(digits) > 255:
            raise _BadPing(400, "invalid url format")
        status = int(digits)
        return (PingKind.SUCCESS if status == 0 else PingKind.FAIL), status
    raise _BadPing(404, "not found")


@functools.lru_cache(maxsize=64)
def _headers(status: int, text: str, limit: int) -> tuple[tuple[bytes, bytes], ...]:
    # A handful of distinct answers, each built once (and immutable, as it is shared):
    # this runs for every ping.
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(text.encode())).encode()),
        (b"access-control-allow-origin", b"*"),
        (b"ping-body-limit", str(limit).encode()),
    ]
    if status == 405:
        headers.append((b"allow", b"GET, POST, HEAD"))
    return tuple(headers)


async def _respond(send: Send, method: str, status: int, text: str, limit: int) -> None:
    headers = _headers(status, text, limit)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if method == "HEAD" else text.encode()})


async def _read_body(
    receive: Receive, declared: int | None, keep: int, maximum: int
) -> tuple[bytes, int]:
    if declared is not None and declared > maximum:
        raise _BadPing(413, "request body too large")
    kept = bytearray()
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _BadPing(400, "client disconnected")
        chunk = message.get("body", b"")
        more = message.get("more_body", False)
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
        if not _PING_KEY.fullmatch(segments[0]):
            raise _BadPing(404, "not found")  # no project can have it: do not even look
        if not is_slug(segments[1]):
            raise _BadPing(400, f"invalid slug: {SLUG_RULE}")
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


def _storable(text: str) -> str:
    """``text`` without NUL characters, which PostgreSQL refuses in text columns."""
    return text.replace("\x00", "\ufffd") if "\x00" in text else text


class PingApp:
    """Raw ASGI app for ``/ping/...``: no router, request or response objects on the hot path.

    ``state`` is the shared Starlette ``State`` holding ``tocsin`` (``ServerState``) and
    its ``engines`` (``Engines``, with the ping writer), filled in by the server's lifespan.
    """

    def __init__(self, state: Any) -> None:
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Record one ping; answer only after it is durable."""
        method: str = scope["method"]
        settings = self.state.tocsin.settings
        limit = settings.ping_body_limit
        try:
            await self._handle(scope, receive, send, method, settings)
        except _BadPing as bad:
            await _respond(send, method, bad.status, bad.text, limit)

    async def _handle(
        self, scope: Scope, receive: Receive, send: Send, method: str, settings: Settings
    ) -> None:
        limit = settings.ping_body_limit
        if method not in ("GET", "POST", "HEAD"):
            raise _BadPing(405, "method not allowed")
        path: str = scope["path"]
        segments = path[len(PING_PREFIX) :].removesuffix("/").split("/")
        raw_query: bytes = scope.get("query_string", b"")
        query = dict(parse_qsl(raw_query.decode("latin-1"))) if raw_query else {}
        fields = _parse(segments, query)
        declared: int | None = None
        user_agent: str | None = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                declared = int(value) if value.isdigit() else None
            elif name == b"user-agent":
                user_agent = _storable(value.decode("latin-1")[:200]) or None
        body, size = await _read_body(receive, declared, limit, settings.ping_body_max)
        client = scope.get("client")
        request = PingRequest(
            received_at=datetime.now(UTC),
            method=method,
            scheme=scope.get("scheme", "http"),
            remote_addr=client[0] if client else None,
            user_agent=user_agent,
            body=_storable(body.decode("utf-8", "replace")) if size else None,
            body_size=size,
            **fields,  # type: ignore[arg-type]
        )
        try:
            outcome = await self.state.tocsin.engines.writer.submit(request)
        except DatabaseLost:  # logged once by the database, not once per ping
            raise _BadPing(503, "database unavailable, try again") from None
        except Exception:
            logger.warning("ping not stored; answering 503", exc_info=True)
            raise _BadPing(503, "database unavailable, try again") from None
        await _respond(send, method, _STATUS[outcome], outcome.value, limit)
