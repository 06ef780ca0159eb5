"""The users page: admins list users and add new ones."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from tocsin.errors import ConflictError, ValidationError
from tocsin.server.dashboard.auth import Admin, CurrentUser
from tocsin.server.dashboard.forms import read_form
from tocsin.server.dashboard.pages import render, see_other
from tocsin.server.dashboard.passwords import hash_password, password_problem
from tocsin.server.storage.users import Role, create_user, list_users
from tocsin.server.web.api.auth import server_state

router = APIRouter(include_in_schema=False)


async def _users_page(
    request: Request,
    current: CurrentUser,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    username: str = "",
) -> Response:
    async with server_state(request).database.read() as conn:
        users = await list_users(conn)
    return render(
        request,
        "users.html",
        current=current,
        status=status,
        users=users,
        roles=list(Role),
        errors=errors or {},
        username=username,
    )


@router.get("/ui/users")
async def users_page(request: Request, current: Admin) -> Response:
    """Every user with role and last login, and a form to add one."""
    return await _users_page(request, current)


@router.post("/ui/users")
async def add_user(request: Request, current: Admin) -> Response:
    """Create a user from the form."""
    form = await read_form(request)
    username = form.get("username", "")
    password = form.get("password", "")
    errors: dict[str, str] = {}
    try:
        role = Role(form.get("role", ""))
    except ValueError:
        errors["role"] = "Choose admin or read-only."
        role = Role.READ_ONLY
    problem = password_problem(password)
    if problem is not None:
        errors["password"] = f"Password {problem}."
    if not errors:
        password_hash = await asyncio.to_thread(hash_password, password)
        try:
            async with server_state(request).database.write() as conn:
                await create_user(conn, username, password_hash, role, datetime.now(UTC))
        except ValidationError as exc:
            errors.update({key: f"Username {text}." for key, text in exc.fields.items()})
        except ConflictError:
            errors["username"] = "That username is taken."
    if errors:
        return await _users_page(request, current, status=422, errors=errors, username=username)
    return see_other("/ui/users")
