"""One error shape for the whole API: ``{"error": "<message>"}`` (+ ``"fields"`` on 422).

This is the one place where exceptions become HTTP answers: tocsin's own errors, FastAPI's
request validation, Starlette's 404/405 (on every path of the app, not only the API's), and
anything unexpected (logged, answered with a bare 500 so no traceback or HTML ever reaches
a client).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tocsin.errors import ConflictError, NotFoundError, TocsinError, ValidationError
from tocsin.server.storage.database import DatabaseUnavailable

logger = logging.getLogger(__name__)

_BODY_PARSE_ERROR = "There was an error parsing the body"

# Pydantic's words for the common typing problems, replaced by the words ``monitor_spec``
# uses, so a bad field reads the same whichever layer caught it.
_PYDANTIC_WORDS = {
    "missing": "is required",
    "string_type": "must be a string",
    "list_type": "must be a list",
    "dict_type": "must be an object",
    "model_attributes_type": "must be a JSON object",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "json_invalid": "is not valid JSON",
}


def error_response(
    status_code: int,
    message: str,
    fields: dict[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """The API's error answer."""
    content: dict[str, Any] = {"error": message}
    if fields is not None:
        content["fields"] = fields
    return JSONResponse(content, status_code=status_code, headers=headers)


def _field_name(location: Sequence[Any]) -> str:
    parts = [str(part) for part in location]
    if len(parts) > 1 and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    return ".".join(parts) or "body"


def validation_fields(errors: Sequence[Any]) -> dict[str, str]:
    """FastAPI's list of validation errors as ``{"field": "problem"}``."""
    fields: dict[str, str] = {}
    for error in errors:
        location = error.get("loc", ())
        kind = error.get("type", "")
        name = "body" if kind == "json_invalid" else _field_name(location)
        message = str(error.get("msg", "is invalid")).removeprefix("Value error, ")
        fields.setdefault(name, _PYDANTIC_WORDS.get(kind) or message)
    return fields


async def _tocsin_error(_request: Request, exc: Exception) -> Response:
    if isinstance(exc, ValidationError):
        return error_response(422, exc.message, exc.fields)
    if isinstance(exc, NotFoundError):
        return error_response(404, str(exc))
    if isinstance(exc, ConflictError):
        return error_response(409, str(exc))
    # Any other deliberate error is still the server's problem, not the client's.
    logger.error("tocsin error in API request: %s", exc, exc_info=exc)
    return error_response(500, "internal error")


async def _database_unavailable(_request: Request, exc: Exception) -> Response:
    # Logged where it happened (the database logs a lost file once); the client may retry.
    return error_response(503, str(exc), headers={"Retry-After": "1"})


async def _request_validation_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return error_response(422, "invalid request", validation_fields(exc.errors()))


_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def allowed_methods(request: Request) -> str:
    """Every method some route serves at the request's path, for a 405's ``Allow`` header.

    Starlette names only the methods of the first route that matches the path, but one
    path is often served by several routes (``GET`` and ``POST`` on a collection), so each
    method is tried against every route.
    """
    routes: list[BaseRoute] = request.app.routes
    return ", ".join(
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = str(exc.detail)
    headers = dict(exc.headers or {})
    if exc.status_code == 400 and message == _BODY_PARSE_ERROR:
        # FastAPI's answer to a body that is not even text (invalid UTF-8): bad JSON is a 422.
        return error_response(422, "invalid request", {"body": "is not valid JSON"})
    if exc.status_code == 404 and message == "Not Found":
        message = f"no such endpoint: {request.url.path}"
    elif exc.status_code == 405 and message == "Method Not Allowed":
        message = f"method {request.method} is not allowed on {request.url.path}"
        headers["Allow"] = allowed_methods(request) or headers.get("Allow", "")
    return error_response(exc.status_code, message, headers=headers)


class CatchAllMiddleware:
    """Answer any unexpected exception with ``500 {"error": "internal error"}``, logged once.

    A plain ASGI middleware rather than an ``Exception`` handler: Starlette re-raises after
    running such a handler, which would log the traceback twice and crash in-process clients.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            logger.exception(
                "unhandled error method=%s path=%s", scope.get("method"), scope.get("path")
            )
            if started:
                # Too late for a clean answer: let the server drop the connection.
                raise
            response = error_response(500, "internal error")
            await response(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    """Make ``app`` answer every API error in the one JSON shape."""
    app.add_exception_handler(TocsinError, _tocsin_error)
    app.add_exception_handler(DatabaseUnavailable, _database_unavailable)
    app.add_exception_handler(RequestValidationError, _request_validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_middleware(CatchAllMiddleware)
