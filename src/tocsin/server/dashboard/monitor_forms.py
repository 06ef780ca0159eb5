"""Create, edit, pause, resume and delete monitors from HTML forms (admins only).

The form shows every setting the API and ``tocsin.yaml`` take and maps onto the same
description (``monitor_form_fields``), validated by the same ``monitor_spec``, so a
problem comes back keyed by field and is shown next to that field. Editing merges the
posted fields into the monitor's current description (``merge_monitor``), as a PATCH
does. Every change tells the engines, as the API does.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from tocsin.errors import ConflictError, MonitorLimitError, NotFoundError, ValidationError
from tocsin.server.dashboard.auth import Admin, CurrentUser, PageError
from tocsin.server.dashboard.forms import read_form_lists
from tocsin.server.dashboard.monitor_form_fields import (
    blank_values,
    description,
    error_fields,
    posted_values,
    shown_values,
)
from tocsin.server.dashboard.pages import render, see_other
from tocsin.server.domain.probe_spec import METHODS, ProbeSpec
from tocsin.server.domain.spec import MonitorSpec, monitor_spec
from tocsin.server.domain.states import ManagedBy, MonitorKind
from tocsin.server.storage.channels import list_channels
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
from tocsin.server.web.api.schemas import unstorable_text, validated

router = APIRouter(include_in_schema=False)


def form_values(monitor: MonitorRecord) -> dict[str, Any]:
    """The form of an existing monitor, every field filled in (those set from
    ``tocsin.yaml`` or the API too)."""
    assertions: list[str] = []
    if monitor.kind.probed and monitor.probe is not None:
        spec = ProbeSpec.from_json(
            monitor.kind, monitor.probe, monitor.interval_seconds, monitor.retry_interval_seconds
        )
        assertions = [assertion.text for assertion in spec.assertions]
    return shown_values(merge_monitor(monitor, {}), assertions)


async def _form_page(
    request: Request,
    current: CurrentUser,
    values: dict[str, Any],
    errors: Mapping[str, str],
    monitor: MonitorRecord | None = None,
    status: int = 200,
) -> Response:
    state = server_state(request)
    async with state.database.read() as conn:
        channels = [channel.name for channel in await list_channels(conn, state.project.id)]
    # A channel the monitor names is offered even if it is gone, so it shows as chosen.
    chosen = [*values["channels"], *values["escalate_channels"]]
    channels += [name for name in dict.fromkeys(chosen) if name not in channels]
    by_field, general = error_fields(errors)
    return render(
        request,
        "monitor_form.html",
        current=current,
        status=status,
        monitor=monitor,
        values=values,
        errors=by_field,
        general_errors=general,
        kinds=[kind.value for kind in MonitorKind],
        methods=METHODS,
        channel_names=channels,
    )


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


def _validated(data: dict[str, Any], problems: dict[str, str]) -> MonitorSpec:
    """``monitor_spec(data)``, refusing the form's own syntax problems and text no database
    stores at once with the spec's, as the API does."""
    return validated("monitor", unstorable_text(data) | problems, lambda: monitor_spec(data))


@router.get("/ui/monitors/new")
async def new_page(request: Request, current: Admin) -> Response:
    """The empty form for a new monitor."""
    return await _form_page(request, current, blank_values(), {})


@router.post("/ui/monitors/new")
async def create(request: Request, current: Admin) -> Response:
    """Create the monitor the form describes, then show it."""
    form = await read_form_lists(request)
    state = server_state(request)
    try:
        spec = _validated(*description(form))
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
        return await _form_page(request, current, posted_values(form), exc.fields, status=422)
    except (ConflictError, MonitorLimitError) as exc:
        errors = {"name": str(exc)}
        return await _form_page(request, current, posted_values(form), errors, status=409)
    state.watch(monitor.id, monitor.status.next_deadline)
    return see_other(f"/ui/monitors/{monitor.uuid}")


@router.get("/ui/monitors/{key}/edit")
async def edit_page(request: Request, key: str, current: Admin) -> Response:
    """The form of an existing monitor."""
    monitor = await find_monitor(request, key)
    return await _form_page(request, current, form_values(monitor), {}, monitor)


@router.post("/ui/monitors/{key}/edit")
async def edit(request: Request, key: str, current: Admin) -> Response:
    """Apply the form to the monitor, then show it."""
    monitor = await find_monitor(request, key)
    form = await read_form_lists(request)
    state = server_state(request)
    changes, problems = description(form)
    try:
        spec = _validated(merge_monitor(monitor, changes), problems)
        async with state.database.write() as conn:
            changed = await update_monitor(
                conn, state.project.id, monitor.uuid, spec, datetime.now(UTC), None
            )
    except ValidationError as exc:
        values = posted_values(form)
        return await _form_page(request, current, values, exc.fields, monitor, status=422)
    except ConflictError as exc:
        values = posted_values(form)
        return await _form_page(request, current, values, {"name": str(exc)}, monitor, 409)
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
