"""API key authentication: every API route needs a key; changes need a read-write one.

Keys arrive as ``Authorization: Bearer <key>`` or ``X-Api-Key: <key>``. The check runs
before the request body is read (``AuthenticatedRoute``), so a client without a valid key
learns nothing, not even whether its body would have been valid.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader, HTTPBearer

from tocsin.server.storage.apikeys import ApiKeyRecord, find_api_key, touch_api_key
from tocsin.server.web.state import ServerState

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_CHALLENGE = {"WWW-Authenticate": "Bearer"}

# Declared as dependencies for the OpenAPI document only (auto_error=False: they never
# refuse anything); ``AuthenticatedRoute`` does the checking.
bearer_scheme = HTTPBearer(
    auto_error=False, scheme_name="bearer", description="Authorization: Bearer <API key>"
)
header_scheme = APIKeyHeader(
    name="X-Api-Key", auto_error=False, scheme_name="apiKey", description="X-Api-Key: <API key>"
)


def server_state(request: Request) -> ServerState:
    """The server's shared objects (set by the application's lifespan)."""
    state: ServerState = request.app.state.tocsin
    return state


def may_see_secrets(request: Request) -> bool:
    """Read-only keys (dashboards, status tools) see credentials masked: channel secrets,
    probe header values."""
    key: ApiKeyRecord = request.state.api_key
    return key.can_write


def presented_key(request: Request) -> str | None:
    """The key the client sent, if any."""
    authorization = request.headers.get("authorization")
    if authorization:
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() == "bearer" and credentials.strip():
            return credentials.strip()
    header = request.headers.get("x-api-key")
    if header and header.strip():
        return header.strip()
    return None


async def authenticate(request: Request) -> ApiKeyRecord:
    """The request's API key, verified; 401 without a valid key, 403 if it cannot write."""
    presented = presented_key(request)
    if presented is None:
        raise HTTPException(
            401,
            "an API key is required: send 'Authorization: Bearer <key>' or 'X-Api-Key: <key>'",
            headers=_CHALLENGE,
        )
    state = server_state(request)
    async with state.database.read() as conn:
        key = await find_api_key(conn, presented)
    if key is None:
        raise HTTPException(401, "invalid or revoked API key", headers=_CHALLENGE)
    if request.method not in SAFE_METHODS and not key.can_write:
        raise HTTPException(403, "this API key is read-only; changes need a read-write key")
    now = datetime.now(UTC)
    if key.needs_touch(now):
        async with state.database.write() as conn:
            await touch_api_key(conn, key.key_id, now)
    request.state.api_key = key
    return key


class AuthenticatedRoute(APIRoute):
    """An API route that refuses requests without a valid key before anything else runs."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap FastAPI's handler with ``authenticate``."""
        handler = super().get_route_handler()

        async def authenticated_handler(request: Request) -> Response:
            await authenticate(request)
            return await handler(request)

        return authenticated_handler
