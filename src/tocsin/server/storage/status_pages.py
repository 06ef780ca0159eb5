"""Status pages and what they show: create, read, change and delete them and their items."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from tocsin.errors import ConflictError, NotFoundError, ValidationError
from tocsin.server.storage.rows import MonitorRecord
from tocsin.server.storage.tables import monitors, status_page_items, status_pages

_SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,98}[a-z0-9])?")
TITLE_MAX = 200
DISPLAY_NAME_MAX = 100


@dataclass(frozen=True)
class StatusItem:
    """One line of a status page: a monitor (``component_key`` ``""``) or one component."""

    position: int
    monitor_id: int
    monitor_name: str  # for the admin page only: never shown on the public page
    component_key: str
    display_name: str


@dataclass(frozen=True)
class StatusPageRecord:
    """A status page and its items, in order."""

    id: int
    slug: str
    title: str
    updated_at: datetime
    items: tuple[StatusItem, ...] = ()


def _checked(slug: str, title: str) -> tuple[str, str]:
    slug, title = slug.strip().lower(), title.strip()
    problems: dict[str, str] = {}
    if not _SLUG.fullmatch(slug):
        problems["slug"] = "must be 1-100 lowercase letters, digits and inner hyphens"
    if not 1 <= len(title) <= TITLE_MAX:
        problems["title"] = f"must be 1-{TITLE_MAX} characters"
    if problems:
        raise ValidationError("invalid status page", problems)
    return slug, title


async def create_status_page(
    conn: AsyncConnection, project_id: int, slug: str, title: str, now: datetime
) -> StatusPageRecord:
    """A new, empty page; ``ConflictError`` if the slug is taken."""
    slug, title = _checked(slug, title)
    values = {"project_id": project_id, "slug": slug, "title": title}
    try:
        result = await conn.execute(
            insert(status_pages)
            .values(**values, created_at=now, updated_at=now)
            .returning(status_pages.c.id)
        )
    except IntegrityError as exc:
        raise ConflictError(f"the address /status/{slug} is taken") from exc
    return StatusPageRecord(int(result.scalar_one()), slug, title, now)


async def update_status_page(
    conn: AsyncConnection, page_id: int, slug: str, title: str, now: datetime
) -> None:
    """Change a page's slug and title; ``ConflictError`` if the slug is taken."""
    slug, title = _checked(slug, title)
    try:
        await conn.execute(
            update(status_pages)
            .where(status_pages.c.id == page_id)
            .values(slug=slug, title=title, updated_at=now)
        )
    except IntegrityError as exc:
        raise ConflictError(f"the address /status/{slug} is taken") from exc


async def delete_status_page(conn: AsyncConnection, page_id: int) -> None:
    """Delete a page (its items go with it)."""
    await conn.execute(delete(status_pages).where(status_pages.c.id == page_id))


async def list_status_pages(conn: AsyncConnection, project_id: int) -> list[StatusPageRecord]:
    """The project's pages by slug, without their items."""
    query = (
        select(status_pages.c.id, status_pages.c.slug, status_pages.c.title)
        .add_columns(status_pages.c.updated_at)
        .where(status_pages.c.project_id == project_id)
        .order_by(status_pages.c.slug)
    )
    return [StatusPageRecord(*row) for row in (await conn.execute(query)).all()]


async def find_status_page(conn: AsyncConnection, slug: str) -> StatusPageRecord | None:
    """The page at ``/status/<slug>`` with its items, or ``None``."""
    query = select(
        status_pages.c.id, status_pages.c.slug, status_pages.c.title, status_pages.c.updated_at
    ).where(status_pages.c.slug == slug.lower())
    row = (await conn.execute(query)).first()
    if row is None:
        return None
    items_query = (
        select(
            status_page_items.c.position,
            status_page_items.c.monitor_id,
            monitors.c.name,
            status_page_items.c.component_key,
            status_page_items.c.display_name,
        )
        .join(monitors, monitors.c.id == status_page_items.c.monitor_id)
        .where(status_page_items.c.page_id == row.id)
        .order_by(status_page_items.c.position)
    )
    items = tuple(StatusItem(*item) for item in (await conn.execute(items_query)).all())
    return StatusPageRecord(row.id, row.slug, row.title, row.updated_at, items)


async def add_status_item(
    conn: AsyncConnection,
    page_id: int,
    monitor_id: int,
    component_key: str,
    display_name: str,
    now: datetime,
) -> None:
    """Show a monitor (or one of its components) last on the page, as ``display_name``."""
    display_name = display_name.strip()
    if not 1 <= len(display_name) <= DISPLAY_NAME_MAX:
        raise ValidationError(
            "invalid item", {"display_name": f"must be 1-{DISPLAY_NAME_MAX} characters"}
        )
    last = select(func.max(status_page_items.c.position)).where(
        status_page_items.c.page_id == page_id
    )
    position = int((await conn.execute(last)).scalar() or 0) + 1
    await conn.execute(
        insert(status_page_items).values(
            page_id=page_id,
            position=position,
            monitor_id=monitor_id,
            component_key=component_key.strip(),
            display_name=display_name,
        )
    )
    await _touch(conn, page_id, now)


async def remove_status_item(
    conn: AsyncConnection, page_id: int, position: int, now: datetime
) -> None:
    """Take an item off the page; ``NotFoundError`` if it is not there."""
    result = await conn.execute(
        delete(status_page_items).where(
            status_page_items.c.page_id == page_id, status_page_items.c.position == position
        )
    )
    if result.rowcount == 0:
        raise NotFoundError("no such item on this page")
    await _touch(conn, page_id, now)


async def _touch(conn: AsyncConnection, page_id: int, now: datetime) -> None:
    await conn.execute(
        update(status_pages).where(status_pages.c.id == page_id).values(updated_at=now)
    )


async def monitors_by_id(
    conn: AsyncConnection, monitor_ids: Iterable[int]
) -> dict[int, MonitorRecord]:
    """The monitors with ``monitor_ids`` (without their channels)."""
    ids = list(set(monitor_ids))
    if not ids:
        return {}
    rows = (await conn.execute(select(monitors).where(monitors.c.id.in_(ids)))).mappings()
    return {row["id"]: MonitorRecord.from_row(row) for row in rows}
