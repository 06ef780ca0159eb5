"""Status badges: an SVG (shields-like) and shields.io endpoint JSON per monitor or tag, at
``/badge/<key>.svg`` and ``/badge/<key>.json``; admins make them at ``/ui/badges``.
See docs/status-pages.md."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tocsin.errors import NotFoundError, ValidationError
from tocsin.server.dashboard.auth import Admin, CurrentUser, PageError, Viewer
from tocsin.server.dashboard.forms import read_form
from tocsin.server.dashboard.pages import render, see_other
from tocsin.server.dashboard.public_cache import cacheable
from tocsin.server.dashboard.public_state import PublicState, combined_state, monitor_state
from tocsin.server.storage.badges import (
    BadgeRecord,
    create_badge,
    delete_badge,
    find_badge,
    list_badges,
)
from tocsin.server.storage.monitors import get_monitor, list_monitors
from tocsin.server.storage.status_pages import monitors_by_id
from tocsin.server.web.api.auth import server_state

router = APIRouter(include_in_schema=False)
ADMIN_PATH = "/ui/badges"

# shields.io's named colours, and their hex values for our own SVG.
COLOURS = {
    PublicState.UP: ("brightgreen", "#4c1"),
    PublicState.DEGRADED: ("yellow", "#dfb317"),
    PublicState.DOWN: ("red", "#e05d44"),
    PublicState.PAUSED: ("lightgrey", "#9f9f9f"),
    PublicState.UNKNOWN: ("lightgrey", "#9f9f9f"),
}
_SVG_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
}


async def _badge_state(request: Request, badge: BadgeRecord) -> PublicState:
    """The state of the badge's monitor, or of all its tag's monitors together."""
    state = server_state(request)
    async with state.database.read() as conn:
        if badge.monitor_id is not None:
            found = await monitors_by_id(conn, [badge.monitor_id])
            return monitor_state(found[badge.monitor_id])
        tagged = await list_monitors(conn, badge.project_id, tag=badge.tag)
    return combined_state(monitor_state(monitor) for monitor in tagged)


async def _badge_or_404(request: Request, key: str) -> BadgeRecord:
    async with server_state(request).database.read() as conn:
        badge = await find_badge(conn, key)
    if badge is None:
        raise PageError(404, "Not found", "There is no page at this address.")
    return badge


def _text_width(text: str) -> int:
    """About how wide ``text`` is in 11 px Verdana (no font metrics at hand)."""
    narrow, wide = set("fijlrt.,:;!|' "), set("mwMW@%")
    return int(sum(3.5 if c in narrow else 10.0 if c in wide else 7.0 for c in text)) + 10


def badge_svg(label: str, message: str, colour: str) -> str:
    """A flat badge: the label on grey, the message on ``colour``."""
    left, right = _text_width(label), _text_width(message)
    total = left + right
    label_text, message_text = escape(label), escape(message)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="20" role="img" '
        f'aria-label="{escape(label, {chr(34): "&quot;"})}: {message_text}">'
        f"<title>{label_text}: {message_text}</title>"
        f'<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" '
        f'stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>'
        f'<clipPath id="r"><rect width="{total}" height="20" rx="3" fill="#fff"/></clipPath>'
        f'<g clip-path="url(#r)"><rect width="{left}" height="20" fill="#555"/>'
        f'<rect x="{left}" width="{right}" height="20" fill="{colour}"/>'
        f'<rect width="{total}" height="20" fill="url(#s)"/></g>'
        f'<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" '
        f'font-size="11">'
        f'<text x="{left / 2}" y="15" fill="#010101" fill-opacity=".3">{label_text}</text>'
        f'<text x="{left / 2}" y="14">{label_text}</text>'
        f'<text x="{left + right / 2}" y="15" fill="#010101" fill-opacity=".3">'
        f"{message_text}</text>"
        f'<text x="{left + right / 2}" y="14">{message_text}</text></g></svg>'
    )


@router.api_route("/badge/{key}.svg", methods=["GET", "HEAD"])
async def badge_image(request: Request, key: str) -> Response:
    """The badge as an image: ``<label> | up`` (or degraded, down, paused, unknown)."""
    badge = await _badge_or_404(request, key)
    state = await _badge_state(request, badge)
    svg = badge_svg(badge.label, state.value, COLOURS[state][1])
    response = Response(svg, media_type="image/svg+xml", headers=_SVG_HEADERS)
    return cacheable(request, response)


@router.api_route("/badge/{key}.json", methods=["GET", "HEAD"])
async def badge_endpoint(request: Request, key: str) -> Response:
    """The badge for shields.io's endpoint badges (``https://img.shields.io/endpoint?url=``)."""
    badge = await _badge_or_404(request, key)
    state = await _badge_state(request, badge)
    body = {
        "schemaVersion": 1,
        "label": badge.label,
        "message": state.value,
        "color": COLOURS[state][0],
    }
    return cacheable(request, JSONResponse(body, headers={"X-Content-Type-Options": "nosniff"}))


@router.get(ADMIN_PATH)
async def badges_page(request: Request, current: Viewer) -> Response:
    """Every badge with its URLs, and (for admins) a form to make one."""
    return await _badges_page(request, current)


async def _badges_page(
    request: Request, current: CurrentUser, *, status: int = 200, **form: Any
) -> Response:
    state = server_state(request)
    async with state.database.read() as conn:
        badges = await list_badges(conn, state.project.id)
    context = {"errors": {}, "monitor": "", "tag": "", "label": "status", **form}
    return render(
        request,
        "status_badges.html",
        current=current,
        status=status,
        badges=badges,
        base_url=str(request.base_url).rstrip("/"),
        **context,
    )


@router.post(ADMIN_PATH)
async def badge_create(request: Request, current: Admin) -> Response:
    """Make a badge for a monitor or a tag, with a new random key."""
    form = await read_form(request)
    name, tag, label = form.get("monitor", "").strip(), form.get("tag", ""), form.get("label", "")
    state = server_state(request)
    errors: dict[str, str] = {}
    try:
        async with state.database.write() as conn:
            monitor_id = (await get_monitor(conn, state.project.id, name)).id if name else None
            await create_badge(
                conn,
                state.project.id,
                monitor_id=monitor_id,
                tag=tag,
                label=label,
                now=datetime.now(UTC),
            )
    except NotFoundError:
        errors["monitor"] = f"There is no monitor named {name!r}."
    except ValidationError as exc:
        errors.update(exc.fields)
    if errors:
        return await _badges_page(
            request, current, status=422, errors=errors, monitor=name, tag=tag, label=label
        )
    return see_other(ADMIN_PATH)


@router.post(ADMIN_PATH + "/{badge_id}/delete")
async def badge_delete(request: Request, badge_id: int, current: Admin) -> Response:
    """Delete a badge: its URLs answer 404 from now on."""
    state = server_state(request)
    async with state.database.write() as conn:
        await delete_badge(conn, state.project.id, badge_id)
    return see_other(ADMIN_PATH)
