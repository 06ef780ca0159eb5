"""``/api/v1/channels``: list, create, read, change and delete notification channels."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response

from tocsin.errors import NotFoundError
from tocsin.server.domain.spec import channel_spec
from tocsin.server.domain.states import ManagedBy
from tocsin.server.storage.apikeys import ApiKeyRecord
from tocsin.server.storage.channels import (
    create_channel,
    delete_channel,
    get_channel,
    list_channels,
    update_channel,
)
from tocsin.server.storage.rows import ChannelRecord
from tocsin.server.web.api.auth import AuthenticatedRoute, server_state
from tocsin.server.web.api.schemas import (
    CONFLICT,
    NOT_FOUND,
    WRITE_RESPONSES,
    Channel,
    ChannelIn,
    ChannelList,
    ChannelPatch,
    storable_text,
    usable_key,
)

router = APIRouter(prefix="/channels", tags=["channels"], route_class=AuthenticatedRoute)


def _key(key: str) -> str:
    if not usable_key(key):
        raise NotFoundError("no such channel")
    return key


def _ok(model: type[Any]) -> dict[int | str, dict[str, Any]]:
    return {200: {"model": model, "description": "Success"}}


def _may_see_secrets(request: Request) -> bool:
    """Read-only keys (dashboards, status tools) see channels with credentials masked."""
    key: ApiKeyRecord = request.state.api_key
    return key.can_write


def merge_channel(channel: ChannelRecord, changes: dict[str, Any]) -> dict[str, Any]:
    """The channel's current description with ``changes`` applied (``null`` clears a field)."""
    merged: dict[str, Any] = {"name": channel.name, "kind": channel.kind, **channel.settings}
    merged.update(changes)
    return merged


@router.get("", response_model=None, responses=_ok(ChannelList))
async def list_all(request: Request) -> dict[str, Any]:
    """Every channel of the project, by name."""
    state = server_state(request)
    async with state.database.read() as conn:
        channels = await list_channels(conn, state.project.id)
    secrets = _may_see_secrets(request)
    return {"channels": [channel.to_json(secrets=secrets) for channel in channels]}


@router.post(
    "",
    status_code=201,
    response_model=None,
    responses={201: {"model": Channel, "description": "Created"}} | WRITE_RESPONSES | CONFLICT,
)
async def create(request: Request, body: ChannelIn) -> dict[str, Any]:
    """Create a channel."""
    data = body.model_dump(exclude_unset=True)
    owner = data.pop("managed_by", None) or ManagedBy.API
    storable_text(data, "channel")
    spec = channel_spec(data)
    state = server_state(request)
    async with state.database.write() as conn:
        channel = await create_channel(conn, state.project.id, spec, datetime.now(UTC), owner)
    return channel.to_json()


@router.get("/{key}", response_model=None, responses=_ok(Channel) | NOT_FOUND)
async def read(request: Request, key: str) -> dict[str, Any]:
    """One channel, by uuid or name."""
    state = server_state(request)
    async with state.database.read() as conn:
        channel = await get_channel(conn, state.project.id, _key(key))
    return channel.to_json(secrets=_may_see_secrets(request))


@router.patch(
    "/{key}",
    response_model=None,
    responses=_ok(Channel) | NOT_FOUND | WRITE_RESPONSES | CONFLICT,
)
async def change(request: Request, key: str, body: ChannelPatch) -> dict[str, Any]:
    """Change some fields of a channel; the rest keep their values."""
    changes = body.model_dump(exclude_unset=True)
    owner = changes.pop("managed_by", None)  # absent or null: unchanged
    storable_text(changes, "channel")
    state = server_state(request)
    async with state.database.write() as conn:
        current = await get_channel(conn, state.project.id, _key(key))
        spec = channel_spec(merge_channel(current, changes))
        channel = await update_channel(
            conn, state.project.id, current.uuid, spec, datetime.now(UTC), owner
        )
    return channel.to_json()


@router.delete(
    "/{key}",
    status_code=204,
    response_class=Response,
    responses={204: {"description": "Deleted"}} | NOT_FOUND | {403: WRITE_RESPONSES[403]},
)
async def remove(request: Request, key: str) -> Response:
    """Delete a channel; monitors that used it simply stop alerting there."""
    state = server_state(request)
    async with state.database.write() as conn:
        await delete_channel(conn, state.project.id, _key(key))
    return Response(status_code=204)
