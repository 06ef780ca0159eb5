"""``/api/v1/channels``: list, create, read, change and delete notification channels; each
is shown with its newest delivery attempt, so a channel whose alerts fail stands out."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response

from tocsin.server.domain.channel_spec import KIND_SETTINGS
from tocsin.server.domain.spec import channel_spec
from tocsin.server.domain.states import ManagedBy
from tocsin.server.storage.channels import (
    create_channel,
    delete_channel,
    get_channel,
    list_channels,
    update_channel,
)
from tocsin.server.storage.last_attempts import last_attempts
from tocsin.server.storage.rows import ChannelRecord
from tocsin.server.storage.shapes import ChannelOut
from tocsin.server.web.api.auth import AuthenticatedRoute, may_see_secrets, server_state
from tocsin.server.web.api.paging import DEFAULT_LIMIT, Cursor, Limit, cut, decode_cursor, next_url
from tocsin.server.web.api.schemas import (
    CONFLICT,
    INVALID,
    NOT_FOUND,
    WRITE_RESPONSES,
    ChannelIn,
    ChannelPage,
    ChannelPatch,
    take_owner,
    unstorable_text,
    usable_key,
    validated,
)

router = APIRouter(prefix="/channels", tags=["channels"], route_class=AuthenticatedRoute)


def _key(key: str) -> str:
    return usable_key(key, "channel")


def merge_channel(channel: ChannelRecord, changes: dict[str, Any]) -> dict[str, Any]:
    """The channel's current description with ``changes`` applied (``null`` clears a field).

    A change of kind keeps only the current settings the new kind takes too (a webhook
    turned Slack channel keeps its URL, not its headers and secret)."""
    current = dict(channel.settings)
    takes = KIND_SETTINGS.get(changes.get("kind") or channel.kind)
    if takes is not None:
        current = {key: value for key, value in current.items() if key in takes}
    merged: dict[str, Any] = {"name": channel.name, "kind": channel.kind, **current}
    merged.update(changes)
    return merged


@router.get("", response_model=ChannelPage, responses=INVALID)
async def list_page(
    request: Request, response: Response, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None
) -> ChannelPage:
    """The project's channels by name, a page at a time."""
    after = decode_cursor("channels", cursor, str)
    state = server_state(request)
    async with state.database.read() as conn:
        found = await list_channels(conn, state.project.id, after=after, limit=limit + 1)
        page = cut("channels", found, limit, lambda channel: channel.name)
        last = await last_attempts(conn, [channel.id for channel in page.items])
    secrets = may_see_secrets(request)
    return ChannelPage(
        channels=[
            ChannelOut.of(channel, secrets=secrets, last=last.get(channel.id))
            for channel in page.items
        ],
        next=next_url(request, response, page.next_cursor),
    )


@router.post(
    "",
    status_code=201,
    response_model=ChannelOut,
    responses=WRITE_RESPONSES | CONFLICT,
)
async def create(request: Request, body: ChannelIn) -> ChannelOut:
    """Create a channel."""
    data = body.model_dump(exclude_unset=True)
    problems = unstorable_text(data)
    owner = take_owner(data, problems) or ManagedBy.API
    spec = validated("channel", problems, lambda: channel_spec(data))
    state = server_state(request)
    async with state.database.write() as conn:
        channel = await create_channel(conn, state.project.id, spec, datetime.now(UTC), owner)
    return ChannelOut.of(channel)


@router.get("/{key}", response_model=ChannelOut, responses=NOT_FOUND)
async def read(request: Request, key: str) -> ChannelOut:
    """One channel, by uuid or name."""
    state = server_state(request)
    async with state.database.read() as conn:
        channel = await get_channel(conn, state.project.id, _key(key))
        last = await last_attempts(conn, [channel.id])
    return ChannelOut.of(channel, secrets=may_see_secrets(request), last=last.get(channel.id))


@router.patch(
    "/{key}",
    response_model=ChannelOut,
    responses=NOT_FOUND | WRITE_RESPONSES | CONFLICT,
)
async def change(request: Request, key: str, body: ChannelPatch) -> ChannelOut:
    """Change some fields of a channel; the rest keep their values."""
    changes = body.model_dump(exclude_unset=True)
    problems = unstorable_text(changes)
    owner = take_owner(changes, problems)  # absent or null: unchanged
    state = server_state(request)
    async with state.database.write() as conn:
        current = await get_channel(conn, state.project.id, _key(key))
        merged = merge_channel(current, changes)
        spec = validated("channel", problems, lambda: channel_spec(merged))
        channel = await update_channel(
            conn, state.project.id, current.uuid, spec, datetime.now(UTC), owner
        )
        last = await last_attempts(conn, [channel.id])
    return ChannelOut.of(channel, last=last.get(channel.id))


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
