"""Create, edit, pause, resume and delete monitors from HTML forms (admins only).

A form maps onto the same description the API and ``tocsin.yaml`` take (``monitor_spec``),
so a problem comes back keyed by field and is shown next to that field. Editing merges
the form into the monitor's current description (``merge_monitor``): settings the form
does not show (headers, body, components, alert policy) keep their values. Every change
tells the engines, as the API does.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from tocsin.errors import ConflictError, MonitorLimitError, NotFoundError, ValidationError
from tocsin.server.dashboard.auth import Admin, CurrentUser, PageError
from tocsin.server.dashboard.forms import read_form
from tocsin.server.dashboard.pages import render, see_other
from tocsin.server.domain.probe_spec import METHODS, ProbeSpec
from tocsin.server.domain.spec import monitor_spec
from tocsin.server.domain.states import ManagedBy, MonitorKind
from tocsin.server.storage.monitors import (
    create_monitor,
    delete_monitor,
    get_monitor,
    pause_monitor,
    resume_monitor,
    update_monitor,
)
from tocsin.server.storage.rows import MonitorRecord
from tocsin.server.web.api.auth import server_state
from tocsin.server.web.api.monitors import merge_monitor

router = APIRouter(include_in_schema=False)

# The form's fields: text as typed; lists are one item per line or comma.
TEXT_FIELDS = (
    "name",
    "kind",
    "desc",
    "period",
    "grace",
    "cron",
    "timezone",
    "url",
    "method",
    "interval",
    "timeout",
    "host",
    "port",
)
LIST_FIELDS = ("tags", "channels", "assert")
_KIND_FIELDS = {
    MonitorKind.HEARTBEAT: {"period", "grace", "cron", "timezone"},
    MonitorKind.HTTP: {"url", "method", "interval", "timeout", "assert"},
    MonitorKind.APP: {"url", "method", "interval", "timeout", "assert"},
    MonitorKind.TCP: {"host", "port", "interval", "timeout"},
}
_COMMON = {"name", "kind", "desc", "tags", "channels"}
# Blank when editing: back to the default. Other blank fields keep their current values.
_CLEARABLE = {"assert", "timeout"}


def _seconds(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{int(value)}s" if float(value).is_integer() else f"{value}s"
    return "" if value is None else str(value)


def form_values(monitor: MonitorRecord) -> dict[str, str]:
    """The form of an existing monitor, filled in."""
    values = merge_monitor(monitor, {})
    shown: dict[str, str] = {}
    for key in TEXT_FIELDS:
        value = values.get(key)
        duration = key in {"period", "grace", "interval", "timeout"}
        shown[key] = _seconds(value) if duration else ("" if value is None else str(value))
    shown["tags"] = ", ".join(monitor.tags)
    shown["channels"] = ", ".join(monitor.channels)
    shown["assert"] = ""
    if monitor.kind.probed and monitor.probe is not None:
        spec = ProbeSpec.from_json(
            monitor.kind, monitor.probe, monitor.interval_seconds, monitor.retry_interval_seconds
        )
        shown["assert"] = "\n".join(assertion.text for assertion in spec.assertions)
    return shown


def _items(text: str) -> list[str]:
    return [item.strip() for line in text.splitlines() for item in line.split(",") if item.strip()]


def description(form: dict[str, str], *, editing: bool) -> dict[str, Any]:
    """The spec dict a posted form describes. Blank fields are left out (the default, or
    when editing the current value), except that editing clears a blank ``assert`` or
    ``timeout`` back to its default and a blank description."""
    kind_text = form.get("kind", MonitorKind.HEARTBEAT.value)
    kind = MonitorKind(kind_text) if kind_text in set(MonitorKind) else None
    wanted = _COMMON | (_KIND_FIELDS[kind] if kind is not None else set())
    data: dict[str, Any] = {}
    for key in wanted:
        raw = form.get(key, "")
        if key == "assert":
            raw = raw.strip()
            value: Any = [line.strip() for line in raw.splitlines() if line.strip()] or None
        elif key in LIST_FIELDS:
            value = _items(raw)
        elif key == "port":
            value = int(raw) if raw.strip().isdigit() else (raw.strip() or None)
        else:
            value = raw.strip() if key != "desc" else raw
            value = value or None
        if value is None and key == "desc":
            value = ""
        if value is None and not (editing and key in _CLEARABLE):
            continue
        data[key] = value
    if "name" not in data:
        data["name"] = form.get("name", "")
    return data


def _form_page(
    request: Request,
    current: CurrentUser,
    values: dict[str, str],
    errors: dict[str, str],
    monitor: MonitorRecord | None = None,
    status: int = 200,
) -> Response:
    known = set(TEXT_FIELDS) | set(LIST_FIELDS)
    # A problem under a field the form lacks, or of an item ("assert[1]"), is shown with
    # the field it belongs to, or at the top.
    by_field: dict[str, list[str]] = {}
    general: list[str] = []
    for key, text in errors.items():
        field = key.split("[")[0].split(".")[0]
        if field in known:
            by_field.setdefault(field, []).append(text if field == key else f"{key}: {text}")
        else:
            general.append(f"{key}: {text}")
    return render(
        request,
        "monitor_form.html",
        current=current,
        status=status,
        monitor=monitor,
        values=values,
        errors={key: "; ".join(texts) for key, texts in by_field.items()},
        general_errors=general,
        kinds=[kind.value for kind in MonitorKind],
        methods=METHODS,
    )


def _blank() -> dict[str, str]:
    values = dict.fromkeys((*TEXT_FIELDS, *LIST_FIELDS), "")
    values |= {"kind": MonitorKind.HTTP.value, "method": "GET", "interval": "60s"}
    return values


def _posted(form: dict[str, str]) -> dict[str, str]:
    return {key: form.get(key, "") for key in (*TEXT_FIELDS, *LIST_FIELDS)}


async def find_monitor(request: Request, key: str) -> MonitorRecord:
    """The monitor with uuid ``key``, or a 404 page."""
    state = server_state(request)
    try:
        async with state.database.read() as conn:
            monitor = await get_monitor(conn, state.project.id, key)
    except NotFoundError as exc:
        raise PageError(404, "Not found", "There is no such monitor.") from exc
    if monitor.uuid != key.lower():  # the dashboard addresses monitors by uuid only
        raise PageError(404, "Not found", "There is no such monitor.")
    return monitor


@router.get("/ui/monitors/new")
async def new_page(request: Request, current: Admin) -> Response:
    """The empty form for a new monitor."""
    return _form_page(request, current, _blank(), {})


@router.post("/ui/monitors/new")
async def create(request: Request, current: Admin) -> Response:
    """Create the monitor the form describes, then show it."""
    form = await read_form(request)
    state = server_state(request)
    try:
        spec = monitor_spec(description(form, editing=False))
        async with state.database.write() as conn:
            monitor = await create_monitor(
                conn,
                state.project.id,
                spec,
                datetime.now(UTC),
                ManagedBy.API,
                max_monitors=state.settings.max_monitors,
            )
    except ValidationError as exc:
        return _form_page(request, current, _posted(form), exc.fields, status=422)
    except (ConflictError, MonitorLimitError) as exc:
        return _form_page(request, current, _posted(form), {"name": str(exc)}, status=409)
    state.watch(monitor.id, monitor.status.next_deadline)
    return see_other(f"/ui/monitors/{monitor.uuid}")


@router.get("/ui/monitors/{key}/edit")
async def edit_page(request: Request, key: str, current: Admin) -> Response:
    """The form of an existing monitor."""
    monitor = await find_monitor(request, key)
    return _form_page(request, current, form_values(monitor), {}, monitor)


@router.post("/ui/monitors/{key}/edit")
async def edit(request: Request, key: str, current: Admin) -> Response:
    """Apply the form to the monitor, then show it."""
    monitor = await find_monitor(request, key)
    form = await read_form(request)
    state = server_state(request)
    try:
        merged = merge_monitor(monitor, description(form, editing=True))
        spec = monitor_spec(merged)
        async with state.database.write() as conn:
            changed = await update_monitor(
                conn, state.project.id, monitor.uuid, spec, datetime.now(UTC), None
            )
    except ValidationError as exc:
        return _form_page(request, current, _posted(form), exc.fields, monitor, status=422)
    except ConflictError as exc:
        return _form_page(request, current, _posted(form), {"name": str(exc)}, monitor, 409)
    state.watch(changed.id, changed.status.next_deadline)
    return see_other(f"/ui/monitors/{changed.uuid}")


@router.post("/ui/monitors/{key}/pause")
async def pause(request: Request, key: str, current: Admin) -> Response:
    """Stop watching the monitor."""
    monitor = await find_monitor(request, key)
    state = server_state(request)
    async with state.database.write() as conn:
        changed = await pause_monitor(conn, state.project.id, monitor.uuid, datetime.now(UTC))
    state.watch(changed.id, changed.status.next_deadline)
    return see_other(f"/ui/monitors/{changed.uuid}")


@router.post("/ui/monitors/{key}/resume")
async def resume(request: Request, key: str, current: Admin) -> Response:
    """Watch the paused monitor again."""
    monitor = await find_monitor(request, key)
    state = server_state(request)
    async with state.database.write() as conn:
        changed = await resume_monitor(conn, state.project.id, monitor.uuid, datetime.now(UTC))
    state.watch(changed.id, changed.status.next_deadline)
    return see_other(f"/ui/monitors/{changed.uuid}")


@router.get("/ui/monitors/{key}/delete")
async def delete_page(request: Request, key: str, current: Admin) -> Response:
    """Ask before deleting."""
    monitor = await find_monitor(request, key)
    return render(request, "monitor_delete.html", current=current, monitor=monitor)


@router.post("/ui/monitors/{key}/delete")
async def delete(request: Request, key: str, current: Admin) -> Response:
    """Delete the monitor with its history, then go back to the list."""
    monitor = await find_monitor(request, key)
    state = server_state(request)
    async with state.database.write() as conn:
        await delete_monitor(conn, state.project.id, monitor.uuid)
    state.watch(monitor.id, None)
    return see_other("/")
