"""Status pages and what they show: create, read, change and delete them and their items."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
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
ITEMS_MAX = 100  # lines per page


@dataclass(frozen=True)
class StatusItem:
    """One line of a status page: a monitor (``component_key`` ``""``) or one component."""

    position: int
    monitor_id: int
    monitor_name: str  # for the admin page only: never shown on the public page
    component_key: str
    display_name: str
    monitor_uuid: str = ""


@dataclass(frozen=True)
class NewItem:
    """A line to show: a monitor (``component_key`` ``""``) or one component of it."""

    monitor_id: int
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


def slug_problem(slug: str) -> str | None:
    """What is wrong with ``slug`` (after trimming and lowercasing), or ``None``."""
    if not _SLUG.fullmatch(slug.strip().lower()):
        return "must be 1-100 lowercase letters, digits and inner hyphens"
    return None


def title_problem(title: str) -> str | None:
    """What is wrong with ``title`` (after trimming), or ``None``."""
    if not 1 <= len(title.strip()) <= TITLE_MAX:
        return f"must be 1-{TITLE_MAX} characters"
    return None


def display_name_problem(display_name: str) -> str | None:
    """What is wrong with an item's public name (after trimming), or ``None``."""
    if not 1 <= len(display_name.strip()) <= DISPLAY_NAME_MAX:
        return f"must be 1-{DISPLAY_NAME_MAX} characters"
    return None


def _checked(slug: str, title: str) -> tuple[str, str]:
    problems = {
        field: problem
        for field, problem in (("slug", slug_problem(slug)), ("title", title_problem(title)))
        if problem is not None
    }
    if problems:
        raise ValidationError("invalid status page", problems)
    return slug.strip().lower(), title.strip()


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


async def list_status_pages(
    conn: AsyncConnection,
    project_id: int,
    *,
    after: str | None = None,
    limit: int | None = None,
    with_items: bool = False,
) -> list[StatusPageRecord]:
    """The project's pages by slug: the first ``limit`` (all if ``None``) whose slugs sort
    after ``after`` (a keyset cursor), with their items if ``with_items``."""
    query = (
        select(status_pages.c.id, status_pages.c.slug, status_pages.c.title)
        .add_columns(status_pages.c.updated_at)
        .where(status_pages.c.project_id == project_id)
        .order_by(status_pages.c.slug)
    )
    if after is not None:
        query = query.where(status_pages.c.slug > after)
    if limit is not None:
        query = query.limit(limit)
    pages = [StatusPageRecord(*row) for row in (await conn.execute(query)).all()]
    if not with_items or not pages:
        return pages
    items = await _items_of(conn, [page.id for page in pages])
    return [replace(page, items=tuple(items.get(page.id, []))) for page in pages]


_ITEM_COLUMNS = (
    status_page_items.c.position,
    status_page_items.c.monitor_id,
    monitors.c.name,
    status_page_items.c.component_key,
    status_page_items.c.display_name,
    monitors.c.uuid,
)


async def find_status_page(
    conn: AsyncConnection, slug: str, project_id: int | None = None
) -> StatusPageRecord | None:
    """The page at ``/status/<slug>`` (of ``project_id``, if given) with its items, or
    ``None`` (one query: the page's row repeats on each of its items' rows)."""
    query = (
        select(
            status_pages.c.id,
            status_pages.c.slug,
            status_pages.c.title,
            status_pages.c.updated_at,
            *_ITEM_COLUMNS,
        )
        .select_from(
            status_pages.outerjoin(
                status_page_items, status_page_items.c.page_id == status_pages.c.id
            ).outerjoin(monitors, monitors.c.id == status_page_items.c.monitor_id)
        )
        .where(status_pages.c.slug == slug.lower())
        .order_by(status_page_items.c.position)
    )
    if project_id is not None:
        query = query.where(status_pages.c.project_id == project_id)
    rows = (await conn.execute(query)).all()
    if not rows:
        return None
    page_id, found_slug, title, updated_at = rows[0][:4]
    items = tuple(
        StatusItem(
            row.position, row.monitor_id, row.name, row.component_key, row.display_name, row.uuid
        )
        for row in rows
        if row.position is not None and row.name is not None  # a page without items: one row
    )
    return StatusPageRecord(page_id, found_slug, title, updated_at, items)


async def _items_of(conn: AsyncConnection, page_ids: list[int]) -> dict[int, list[StatusItem]]:
    """The items of each page of ``page_ids``, in order."""
    query = (
        select(status_page_items.c.page_id, *_ITEM_COLUMNS)
        .join(monitors, monitors.c.id == status_page_items.c.monitor_id)
        .where(status_page_items.c.page_id.in_(page_ids))
        .order_by(status_page_items.c.page_id, status_page_items.c.position)
    )
    found: dict[int, list[StatusItem]] = {page_id: [] for page_id in page_ids}
    for page_id, *item in (await conn.execute(query)).all():
        found[page_id].append(StatusItem(*item))
    return found


def _checked_name(display_name: str) -> str:
    problem = display_name_problem(display_name)
    if problem is not None:
        raise ValidationError("invalid item", {"display_name": problem})
    return display_name.strip()


async def replace_status_items(
    conn: AsyncConnection, page_id: int, items: Sequence[NewItem], now: datetime
) -> None:
    """Make ``items`` the page's lines, in order (names already checked by the caller)."""
    if len(items) > ITEMS_MAX:
        raise ValidationError("invalid items", {"items": f"at most {ITEMS_MAX} per page"})
    await conn.execute(delete(status_page_items).where(status_page_items.c.page_id == page_id))
    if items:
        await conn.execute(
            insert(status_page_items),
            [
                {
                    "page_id": page_id,
                    "position": position,
                    "monitor_id": item.monitor_id,
                    "component_key": item.component_key.strip(),
                    "display_name": _checked_name(item.display_name),
                }
                for position, item in enumerate(items, start=1)
            ],
        )
    await _touch(conn, page_id, now)


async def add_status_item(
    conn: AsyncConnection,
    page_id: int,
    monitor_id: int,
    component_key: str,
    display_name: str,
    now: datetime,
) -> None:
    """Show a monitor (or one of its components) last on the page, as ``display_name``."""
    display_name = _checked_name(display_name)
    last = select(
        func.max(status_page_items.c.position), func.count(status_page_items.c.position)
    ).where(status_page_items.c.page_id == page_id)
    highest, count = (await conn.execute(last)).one()
    if int(count or 0) >= ITEMS_MAX:
        raise ValidationError(
            "invalid item", {"display_name": f"a page shows at most {ITEMS_MAX} items"}
        )
    position = int(highest or 0) + 1
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
