"""Reading and changing notification channels."""

from __future__ import annotations

import uuid as uuid_module
from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from tocsin.errors import ConflictError, NotFoundError
from tocsin.server.domain.spec import ChannelSpec
from tocsin.server.domain.states import ManagedBy
from tocsin.server.storage.rows import ChannelRecord
from tocsin.server.storage.tables import channels


async def list_channels(
    conn: AsyncConnection, project_id: int, *, after: str | None = None, limit: int | None = None
) -> list[ChannelRecord]:
    """The project's channels by name: the first ``limit`` (all if ``None``) whose names
    sort after ``after`` (names are unique in a project: a keyset cursor)."""
    query = select(channels).where(channels.c.project_id == project_id)
    if after is not None:
        query = query.where(channels.c.name > after)
    query = query.order_by(channels.c.name)
    if limit is not None:
        query = query.limit(limit)
    rows = await conn.execute(query)
    return [ChannelRecord.from_row(row) for row in rows.mappings().all()]


async def get_channel(conn: AsyncConnection, project_id: int, key: str) -> ChannelRecord:
    """The channel with uuid or name ``key``; ``NotFoundError`` if none."""
    query = select(channels).where(
        channels.c.project_id == project_id,
        (channels.c.uuid == key.lower()) | (channels.c.name == key),
    )
    row = (await conn.execute(query)).mappings().first()
    if row is None:
        raise NotFoundError(f"no channel {key!r}")
    return ChannelRecord.from_row(row)


async def create_channel(
    conn: AsyncConnection,
    project_id: int,
    spec: ChannelSpec,
    now: datetime,
    managed_by: ManagedBy = ManagedBy.API,
) -> ChannelRecord:
    """Insert a channel; ``ConflictError`` if the name is taken."""
    channel_uuid = str(uuid_module.uuid4())
    try:
        async with conn.begin_nested():
            await conn.execute(
                insert(channels).values(
                    uuid=channel_uuid,
                    project_id=project_id,
                    name=spec.name,
                    kind=spec.kind,
                    settings=spec.settings,
                    managed_by=managed_by.value,
                    created_at=now,
                    updated_at=now,
                )
            )
    except IntegrityError as exc:
        raise ConflictError(f"a channel named {spec.name!r} already exists") from exc
    return await get_channel(conn, project_id, channel_uuid)


async def update_channel(
    conn: AsyncConnection,
    project_id: int,
    key: str,
    spec: ChannelSpec,
    now: datetime,
    managed_by: ManagedBy | None = None,
) -> ChannelRecord:
    """Replace a channel's settings with ``spec``."""
    current = await get_channel(conn, project_id, key)
    values: dict[str, object] = {
        "name": spec.name,
        "kind": spec.kind,
        "settings": spec.settings,
        "updated_at": now,
    }
    if managed_by is not None:
        values["managed_by"] = managed_by.value
    try:
        async with conn.begin_nested():
            await conn.execute(update(channels).where(channels.c.id == current.id).values(values))
    except IntegrityError as exc:
        raise ConflictError(f"a channel named {spec.name!r} already exists") from exc
    return await get_channel(conn, project_id, current.uuid)


async def delete_channel(conn: AsyncConnection, project_id: int, key: str) -> ChannelRecord:
    """Delete a channel (monitors simply stop using it); return what was deleted."""
    current = await get_channel(conn, project_id, key)
    await conn.execute(delete(channels).where(channels.c.id == current.id))
    return current
