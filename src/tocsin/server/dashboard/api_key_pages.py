"""The API keys page (admins only): list keys, create one, revoke one.

Keys are made and revoked by the same storage functions as ``tocsin apikey``
(``storage.apikeys``): only a hash of the secret is stored, so a new key's full text is
on the page that answers its creation, once, and never again. Lists show a key's public
part (``tocsin_rw_<key_id>_…``), never its secret.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from tocsin.errors import NotFoundError, ValidationError
from tocsin.server.dashboard.auth import Admin, CurrentUser, PageError
from tocsin.server.dashboard.forms import read_form
from tocsin.server.dashboard.pages import render, see_other
from tocsin.server.storage.apikeys import (
    KEY_ID_LENGTH,
    ApiKeyRecord,
    ApiKeyScope,
    NewApiKey,
    create_api_key,
    get_api_key,
    list_api_keys,
    name_problem,
    revoke_api_key,
)
from tocsin.server.web.api.auth import server_state

_KEY_ID = re.compile(f"[a-z0-9]{{{KEY_ID_LENGTH}}}")
# The scopes as the dashboard names them: the same words as the user roles.
SCOPE_LABELS = {ApiKeyScope.READ: "read-only", ApiKeyScope.WRITE: "admin"}

router = APIRouter(include_in_schema=False)


async def _keys_page(
    request: Request,
    current: CurrentUser,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    name: str = "",
    scope: str = ApiKeyScope.READ.value,
    created: NewApiKey | None = None,
) -> Response:
    async with server_state(request).database.read() as conn:
        keys = await list_api_keys(conn)
    return render(
        request,
        "api_keys.html",
        current=current,
        status=status,
        keys=keys,
        scopes=SCOPE_LABELS,
        errors=errors or {},
        name=name,
        scope=scope,
        created=created,
        created_label=SCOPE_LABELS[created.record.scope] if created else "",
    )


async def _find_key(request: Request, key_id: str) -> ApiKeyRecord:
    if _KEY_ID.fullmatch(key_id) is None:
        raise PageError(404, "Not found", "There is no such API key.")
    try:
        async with server_state(request).database.read() as conn:
            return await get_api_key(conn, key_id)
    except NotFoundError as exc:
        raise PageError(404, "Not found", "There is no such API key.") from exc


@router.get("/ui/api-keys")
async def keys_page(request: Request, current: Admin) -> Response:
    """Every key, revoked ones included, and a form to create one."""
    return await _keys_page(request, current)


@router.post("/ui/api-keys")
async def create(request: Request, current: Admin) -> Response:
    """Create a key and show it, this once (the answer is never cached: ``no-store``)."""
    form = await read_form(request)
    name = form.get("name", "")
    scope_text = form.get("scope", "")
    errors: dict[str, str] = {}
    if scope_text not in {scope.value for scope in ApiKeyScope}:
        errors["scope"] = "Choose read-only or admin."
    problem = name_problem(name)
    if problem is not None:
        errors["name"] = f"Name {problem}."
    created: NewApiKey | None = None
    if not errors:
        try:
            async with server_state(request).database.write() as conn:
                created = await create_api_key(
                    conn, name, ApiKeyScope(scope_text), datetime.now(UTC)
                )
        except ValidationError as exc:
            errors.update({key: f"Name {text}." for key, text in exc.fields.items()})
    if created is None:
        return await _keys_page(
            request, current, status=422, errors=errors, name=name, scope=scope_text
        )
    return await _keys_page(request, current, status=201, created=created)


@router.get("/ui/api-keys/{key_id}/revoke")
async def revoke_page(request: Request, key_id: str, current: Admin) -> Response:
    """Ask before revoking."""
    key = await _find_key(request, key_id)
    return render(
        request, "api_keys_revoke.html", current=current, key=key, label=SCOPE_LABELS[key.scope]
    )


@router.post("/ui/api-keys/{key_id}/revoke")
async def revoke(request: Request, key_id: str, current: Admin) -> Response:
    """Revoke the key for good: requests with it get 401 from now on."""
    key = await _find_key(request, key_id)
    async with server_state(request).database.write() as conn:
        await revoke_api_key(conn, key.key_id, datetime.now(UTC))
    return see_other("/ui/api-keys")
