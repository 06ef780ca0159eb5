"""The maintenance page: maintenance windows and silences, and (for admins) forms to add a
one-off window, silence a monitor, delete a window and end a silence.

Every change goes through the REST API's own handlers (``web.api.maintenance`` and
``web.api.holds``), so a form is validated by the same rules as the API, ``tocsin apply``
and ``tocsin silence``, and wakes the alert engines as they do. A problem comes back keyed
by field and is shown next to that field, with what was typed kept.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from pydantic import ValidationError as PydanticValidationError
from starlette.requests import Request
from starlette.responses import Response

from tocsin.errors import NotFoundError, ValidationError
from tocsin.server.dashboard.auth import Admin, CurrentUser, PageError, Viewer
from tocsin.server.dashboard.forms import read_form
from tocsin.server.dashboard.maintenance_view import silence_view, window_view
from tocsin.server.dashboard.pages import render, see_other
from tocsin.server.dashboard.relative_time import relative, utc_text
from tocsin.server.domain.maintenance import ALL_MONITORS, maintenance_window
from tocsin.server.storage.hold_reads import monitor_names, monitor_uuids
from tocsin.server.storage.holds import HoldKind, list_holds
from tocsin.server.web.api.auth import server_state
from tocsin.server.web.api.holds import SilenceIn, silence, silence_until, unsilence
from tocsin.server.web.api.maintenance import WindowIn, delete_maintenance, put_maintenance
from tocsin.server.web.api.schemas import unstorable_text

PATH = "/ui/maintenance"
WINDOW_FIELDS = ("name", "monitors", "start", "end", "duration", "timezone")
SILENCE_FIELDS = ("monitor", "for", "until")
_PICK_LIMIT = 1000  # monitor names offered as suggestions in the forms

router = APIRouter(include_in_schema=False)


async def _page(
    request: Request,
    current: CurrentUser,
    *,
    status: int = 200,
    window_form: dict[str, str] | None = None,
    window_errors: dict[str, str] | None = None,
    silence_form: dict[str, str] | None = None,
    silence_errors: dict[str, str] | None = None,
) -> Response:
    state = server_state(request)
    now = datetime.now(UTC)
    async with state.database.read() as conn:
        holds = await list_holds(conn, state.project.id, now)
        windows = [window_view(h, now) for h in holds if h.kind is HoldKind.MAINTENANCE]
        silenced = [h for h in holds if h.kind is HoldKind.SILENCE]
        named = {name for w in windows for name in w.monitors}
        uuids = await monitor_uuids(
            conn, state.project.id, named | {h.monitor for h in silenced if h.monitor}
        )
        picks = []
        if current.user.role.can_write:
            picks = await monitor_names(conn, state.project.id, _PICK_LIMIT)
    return render(
        request,
        "maintenance.html",
        current=current,
        status=status,
        windows=windows,
        silences=[silence_view(h, uuids) for h in silenced],
        uuids=uuids,
        monitor_names=picks,
        window_form=window_form or {"timezone": "UTC"},
        window_errors=window_errors or {},
        silence_form=silence_form or {"monitor": request.query_params.get("monitor", "")},
        silence_errors=silence_errors or {},
        utc=utc_text,
        ago=lambda at: relative(at, now),
    )


@router.get(PATH)
async def maintenance_page(request: Request, current: Viewer) -> Response:
    """Every maintenance window and silence not over yet; for admins, the forms.
    ``?monitor=NAME`` fills in the silence form's monitor."""
    return await _page(request, current)


def _items(text: str) -> list[str]:
    """Names typed one a line or separated by commas."""
    return [item.strip() for line in text.splitlines() for item in line.split(",") if item.strip()]


def _window_data(values: dict[str, str]) -> dict[str, Any]:
    """The window the form describes, as ``tocsin.yaml`` and the API write it (blank
    fields left out)."""
    data: dict[str, Any] = {"name": values["name"], "monitors": _items(values["monitors"])}
    for key in ("start", "end", "duration", "timezone"):
        if values[key].strip():
            data[key] = values[key].strip()
    return data


@router.post(PATH + "/windows")
async def add_window(request: Request, current: Admin) -> Response:
    """Add a one-off maintenance window from the form."""
    form = await read_form(request)
    values = {key: form.get(key, "") for key in WINDOW_FIELDS}
    data = _window_data(values)
    errors = unstorable_text(data)
    try:
        maintenance_window(data)
    except ValidationError as exc:
        errors = exc.fields | errors
    name = values["name"].strip()
    state = server_state(request)
    async with state.database.read() as conn:
        existing = await list_holds(conn, state.project.id, datetime.now(UTC), HoldKind.MAINTENANCE)
        wanted = [n for n in data["monitors"] if n != ALL_MONITORS]
        known = (
            await monitor_uuids(conn, state.project.id, wanted) if "monitors" not in errors else {}
        )
    if name and any(hold.name == name for hold in existing):
        errors["name"] = "a window with this name exists: delete it first, or choose another name"
    unknown = [n for n in wanted if n not in known]
    if unknown and "monitors" not in errors:
        listed = ", ".join(repr(n) for n in unknown)
        errors["monitors"] = f"no monitor named {listed} on the server"
    if not errors:
        body = WindowIn.model_validate({k: v for k, v in data.items() if k != "name"})
        try:
            await put_maintenance(request, name, body)
        except ValidationError as exc:
            errors = exc.fields
    if errors:
        return await _page(request, current, status=422, window_form=values, window_errors=errors)
    return see_other(PATH)


@router.post(PATH + "/windows/delete")
async def remove_window(request: Request, current: Admin) -> Response:
    """Delete the window named in the form: what it held goes out at once."""
    name = (await read_form(request)).get("name", "")
    if unstorable_text({"name": name}):
        raise PageError(404, "Not found", "There is no such maintenance window.")
    try:
        await delete_maintenance(request, name)
    except NotFoundError as exc:
        raise PageError(404, "Not found", "There is no such maintenance window.") from exc
    return see_other(PATH)


def _until(text: str) -> str | None:
    """The form's until time; one written without an offset is UTC (the field says so)."""
    text = text.strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text  # SilenceIn refuses it
    return moment.replace(tzinfo=UTC).isoformat() if moment.tzinfo is None else text


@router.post(PATH + "/silences")
async def add_silence(request: Request, current: Admin) -> Response:
    """Silence a monitor for a duration or until a time."""
    form = await read_form(request)
    values = {key: form.get(key, "") for key in SILENCE_FIELDS}
    monitor = values["monitor"].strip()
    errors: dict[str, str] = {}
    body = None
    try:
        body = SilenceIn.model_validate(
            {
                "monitor": monitor,
                "for": values["for"].strip() or None,
                "until": _until(values["until"]),
            }
        )
    except PydanticValidationError:
        errors["until"] = "must be a date and time like 2026-12-24T08:00"
    if body is not None:
        try:
            silence_until(body, datetime.now(UTC))
        except ValidationError as exc:
            errors |= exc.fields
    state = server_state(request)
    async with state.database.read() as conn:
        if not unstorable_text({"monitor": monitor}) and monitor:
            found = await monitor_uuids(conn, state.project.id, [monitor])
        else:
            found = {}
    if monitor not in found:
        errors["monitor"] = f"there is no monitor named {monitor!r}" if monitor else "is required"
    if not errors and body is not None:
        try:
            await silence(request, body)
        except (ValidationError, NotFoundError) as exc:
            errors = exc.fields if isinstance(exc, ValidationError) else {"monitor": str(exc)}
    if errors:
        return await _page(request, current, status=422, silence_form=values, silence_errors=errors)
    return see_other(PATH)


@router.post(PATH + "/silences/end")
async def end_silence(request: Request, current: Admin) -> Response:
    """End every silence of the monitor named in the form: what they held goes out now."""
    monitor = (await read_form(request)).get("monitor", "")
    try:
        await unsilence(request, monitor)
    except NotFoundError as exc:
        raise PageError(404, "Not found", f"{exc}.") from exc
    return see_other(PATH)
