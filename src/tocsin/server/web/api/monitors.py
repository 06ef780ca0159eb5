"""``/api/v1/monitors``: list, create, read, change, delete, pause and resume monitors."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from tocsin.server.domain.alert_policy import POLICY_FIELDS
from tocsin.server.domain.spec import ProbeSpec, monitor_spec
from tocsin.server.domain.states import ManagedBy, MonitorKind, MonitorState
from tocsin.server.storage.history_pages import flips_page, pings_page
from tocsin.server.storage.monitors import (
    create_monitor,
    delete_monitor,
    get_monitor,
    list_monitors,
    pause_monitor,
    resume_monitor,
    update_monitor,
)
from tocsin.server.storage.rows import MonitorRecord
from tocsin.server.storage.shapes import FlipOut, MonitorOut, PingOut, monitors_out
from tocsin.server.web.api.auth import AuthenticatedRoute, may_see_secrets, server_state
from tocsin.server.web.api.paging import (
    DEFAULT_LIMIT,
    Cursor,
    Limit,
    cut,
    decode_cursor,
    decode_time_cursor,
    next_url,
    time_key,
)
from tocsin.server.web.api.schemas import (
    CONFLICT,
    INVALID,
    NOT_FOUND,
    WRITE_RESPONSES,
    FlipPage,
    MonitorIn,
    MonitorPage,
    MonitorPatch,
    PingPage,
    take_owner,
    unstorable_text,
    usable_key,
    validated,
)

router = APIRouter(prefix="/monitors", tags=["monitors"], route_class=AuthenticatedRoute)


def _key(key: str) -> str:
    return usable_key(key, "monitor")


def _current_values(monitor: MonitorRecord) -> dict[str, Any]:
    schedule = monitor.schedule
    values: dict[str, Any] = {
        "name": monitor.name,
        "kind": monitor.kind.value,
        "slug": monitor.slug,
        "desc": monitor.desc,
        "tags": list(monitor.tags),
        "channels": list(monitor.channels),
        **(monitor.alert_policy or {}),
    }
    if monitor.kind.probed:
        spec = ProbeSpec.from_json(
            monitor.kind,
            monitor.probe or {},
            monitor.interval_seconds,
            monitor.retry_interval_seconds,
        )
        return values | spec.user_fields()
    values["grace"] = schedule.grace.total_seconds()
    if schedule.cron is not None:
        values["cron"] = schedule.cron
        values["timezone"] = schedule.timezone
    elif schedule.period is not None:
        values["period"] = schedule.period.total_seconds()
    return values


_COMMON = ("name", "slug", "desc", "tags", "channels", *sorted(POLICY_FIELDS - {"channels"}))


def merge_monitor(monitor: MonitorRecord, changes: dict[str, Any]) -> dict[str, Any]:
    """The monitor's current description with ``changes`` applied.

    Setting ``cron`` replaces ``period`` and the other way round, so switching schedules
    takes one field; changing ``kind`` keeps only the fields every kind has; ``null``
    clears a field back to its default.
    """
    merged = _current_values(monitor)
    kind = changes.get("kind")
    if kind is not None and kind != monitor.kind.value:
        # Another kind: only the fields every kind has carry over.
        merged = {key: merged[key] for key in _COMMON if key in merged}
    if changes.get("cron") is not None:
        merged.pop("period", None)
    if changes.get("period") is not None:
        merged.pop("cron", None)
        merged.pop("timezone", None)
    elif "cron" in changes and changes["cron"] is None:
        merged.pop("timezone", None)  # clearing the cron expression clears its time zone
    merged.update(changes)
    return merged


@router.get("", response_model=MonitorPage, responses=INVALID)
async def list_page(
    request: Request,
    response: Response,
    tag: Annotated[
        str | None, Query(description="only monitors with this tag", pattern="^[^\\u0000]*$")
    ] = None,
    state: Annotated[MonitorState | None, Query(description="only monitors in this state")] = None,
    kind: Annotated[MonitorKind | None, Query(description="only monitors of this kind")] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> MonitorPage:
    """The project's monitors by name, a page at a time, optionally filtered."""
    after = decode_cursor("monitors", cursor, str)
    api = server_state(request)
    async with api.database.read() as conn:
        found = await list_monitors(
            conn, api.project.id, after=after, limit=limit + 1, tag=tag, state=state, kind=kind
        )
        page = cut("monitors", found, limit, lambda monitor: monitor.name)
        shown = await monitors_out(
            conn, page.items, api.settings.base_url, secrets=may_see_secrets(request)
        )
    return MonitorPage(
        monitors=shown,
        next=next_url(request, response, page.next_cursor),
    )


@router.post(
    "",
    status_code=201,
    response_model=MonitorOut,
    responses=WRITE_RESPONSES | CONFLICT,
)
async def create(request: Request, body: MonitorIn) -> MonitorOut:
    """Create a monitor."""
    data = body.model_dump(exclude_unset=True, by_alias=True)
    problems = unstorable_text(data)
    owner = take_owner(data, problems) or ManagedBy.API
    spec = validated("monitor", problems, lambda: monitor_spec(data))
    state = server_state(request)
    async with state.database.write() as conn:
        monitor = await create_monitor(
            conn,
            state.project.id,
            spec,
            datetime.now(UTC),
            owner,
            max_monitors=state.settings.max_monitors,
        )
    state.watch(monitor.id, monitor.status.next_deadline)
    return MonitorOut.of(monitor, state.settings.base_url)


@router.get("/{key}", response_model=MonitorOut, responses=NOT_FOUND)
async def read(request: Request, key: str) -> MonitorOut:
    """One monitor, by uuid or name."""
    state = server_state(request)
    async with state.database.read() as conn:
        monitor = await get_monitor(conn, state.project.id, _key(key))
        (shown,) = await monitors_out(
            conn, [monitor], state.settings.base_url, secrets=may_see_secrets(request)
        )
    return shown


@router.patch(
    "/{key}",
    response_model=MonitorOut,
    responses=NOT_FOUND | WRITE_RESPONSES | CONFLICT,
)
async def change(request: Request, key: str, body: MonitorPatch) -> MonitorOut:
    """Change some fields of a monitor; the rest keep their values."""
    changes = body.model_dump(exclude_unset=True, by_alias=True)
    problems = unstorable_text(changes)
    owner = take_owner(changes, problems)  # absent or null: unchanged
    state = server_state(request)
    async with state.database.write() as conn:
        current = await get_monitor(conn, state.project.id, _key(key))
        merged = merge_monitor(current, changes)
        spec = validated("monitor", problems, lambda: monitor_spec(merged))
        monitor = await update_monitor(
            conn, state.project.id, current.uuid, spec, datetime.now(UTC), owner
        )
    state.watch(monitor.id, monitor.status.next_deadline)
    return MonitorOut.of(monitor, state.settings.base_url)


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
    response_model=MonitorOut,
    responses=NOT_FOUND | {403: WRITE_RESPONSES[403]},
)
async def pause(request: Request, key: str) -> MonitorOut:
    """Stop watching a monitor until it is pinged or resumed."""
    state = server_state(request)
    async with state.database.write() as conn:
        monitor = await pause_monitor(conn, state.project.id, _key(key), datetime.now(UTC))
    state.watch(monitor.id, monitor.status.next_deadline)
    return MonitorOut.of(monitor, state.settings.base_url)


@router.post(
    "/{key}/resume",
    response_model=MonitorOut,
    responses=NOT_FOUND | {403: WRITE_RESPONSES[403]},
)
async def resume(request: Request, key: str) -> MonitorOut:
    """Watch a paused monitor again; it waits in ``new`` for its next ping."""
    state = server_state(request)
    async with state.database.write() as conn:
        monitor = await resume_monitor(conn, state.project.id, _key(key), datetime.now(UTC))
    state.watch(monitor.id, monitor.status.next_deadline)
    return MonitorOut.of(monitor, state.settings.base_url)


@router.get("/{key}/pings", response_model=PingPage, responses=NOT_FOUND | INVALID)
async def pings(
    request: Request,
    response: Response,
    key: str,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> PingPage:
    """The monitor's pings, newest first, a page at a time."""
    before = decode_cursor("pings", cursor, int)
    state = server_state(request)
    async with state.database.read() as conn:
        monitor = await get_monitor(conn, state.project.id, _key(key))
        found = await pings_page(conn, monitor.id, limit + 1, before=before)
    page = cut("pings", found, limit, lambda ping: ping.n)
    return PingPage(
        pings=[PingOut.of(ping) for ping in page.items],
        next=next_url(request, response, page.next_cursor),
    )


@router.get("/{key}/flips", response_model=FlipPage, responses=NOT_FOUND | INVALID)
async def flips(
    request: Request,
    response: Response,
    key: str,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> FlipPage:
    """The monitor's state changes with their causes, newest first, a page at a time."""
    before = decode_time_cursor("flips", cursor)
    state = server_state(request)
    async with state.database.read() as conn:
        monitor = await get_monitor(conn, state.project.id, _key(key))
        found = await flips_page(conn, monitor.id, limit + 1, before=before)
    page = cut("flips", found, limit, lambda flip: time_key(flip.created_at, flip.id))
    return FlipPage(
        flips=[FlipOut.of(flip) for flip in page.items],
        next=next_url(request, response, page.next_cursor),
    )
