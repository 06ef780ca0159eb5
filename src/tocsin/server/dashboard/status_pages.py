"""The admin pages that make public status pages (``/ui/status-pages``); the public answers
themselves are ``status_public``'s, mounted here. See docs/status-pages.md."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from tocsin.errors import ConflictError, NotFoundError, ValidationError
from tocsin.server.dashboard.auth import Admin, CurrentUser, PageError, Viewer
from tocsin.server.dashboard.forms import read_form
from tocsin.server.dashboard.pages import render, see_other
from tocsin.server.dashboard.public_cache import forget_public_pages
from tocsin.server.dashboard.status_public import router as public_router
from tocsin.server.domain.states import MonitorKind
from tocsin.server.storage.monitors import get_monitor, list_monitors
from tocsin.server.storage.probe_reads import list_component_states
from tocsin.server.storage.status_pages import (
    StatusPageRecord,
    add_status_item,
    create_status_page,
    delete_status_page,
    find_status_page,
    list_status_pages,
    remove_status_item,
    update_status_page,
)
from tocsin.server.web.api.auth import server_state

router = APIRouter(include_in_schema=False)
router.include_router(public_router)
ADMIN_PATH = "/ui/status-pages"
_NOT_FOUND = PageError(404, "Not found", "There is no page at this address.")
_PICK_LIMIT = 1000  # monitor names offered in the "add" form's list


async def _page_or_404(request: Request, slug: str) -> StatusPageRecord:
    async with server_state(request).database.read() as conn:
        page = await find_status_page(conn, slug)
    if page is None:
        raise _NOT_FOUND
    return page


@router.get(ADMIN_PATH)
async def status_pages_list(request: Request, current: Viewer) -> Response:
    """Every status page, and (for admins) a form to make one."""
    return await _list_page(request, current)


async def _list_page(
    request: Request, current: CurrentUser, *, status: int = 200, **form: Any
) -> Response:
    state = server_state(request)
    async with state.database.read() as conn:
        pages = await list_status_pages(conn, state.project.id)
    context = {"errors": {}, "slug": "", "title": "", **form}
    return render(
        request, "status_pages.html", current=current, status=status, pages=pages, **context
    )


@router.post(ADMIN_PATH)
async def status_page_create(request: Request, current: Admin) -> Response:
    """Make an empty page, then go to its edit page to pick what it shows."""
    form = await read_form(request)
    slug, title = form.get("slug", ""), form.get("title", "")
    state = server_state(request)
    try:
        async with state.database.write() as conn:
            page = await create_status_page(conn, state.project.id, slug, title, _now())
    except ValidationError as exc:
        return await _list_page(
            request, current, status=422, errors=exc.fields, slug=slug, title=title
        )
    except ConflictError:
        errors = {"slug": "is taken by another page"}
        return await _list_page(request, current, status=409, errors=errors, slug=slug, title=title)
    return see_other(f"{ADMIN_PATH}/{page.slug}")


@router.get(ADMIN_PATH + "/{slug}")
async def status_page_edit(request: Request, slug: str, current: Viewer) -> Response:
    """One page's settings and items."""
    return await _edit_page(request, current, await _page_or_404(request, slug))


async def _edit_page(
    request: Request,
    current: CurrentUser,
    page: StatusPageRecord,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    state = server_state(request)
    async with state.database.read() as conn:
        monitors = await list_monitors(conn, state.project.id, limit=_PICK_LIMIT)
        apps = [m.id for m in monitors if m.kind is MonitorKind.APP]
        components = await list_component_states(conn, apps)
    component_keys = sorted({c.key for found in components.values() for c in found})
    return render(
        request,
        "status_page_edit.html",
        current=current,
        status=status,
        page=page,
        monitor_names=[m.name for m in monitors],
        component_keys=component_keys,
        errors=errors or {},
        form={"slug": page.slug, "title": page.title, **(form or {})},
    )


@router.post(ADMIN_PATH + "/{slug}")
async def status_page_update(request: Request, slug: str, current: Admin) -> Response:
    """Change a page's title and address."""
    page = await _page_or_404(request, slug)
    form = await read_form(request)
    new_slug, title = form.get("slug", ""), form.get("title", "")
    try:
        async with server_state(request).database.write() as conn:
            await update_status_page(conn, page.id, new_slug, title, _now())
    except ValidationError as exc:
        return await _edit_page(request, current, page, status=422, errors=exc.fields, form=form)
    except ConflictError:
        errors = {"slug": "is taken by another page"}
        return await _edit_page(request, current, page, status=409, errors=errors, form=form)
    forget_public_pages(request.app)
    return see_other(f"{ADMIN_PATH}/{new_slug.strip().lower()}")


@router.post(ADMIN_PATH + "/{slug}/items")
async def status_item_add(request: Request, slug: str, current: Admin) -> Response:
    """Show a monitor, or one component of an app monitor, under a public name."""
    page = await _page_or_404(request, slug)
    form = await read_form(request)
    name, key = form.get("monitor", "").strip(), form.get("component", "").strip()
    state = server_state(request)
    errors: dict[str, str] = {}
    try:
        async with state.database.write() as conn:
            monitor = await get_monitor(conn, state.project.id, name)
            if key:
                known = await list_component_states(conn, [monitor.id])
                if key not in {c.key for c in known.get(monitor.id, [])}:
                    raise ValidationError(
                        "unknown component",
                        {"component": f"{name} has reported no component {key!r}"},
                    )
            display = form.get("display_name", "")
            await add_status_item(conn, page.id, monitor.id, key, display, _now())
    except NotFoundError:
        errors["monitor"] = f"There is no monitor named {name!r}."
    except ValidationError as exc:
        errors.update(exc.fields)
    if errors:
        return await _edit_page(request, current, page, status=422, errors=errors, form=form)
    forget_public_pages(request.app)
    return see_other(f"{ADMIN_PATH}/{page.slug}")


@router.post(ADMIN_PATH + "/{slug}/items/{position}/remove")
async def status_item_remove(
    request: Request, slug: str, position: int, current: Admin
) -> Response:
    """Take an item off the page."""
    page = await _page_or_404(request, slug)
    try:
        async with server_state(request).database.write() as conn:
            await remove_status_item(conn, page.id, position, _now())
    except NotFoundError as exc:
        raise _NOT_FOUND from exc
    forget_public_pages(request.app)
    return see_other(f"{ADMIN_PATH}/{page.slug}")


@router.post(ADMIN_PATH + "/{slug}/delete")
async def status_page_delete(request: Request, slug: str, current: Admin) -> Response:
    """Delete the page: its public address answers 404 from now on."""
    page = await _page_or_404(request, slug)
    async with server_state(request).database.write() as conn:
        await delete_status_page(conn, page.id)
    forget_public_pages(request.app)
    return see_other(ADMIN_PATH)


def _now() -> datetime:
    return datetime.now(UTC)
