"""``/api/v1/status-pages``: list, create, read, change and delete public status pages.

Read-only keys read, read-write keys change. The pages themselves need no key:
``/status/{slug}`` (HTML) and ``/status/{slug}.json``. See docs/status-pages.md.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field, WithJsonSchema
from pydantic.config import JsonDict
from sqlalchemy.ext.asyncio import AsyncConnection

from tocsin.errors import NotFoundError, ValidationError
from tocsin.server.dashboard.public_cache import forget_public_pages
from tocsin.server.domain.states import MonitorKind
from tocsin.server.storage.monitors import get_monitor
from tocsin.server.storage.probe_reads import list_component_states
from tocsin.server.storage.shapes import StatusItemOut, StatusPageOut
from tocsin.server.storage.status_pages import (
    DISPLAY_NAME_MAX,
    ITEMS_MAX,
    TITLE_MAX,
    NewItem,
    StatusPageRecord,
    create_status_page,
    delete_status_page,
    display_name_problem,
    find_status_page,
    list_status_pages,
    replace_status_items,
    slug_problem,
    title_problem,
    update_status_page,
)
from tocsin.server.web.api.auth import AuthenticatedRoute, server_state
from tocsin.server.web.api.paging import DEFAULT_LIMIT, Cursor, Limit, cut, decode_cursor, next_url
from tocsin.server.web.api.schemas import (
    CONFLICT,
    INVALID,
    NOT_FOUND,
    WRITE_RESPONSES,
    body_config,
    unstorable_text,
    usable_key,
)
from tocsin.server.web.state import ServerState

router = APIRouter(prefix="/status-pages", tags=["status pages"], route_class=AuthenticatedRoute)

COMPONENT_KEY_MAX = 200
_NOT_WHITE = "[^\\s\\u0000\\u001c-\\u001f\\u0085]"  # as schemas._BLANK: trimmed away by us


def _text(most: int) -> JsonDict:
    """Text of 1 to ``most`` characters, with something besides white space, and no NUL."""
    return {
        "type": "string",
        "minLength": 1,
        "maxLength": most,
        "pattern": f"^[^\\u0000]*{_NOT_WHITE}[^\\u0000]*$",
    }


_SLUG: JsonDict = {"type": "string", "pattern": "^[a-z0-9](?:[a-z0-9-]{0,98}[a-z0-9])?$"}
_ITEM: JsonDict = {
    "type": "object",
    "properties": {
        "monitor": {"type": "string", "pattern": f"^[^\\u0000]*{_NOT_WHITE}[^\\u0000]*$"},
        "component": {
            "anyOf": [
                {"type": "string", "maxLength": COMPONENT_KEY_MAX, "pattern": "^[^\\u0000]*$"},
                {"type": "null"},
            ]
        },
        "name": _text(DISPLAY_NAME_MAX),
    },
    "required": ["monitor", "name"],
    "additionalProperties": False,
}
_ITEMS: JsonDict = {"type": "array", "items": _ITEM, "maxItems": ITEMS_MAX}

_SLUG_DOC = "the page's address, /status/{slug}: lowercase letters, digits, inner hyphens"
_ITEMS_DOC = (
    "what the page shows, in order (replaces every line): each a monitor (uuid or name), "
    "optionally one component of an app monitor (a key it has reported), and the public "
    f"name the page shows; at most {ITEMS_MAX}"
)

# Any JSON value reaches ``_checked_body``, which names every problem at once; the
# document declares what is accepted.
SlugText = Annotated[Any, WithJsonSchema(_SLUG)]
TitleText = Annotated[Any, WithJsonSchema(_text(TITLE_MAX))]
Items = Annotated[Any, WithJsonSchema(_ITEMS)]


class StatusPageIn(BaseModel):
    """A new status page."""

    model_config = body_config("slug", "title")

    slug: SlugText = Field(None, description=_SLUG_DOC)
    title: TitleText = None
    items: Items = Field(None, description=_ITEMS_DOC)


class StatusPagePatch(BaseModel):
    """Changes to a status page: given fields replace the current values."""

    model_config = body_config()

    slug: SlugText = Field(None, description=_SLUG_DOC + " (the old address answers 404)")
    title: TitleText = None
    items: Items = Field(None, description=_ITEMS_DOC)


class StatusPagePage(BaseModel):
    """``GET /status-pages``: a page of status pages, by slug."""

    status_pages: list[StatusPageOut]
    next: str | None = Field(description="the next page's URL; null on the last page")


_FIELDS = ("slug", "title", "items")
_ITEM_FIELDS = ("monitor", "component", "name")


def _checked_body(data: dict[str, Any], *, new: bool) -> dict[str, str]:
    """Every problem of a request body that needs no database, by field."""
    problems = unstorable_text(data)
    for key in data:
        if key not in _FIELDS:
            problems.setdefault(key, f"unknown field; expected one of {', '.join(_FIELDS)}")
    for key, check in (("slug", slug_problem), ("title", title_problem)):
        if key not in data:
            if new:
                problems.setdefault(key, "is required")
        elif not isinstance(data[key], str):
            problems.setdefault(key, "must be a string")
        elif (problem := check(data[key])) is not None:
            problems.setdefault(key, problem)
    items = data.get("items")
    if "items" in data and not isinstance(items, list):
        problems.setdefault("items", "must be a list")
    elif isinstance(items, list):
        if len(items) > ITEMS_MAX:
            problems.setdefault("items", f"at most {ITEMS_MAX} per page")
        for index, item in enumerate(items):
            for field, problem in _item_problems(item, index).items():
                problems.setdefault(field, problem)
    return problems


def _item_problems(item: Any, index: int) -> dict[str, str]:
    where = f"items[{index}]"
    if not isinstance(item, dict):
        return {where: "must be an object"}
    problems: dict[str, str] = {}
    for key in item:
        if key not in _ITEM_FIELDS:
            problems[f"{where}.{key}"] = f"unknown field; expected one of {', '.join(_ITEM_FIELDS)}"
    monitor, name, component = item.get("monitor"), item.get("name"), item.get("component")
    if not isinstance(monitor, str) or not monitor.strip():
        problems[f"{where}.monitor"] = "is required: a monitor's uuid or name"
    if not isinstance(name, str):
        problems[f"{where}.name"] = "is required: the name the page shows"
    elif (problem := display_name_problem(name)) is not None:
        problems[f"{where}.name"] = problem
    if component is not None and not isinstance(component, str):
        problems[f"{where}.component"] = "must be a string or null"
    elif isinstance(component, str) and len(component.strip()) > COMPONENT_KEY_MAX:
        problems[f"{where}.component"] = f"must be at most {COMPONENT_KEY_MAX} characters"
    return problems


async def _new_items(
    conn: AsyncConnection, project_id: int, items: list[dict[str, Any]]
) -> list[NewItem]:
    """The items' monitors and components, looked up; ``ValidationError`` naming each
    monitor that does not exist and each component its monitor has not reported."""
    problems: dict[str, str] = {}
    found: list[NewItem] = []
    for index, item in enumerate(items):
        key, component = item["monitor"].strip(), (item.get("component") or "").strip()
        try:
            monitor = await get_monitor(conn, project_id, usable_key(key, "monitor"))
        except NotFoundError:
            problems[f"items[{index}].monitor"] = f"no monitor named {key!r}"
            continue
        if component:
            known = await list_component_states(conn, [monitor.id])
            reported = {c.key for c in known.get(monitor.id, [])}
            if monitor.kind is not MonitorKind.APP or component not in reported:
                problems[f"items[{index}].component"] = (
                    f"{monitor.name} has reported no component {component!r}"
                )
                continue
        found.append(NewItem(monitor.id, component, item["name"]))
    if problems:
        raise ValidationError("invalid status page", problems)
    return found


def _shape(page: StatusPageRecord, base_url: str) -> StatusPageOut:
    url = f"{base_url}/status/{page.slug}"
    return StatusPageOut(
        slug=page.slug,
        title=page.title,
        url=url,
        json_url=url + ".json",
        updated_at=page.updated_at,
        items=[
            StatusItemOut(
                position=item.position,
                monitor=item.monitor_name,
                monitor_uuid=item.monitor_uuid,
                component=item.component_key or None,
                name=item.display_name,
            )
            for item in page.items
        ],
    )


async def _page(conn: AsyncConnection, state: ServerState, slug: str) -> StatusPageRecord:
    page = await find_status_page(conn, usable_key(slug, "status page"), state.project.id)
    if page is None:
        raise NotFoundError(f"no status page {slug!r}")
    return page


@router.get("", response_model=StatusPagePage, responses=INVALID)
async def list_page(
    request: Request, response: Response, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None
) -> StatusPagePage:
    """The project's status pages by slug, with what each shows, a page at a time."""
    after = decode_cursor("status-pages", cursor, str)
    state = server_state(request)
    async with state.database.read() as conn:
        found = await list_status_pages(
            conn, state.project.id, after=after, limit=limit + 1, with_items=True
        )
    page = cut("status-pages", found, limit, lambda record: record.slug)
    return StatusPagePage(
        status_pages=[_shape(record, state.settings.base_url) for record in page.items],
        next=next_url(request, response, page.next_cursor),
    )


@router.post(
    "", status_code=201, response_model=StatusPageOut, responses=WRITE_RESPONSES | CONFLICT
)
async def create(request: Request, body: StatusPageIn) -> StatusPageOut:
    """Create a status page, showing ``items`` (or nothing yet)."""
    data = body.model_dump(exclude_unset=True)
    problems = _checked_body(data, new=True)
    if problems:
        raise ValidationError("invalid status page", problems)
    state = server_state(request)
    now = datetime.now(UTC)
    async with state.database.write() as conn:
        items = await _new_items(conn, state.project.id, data.get("items") or [])
        page = await create_status_page(conn, state.project.id, data["slug"], data["title"], now)
        await replace_status_items(conn, page.id, items, now)
        page = await _page(conn, state, page.slug)
    forget_public_pages(request.app)
    return _shape(page, state.settings.base_url)


@router.get("/{slug}", response_model=StatusPageOut, responses=NOT_FOUND)
async def read(request: Request, slug: str) -> StatusPageOut:
    """One status page and what it shows."""
    state = server_state(request)
    async with state.database.read() as conn:
        page = await _page(conn, state, slug)
    return _shape(page, state.settings.base_url)


@router.patch(
    "/{slug}", response_model=StatusPageOut, responses=NOT_FOUND | WRITE_RESPONSES | CONFLICT
)
async def change(request: Request, slug: str, body: StatusPagePatch) -> StatusPageOut:
    """Change a page's address, title or items (``items`` replaces every line)."""
    data = body.model_dump(exclude_unset=True)
    problems = _checked_body(data, new=False)
    state = server_state(request)
    now = datetime.now(UTC)
    async with state.database.write() as conn:
        page = await _page(conn, state, slug)
        if problems:
            raise ValidationError("invalid status page", problems)
        new_slug, title = data.get("slug", page.slug), data.get("title", page.title)
        if "items" in data:
            items = await _new_items(conn, state.project.id, data["items"])
            await replace_status_items(conn, page.id, items, now)
        if new_slug != page.slug or title != page.title:
            await update_status_page(conn, page.id, new_slug, title, now)
        page = await _page(conn, state, new_slug.strip().lower())
    forget_public_pages(request.app)
    return _shape(page, state.settings.base_url)


@router.delete(
    "/{slug}",
    status_code=204,
    response_class=Response,
    responses={204: {"description": "Deleted"}} | NOT_FOUND | {403: WRITE_RESPONSES[403]},
)
async def remove(request: Request, slug: str) -> Response:
    """Delete a status page: its public addresses answer 404 at once."""
    state = server_state(request)
    async with state.database.write() as conn:
        page = await _page(conn, state, slug)
        await delete_status_page(conn, page.id)
    forget_public_pages(request.app)
    return Response(status_code=204)
