"""``/api/v1/monitors``: list, create, read, change, delete, pause and resume monitors."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from tocsin.errors import NotFoundError
from tocsin.server.domain.spec import monitor_spec
from tocsin.server.domain.states import ManagedBy
from tocsin.server.storage.flips import list_flips
from tocsin.server.storage.monitors import (
    create_monitor,
    delete_monitor,
    get_monitor,
    list_monitors,
    pause_monitor,
    resume_monitor,
    update_monitor,
)
from tocsin.server.storage.pings import list_pings
from tocsin.server.storage.rows import MonitorRecord
from tocsin.server.web.api.auth import AuthenticatedRoute, server_state
from tocsin.server.web.api.schemas import (
    CONFLICT,
    INVALID,
    NOT_FOUND,
    WRITE_RESPONSES,
    FlipList,
    Monitor,
    MonitorIn,
    MonitorList,
    MonitorPatch,
    PingList,
    storable_text,
    usable_key,
)

router = APIRouter(prefix="/monitors", tags=["monitors"], route_class=AuthenticatedRoute)

Limit = Annotated[int, Query(ge=1, le=1000, description="how many, newest first")]


def _key(key: str) -> str:
    if not usable_key(key):
        raise NotFoundError("no such monitor")
    return key


def _ok(model: type[Any], description: str = "Success") -> dict[int | str, dict[str, Any]]:
    return {200: {"model": model, "description": description}}


def _current_values(monitor: MonitorRecord) -> dict[str, Any]:
    schedule = monitor.schedule
    values: dict[str, Any] = {
        "name": monitor.name,
        "kind": monitor.kind.value,
        "grace": schedule.grace.total_seconds(),
        "slug": monitor.slug,
        "desc": monitor.desc,
        "tags": list(monitor.tags),
        "channels": list(monitor.channels),
    }
    if schedule.cron is not None:
        values["cron"] = schedule.cron
        values["timezone"] = schedule.timezone
    elif schedule.period is not None:
        values["period"] = schedule.period.total_seconds()
    return values


def merge_monitor(monitor: MonitorRecord, changes: dict[str, Any]) -> dict[str, Any]:
    """The monitor's current description with ``changes`` applied.

    Setting ``cron`` replaces ``period`` and the other way round, so switching schedules
    takes one field; ``null`` clears a field back to its default.
    """
    merged = _current_values(monitor)
    if changes.get("cron") is not None:
        merged.pop("period", None)
    if changes.get("period") is not None:
        merged.pop("cron", None)
        merged.pop("timezone", None)
    merged.update(changes)
    return merged


@router.get("", response_model=None, responses=_ok(MonitorList) | INVALID)
async def list_all(
    request: Request,
    tag: Annotated[str | None, Query(description="only monitors with this tag")] = None,
) -> dict[str, Any]:
    """Every monitor of the project, by name."""
    state = server_state(request)
    async with state.database.read() as conn:
        monitors = await list_monitors(conn, state.project.id)
    if tag is not None:
        monitors = [monitor for monitor in monitors if tag in monitor.tags]
    return {"monitors": [monitor.to_json(state.settings.base_url) for monitor in monitors]}


@router.post(
    "",
    status_code=201,
    response_model=None,
    responses={201: {"model": Monitor, "description": "Created"}} | WRITE_RESPONSES | CONFLICT,
)
async def create(request: Request, body: MonitorIn) -> dict[str, Any]:
    """Create a monitor."""
    data = body.model_dump(exclude_unset=True)
    owner = data.pop("managed_by", None) or ManagedBy.API
    storable_text(data, "monitor")
    spec = monitor_spec(data)
    state = server_state(request)
    async with state.database.write() as conn:
        monitor = await create_monitor(conn, state.project.id, spec, datetime.now(UTC), owner)
    state.watch(monitor.id, monitor.status.next_deadline)
    return monitor.to_json(state.settings.base_url)


@router.get("/{key}", response_model=None, responses=_ok(Monitor) | NOT_FOUND)
async def read(request: Request, key: str) -> dict[str, Any]:
    """One monitor, by uuid or name."""
    state = server_state(request)
    async with state.database.read() as conn:
        monitor = await get_monitor(conn, state.project.id, _key(key))
    return monitor.to_json(state.settings.base_url)


@router.patch(
    "/{key}",
    response_model=None,
    responses=_ok(Monitor) | NOT_FOUND | WRITE_RESPONSES | CONFLICT,
)
async def change(request: Request, key: str, body: MonitorPatch) -> dict[str, Any]:
    """Change some fields of a monitor; the rest keep their values."""
    changes = body.model_dump(exclude_unset=True)
    owner = changes.pop("managed_by", None)  # absent or null: unchanged
    storable_text(changes, "monitor")
    state = server_state(request)
    async with state.database.write() as conn:
        current = await get_monitor(conn, state.project.id, _key(key))
        spec = monitor_spec(merge_monitor(current, changes))
        monitor = await update_monitor(
            conn, state.project.id, current.uuid, spec, datetime.now(UTC), owner
        )
    state.watch(monitor.id, monitor.status.next_deadline)
    return monitor.to_json(state.settings.base_url)


@router.delete(
    "/{key}",
    status_code=204,
    response_class=Response,
    responses={204: {"description": "Deleted"}} | NOT_FOUND | {403: WRITE_RESPONSES[403]},
)
async def remove(request: Request, key: str) -> Response:
    """Delete a monitor with its pings and history."""
    state = server_state(request)
    async with state.database.write() as conn:
        monitor = await delete_monitor(conn, state.project.id, _key(key))
    state.watch(monitor.id, None)
    return Response(status_code=204)


@router.post(
    "/{key}/pause",
    response_model=None,
    responses=_ok(Monitor) | NOT_FOUND | {403: WRITE_RESPONSES[403]},
)
async def pause(request: Request, key: str) -> dict[str, Any]:
    """Stop watching a monitor until it is pinged or resumed."""
    state = server_state(request)
    async with state.database.write() as conn:
        monitor = await pause_monitor(conn, state.project.id, _key(key), datetime.now(UTC))
    state.watch(monitor.id, monitor.status.next_deadline)
    return monitor.to_json(state.settings.base_url)


@router.post(
    "/{key}/resume",
    response_model=None,
    responses=_ok(Monitor) | NOT_FOUND | {403: WRITE_RESPONSES[403]},
)
async def resume(request: Request, key: str) -> dict[str, Any]:
    """Watch a paused monitor again; it waits in ``new`` for its next ping."""
    state = server_state(request)
    async with state.database.write() as conn:
        monitor = await resume_monitor(conn, state.project.id, _key(key), datetime.now(UTC))
    state.watch(monitor.id, monitor.status.next_deadline)
    return monitor.to_json(state.settings.base_url)


@router.get("/{key}/pings", response_model=None, responses=_ok(PingList) | NOT_FOUND | INVALID)
async def pings(request: Request, key: str, limit: Limit = 100) -> dict[str, Any]:
    """The monitor's newest pings."""
    state = server_state(request)
    async with state.database.read() as conn:
        monitor = await get_monitor(conn, state.project.id, _key(key))
        found = await list_pings(conn, monitor.id, limit)
    return {"pings": [ping.to_json() for ping in found]}


@router.get("/{key}/flips", response_model=None, responses=_ok(FlipList) | NOT_FOUND | INVALID)
async def flips(request: Request, key: str, limit: Limit = 100) -> dict[str, Any]:
    """The monitor's newest state changes, with their causes."""
    state = server_state(request)
    async with state.database.read() as conn:
        monitor = await get_monitor(conn, state.project.id, _key(key))
        found = await list_flips(conn, monitor.id, limit)
    return {"flips": [flip.to_json() for flip in found]}
