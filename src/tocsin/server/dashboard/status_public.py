"""Public status pages, for anyone (no login): ``/status/<slug>`` (HTML) and
``/status/<slug>.json``, computed by ``status_view`` and kept a few seconds by
``public_cache``. See docs/status-pages.md."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from tocsin.server.dashboard.auth import PageError
from tocsin.server.dashboard.pages import SECURITY_HEADERS, render
from tocsin.server.dashboard.past_days import PastDays
from tocsin.server.dashboard.public_cache import PublicPages, Rendered, cacheable, public_pages
from tocsin.server.dashboard.public_state import WINDOWS, public_percent
from tocsin.server.dashboard.status_view import PageView, page_view
from tocsin.server.storage.shapes import (
    PublicIncidentOut,
    PublicItemOut,
    PublicUptimeOut,
    StatusPagePublicOut,
)
from tocsin.server.storage.status_pages import find_status_page
from tocsin.server.web.api.auth import server_state
from tocsin.server.web.api.errors import error_response

router = APIRouter(include_in_schema=False)
_NOT_FOUND = PageError(404, "Not found", "There is no page at this address.")
_JSON_HEADERS = {"X-Content-Type-Options": "nosniff", "Access-Control-Allow-Origin": "*"}


@router.api_route("/status/{slug}.json", methods=["GET", "HEAD"])
async def public_status_json(request: Request, slug: str) -> Response:
    """A status page as JSON, for anyone (the same facts as the page; docs/status-pages.md)."""
    rendered = await _rendered(request, slug)
    if rendered is None:
        return error_response(404, "no such status page", headers={"Cache-Control": "no-store"})
    body, etag = rendered.body("json", _json_body)
    response = Response(body, media_type="application/json", headers=_JSON_HEADERS)
    return cacheable(request, response, etag)


@router.api_route("/status/{slug}", methods=["GET", "HEAD"])
async def public_status_page(request: Request, slug: str) -> Response:
    """A status page, for anyone: no session is read, so every visitor gets the same bytes.

    Computed as of the current minute, so the page (and its ETag) stays the same for a
    minute unless something changes, even while a heartbeat's downtime today grows; kept
    in memory for a few seconds (``PublicPages``)."""
    rendered = await _rendered(request, slug)
    if rendered is None:
        raise _NOT_FOUND
    body, etag = rendered.body("html", lambda view: _html_body(request, view))
    response = Response(body, media_type="text/html; charset=utf-8", headers=SECURITY_HEADERS)
    return cacheable(request, response, etag)


async def _rendered(request: Request, slug: str) -> Rendered[PageView] | None:
    """The page's view as of this minute, from the cache when fresh; ``None`` if there is
    no such page."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)

    async def compute() -> PageView | None:
        async with server_state(request).database.read() as conn:
            page = await find_status_page(conn, slug)
            if page is None:
                return None
            return await page_view(conn, page, now, _past_days(request))

    pages: PublicPages[PageView] = public_pages(request.app)
    return await pages.get(slug.lower(), now, compute)


def _html_body(request: Request, view: PageView) -> bytes:
    page = render(
        request,
        "status_public.html",
        view=view,
        updated=view.at.strftime("%Y-%m-%d %H:%M UTC"),
    )
    return bytes(page.body)


def _json_body(view: PageView) -> bytes:
    return public_json(view).model_dump_json(by_alias=True).encode()


def public_json(view: PageView) -> StatusPagePublicOut:
    """The JSON shape of a page's public view."""
    items = [
        PublicItemOut(
            name=item.name,
            state=item.state.value,
            uptime=PublicUptimeOut.model_validate(
                {window: public_percent(item.windows[window]) for window in WINDOWS}
            ),
        )
        for item in view.items
    ]
    incidents = [
        PublicIncidentOut(items=incident.names, since=incident.since) for incident in view.incidents
    ]
    return StatusPagePublicOut(
        title=view.title,
        status=view.state.value,
        summary=view.summary,
        updated_at=view.at,
        items=items,
        incidents=incidents,
    )


def _past_days(request: Request) -> PastDays:
    """The app's cache of finished days (one per app, so per server process)."""
    past: PastDays | None = getattr(request.app.state, "status_past_days", None)
    if past is None:
        past = request.app.state.status_past_days = PastDays()
    return past
