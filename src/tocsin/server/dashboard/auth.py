"""Who is asking: session cookies, CSRF tokens, client addresses, and role checks.

A browser holds one cookie, ``tocsin_session``: 256 random bits naming a server-side
session row (stored hashed, see ``storage.sessions``). Each session has its own CSRF
token, which every form carries in a hidden field and htmx sends as ``X-CSRF-Token``;
every unsafe method is refused without it. Forms shown before login (login, first run)
use a double-submit cookie, ``tocsin_form``, instead.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends
from starlette.requests import Request
from starlette.responses import Response

from tocsin.server.dashboard.forms import read_form
from tocsin.server.storage.sessions import ABSOLUTE_LIFETIME, SessionRecord, touch_session
from tocsin.server.storage.sessions import find_session as stored_session
from tocsin.server.storage.users import Role, UserRecord
from tocsin.server.web.api.auth import SAFE_METHODS, server_state

SESSION_COOKIE = "tocsin_session"
FORM_COOKIE = "tocsin_form"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
_LOCAL_HOSTS = frozenset({"127.0.0.1", "::1"})
_FORWARDING_HEADERS = ("forwarded", "x-forwarded-for", "x-forwarded-host", "x-real-ip")


class PageError(Exception):
    """A request the dashboard refuses with a page of its own (403, 404, 429...)."""

    def __init__(
        self, status: int, title: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.title = title
        self.message = message
        self.headers = headers or {}


class LoginRequired(Exception):
    """The page needs a logged-in user and the request has none."""


@dataclass(frozen=True)
class CurrentUser:
    """The logged-in user of a request and their session."""

    user: UserRecord
    session: SessionRecord

    @property
    def csrf_token(self) -> str:
        """The token every form and htmx request of this session must carry."""
        return self.session.csrf_token


def is_https(request: Request) -> bool:
    """Whether the browser reached us over TLS (our trusted proxy's word counts: see
    ``web.proxy_headers``)."""
    return request.url.scheme == "https"


def client_address(request: Request) -> str:
    """The client's IP address: the peer's, or the one our trusted proxy reported."""
    return request.client.host if request.client else "unknown"


def is_local(request: Request) -> bool:
    """Whether the request came straight from this machine (127.0.0.1 or ::1), not through
    a proxy (a local reverse proxy would make every visitor look local)."""
    if request.client is None or any(h in request.headers for h in _FORWARDING_HEADERS):
        return False
    try:
        host = str(ipaddress.ip_address(request.client.host))
    except ValueError:
        return False
    return host in _LOCAL_HOSTS


async def current_user(request: Request) -> CurrentUser | None:
    """The request's logged-in user, or ``None`` (no cookie, unknown or expired session)."""
    if hasattr(request.state, "current_user"):
        known: CurrentUser | None = request.state.current_user
        return known
    found: CurrentUser | None = None
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        state = server_state(request)
        now = datetime.now(UTC)
        async with state.database.read() as conn:
            match = await stored_session(conn, session_id, now)
        if match is not None:
            session, user = match
            if session.needs_touch(now):
                async with state.database.write() as conn:
                    await touch_session(conn, session, now)
            found = CurrentUser(user=user, session=session)
    request.state.current_user = found
    return found


async def check_csrf(request: Request, expected: str | None) -> None:
    """Refuse (403) unless the request carries ``expected`` in its header or form field."""
    presented = request.headers.get(CSRF_HEADER)
    if presented is None:
        presented = (await read_form(request)).get(CSRF_FIELD)
    if not expected or not presented or not hmac.compare_digest(presented, expected):
        raise PageError(
            403,
            "Form expired",
            "This form was not sent from a tocsin page of this session (its security "
            "token is missing or wrong). Go back, reload the page and try again.",
        )


def require_user(role: Role = Role.READ_ONLY) -> Callable[[Request], Awaitable[CurrentUser]]:
    """A dependency for dashboard pages: a logged-in user with at least ``role``.

    Without a session the browser is sent to the login page; unsafe methods must carry the
    session's CSRF token; a read-only user asking for an admin page gets 403.
    """

    async def dependency(request: Request) -> CurrentUser:
        current = await current_user(request)
        if current is None:
            raise LoginRequired
        if request.method not in SAFE_METHODS:
            await check_csrf(request, current.csrf_token)
        if role is Role.ADMIN and not current.user.role.can_write:
            raise PageError(
                403, "Admins only", "Your account is read-only: it can view but not change."
            )
        return current

    return dependency


# What a page handler declares: ``current: Viewer`` (any logged-in user) or ``current: Admin``.
Viewer = Annotated[CurrentUser, Depends(require_user())]
Admin = Annotated[CurrentUser, Depends(require_user(Role.ADMIN))]


def form_token(request: Request) -> str:
    """The double-submit token for a form shown before login (reused if the browser has one)."""
    token = request.cookies.get(FORM_COOKIE, "")
    return token if 40 <= len(token) <= 64 else secrets.token_urlsafe(32)


def set_form_cookie(request: Request, response: Response, token: str) -> None:
    """Give the browser the double-submit cookie that matches ``token``."""
    response.set_cookie(
        FORM_COOKIE, token, httponly=True, samesite="strict", secure=is_https(request), path="/ui/"
    )


def set_session_cookie(request: Request, response: Response, session_id: str) -> None:
    """Hand the browser its session cookie (the server decides when the session ends)."""
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=int(ABSOLUTE_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=is_https(request),
        path="/",
    )


def clear_session_cookie(request: Request, response: Response) -> None:
    """Tell the browser to forget its session cookie."""
    response.delete_cookie(
        SESSION_COOKIE, httponly=True, samesite="lax", secure=is_https(request), path="/"
    )
