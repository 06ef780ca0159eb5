"""Login, logout and the first-run page; ``install_dashboard`` mounts every dashboard route.

Pages live at ``/`` (home) and under ``/ui/``; the static files (CSS, htmx) at
``/ui/static/``. See docs/dashboard.md.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.staticfiles import StaticFiles

from tocsin.errors import ConflictError, ValidationError
from tocsin.server.dashboard import (
    api_key_pages,
    badges,
    channel_pages,
    home,
    incident_pages,
    maintenance_pages,
    monitor_detail,
    monitor_forms,
    status_pages,
    user_pages,
)
from tocsin.server.dashboard.auth import (
    FORM_COOKIE,
    SESSION_COOKIE,
    LoginRequired,
    PageError,
    Viewer,
    check_csrf,
    clear_session_cookie,
    client_address,
    current_user,
    form_token,
    is_local,
    set_form_cookie,
    set_session_cookie,
)
from tocsin.server.dashboard.forms import FormTooLarge, read_form
from tocsin.server.dashboard.pages import STATIC_PREFIX, error_page, render, safe_next, see_other
from tocsin.server.dashboard.passwords import (
    hash_password,
    needs_rehash,
    password_problem,
    verify_password,
)
from tocsin.server.dashboard.throttle import FAILURE_WINDOW, login_retry_after
from tocsin.server.storage.login_failures import clear_login_failures, record_login_failure
from tocsin.server.storage.sessions import create_session, delete_session
from tocsin.server.storage.users import Role, count_users, create_user, find_user, record_login
from tocsin.server.web.api.auth import server_state

router = APIRouter(include_in_schema=False)


def _form_page(request: Request, template: str, status: int = 200, **context: Any) -> Response:
    """A page whose form is posted before login, with its double-submit cookie."""
    token = form_token(request)
    response = render(request, template, csrf_token=token, status=status, **context)
    set_form_cookie(request, response, token)
    return response


async def _no_users(request: Request) -> bool:
    async with server_state(request).database.read() as conn:
        return await count_users(conn) == 0


@router.get("/ui/login")
async def login_page(request: Request, next: str = "/") -> Response:
    """The login form (or home, for a browser that is logged in already)."""
    if await current_user(request) is not None:
        return see_other(safe_next(next))
    return _form_page(
        request,
        "login.html",
        next=safe_next(next),
        error=None,
        username="",
        no_users=await _no_users(request),
        setup_here=is_local(request),
        created=request.query_params.get("created") == "1",
    )


@router.post("/ui/login")
async def login(request: Request) -> Response:
    """Check the credentials; on success start a fresh session (never the one offered)."""
    await check_csrf(request, request.cookies.get(FORM_COOKIE))
    form = await read_form(request)
    username = form.get("username", "").strip()
    password = form.get("password", "")
    target = safe_next(form.get("next"))
    address = client_address(request)
    database = server_state(request).database
    now = datetime.now(UTC)
    async with database.read() as conn:
        wait = await login_retry_after(conn, username, address, now)
        user = await find_user(conn, username) if username else None
    if wait is not None:
        raise PageError(
            429,
            "Too many failed logins",
            f"Too many failed logins for this account or from your address. "
            f"Try again in {wait // 60 + 1} minute(s).",
            headers={"Retry-After": str(wait)},
        )
    known = user if user is not None and not user.disabled else None
    # argon2 takes tens of milliseconds of CPU: off the event loop.
    valid = await asyncio.to_thread(
        verify_password, known.password_hash if known else None, password
    )
    if known is None or not valid:
        async with database.write() as conn:
            await record_login_failure(conn, username, address, now, FAILURE_WINDOW)
        return _form_page(
            request,
            "login.html",
            status=401,
            next=target,
            error="Wrong username or password.",
            username=username,
            no_users=False,
            setup_here=False,
            created=False,
        )
    new_hash = None
    if needs_rehash(known.password_hash):
        new_hash = await asyncio.to_thread(hash_password, password)
    async with database.write() as conn:
        offered = request.cookies.get(SESSION_COOKIE)
        if offered:
            await delete_session(conn, offered)
        await clear_login_failures(conn, known.username)
        await record_login(conn, known.id, now, new_hash)
        session = await create_session(conn, known.id, request.headers.get("user-agent", ""), now)
    response = see_other(target)
    set_session_cookie(request, response, session.session_id)
    response.delete_cookie(FORM_COOKIE, path="/ui/")
    return response


@router.post("/ui/logout")
async def logout(request: Request, current: Viewer) -> Response:
    """End the session: its row is deleted, so the cookie is worthless even if kept."""
    async with server_state(request).database.write() as conn:
        await delete_session(conn, request.cookies.get(SESSION_COOKIE, ""))
    response = see_other("/ui/login")
    clear_session_cookie(request, response)
    return response


def _setup_allowed(request: Request, no_users: bool) -> None:
    if not (no_users and is_local(request)):
        raise PageError(404, "Not found", "There is no page at this address.")


@router.get("/ui/setup")
async def setup_page(request: Request) -> Response:
    """The first-run page: only from this machine, and only while no user exists."""
    _setup_allowed(request, await _no_users(request))
    return _form_page(request, "setup.html", errors={}, username="")


@router.post("/ui/setup")
async def setup(request: Request) -> Response:
    """Create the first admin, then send them to log in."""
    _setup_allowed(request, await _no_users(request))
    await check_csrf(request, request.cookies.get(FORM_COOKIE))
    form = await read_form(request)
    username = form.get("username", "")
    password = form.get("password", "")
    errors: dict[str, str] = {}
    problem = password_problem(password)
    if problem is not None:
        errors["password"] = f"Password {problem}."
    elif password != form.get("confirm", ""):
        errors["confirm"] = "The two passwords differ."
    if not errors:
        password_hash = await asyncio.to_thread(hash_password, password)
        try:
            async with server_state(request).database.write() as conn:
                await create_user(
                    conn,
                    username,
                    password_hash,
                    Role.ADMIN,
                    datetime.now(UTC),
                    only_if_none=True,
                )
        except ValidationError as exc:
            errors.update({key: f"Username {text}." for key, text in exc.fields.items()})
        except ConflictError as exc:
            raise PageError(404, "Not found", "There is no page at this address.") from exc
    if errors:
        return _form_page(request, "setup.html", status=422, errors=errors, username=username)
    return see_other("/ui/login?created=1")


async def _page_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageError)
    return error_page(request, exc)


async def _login_required(request: Request, exc: Exception) -> Response:
    target = "/ui/login?next=" + quote(request.url.path, safe="/")
    if request.headers.get("hx-request"):
        # htmx swaps the body of a redirect into the page; ask it to navigate instead.
        return Response(status_code=401, headers={"HX-Redirect": target})
    return see_other(target)


async def _form_too_large(request: Request, exc: Exception) -> Response:
    return error_page(request, PageError(413, "Too large", "That form is far too large."))


def install_dashboard(app: FastAPI) -> None:
    """Serve the dashboard's pages and static files on ``app``."""
    app.include_router(router)
    app.include_router(home.router)
    app.include_router(monitor_forms.router)
    app.include_router(monitor_detail.router)  # last: /ui/monitors/{key} matches any name
    app.include_router(user_pages.router)
    app.include_router(status_pages.router)
    app.include_router(badges.router)
    app.include_router(incident_pages.router)
    app.include_router(maintenance_pages.router)
    app.include_router(channel_pages.router)
    app.include_router(api_key_pages.router)
    app.mount(
        STATIC_PREFIX,
        StaticFiles(packages=[("tocsin.server.dashboard", "static")]),
        name="dashboard-static",
    )
    app.add_exception_handler(PageError, _page_error)
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(FormTooLarge, _form_too_large)
