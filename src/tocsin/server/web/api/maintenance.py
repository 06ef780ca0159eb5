"""``PUT`` and ``DELETE /api/v1/maintenance/{name}``: maintenance windows written by
``tocsin apply --url`` (or any client); ``GET /api/v1/maintenance`` lists them (holds.py).

A window is validated by ``maintenance.maintenance_window``, as in ``tocsin.yaml``. After a
change the policy watch decides again for the monitors the window names, so an alert a
removed window held goes out at once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, Field, WithJsonSchema
from pydantic.config import JsonDict

from tocsin.errors import NotFoundError
from tocsin.server.domain.fields import NAME_MAX
from tocsin.server.domain.maintenance import MaintenanceWindow, maintenance_window
from tocsin.server.domain.states import ManagedBy
from tocsin.server.storage.holds import (
    HoldKind,
    MonitorRef,
    delete_window,
    list_holds,
    monitors_named,
    put_window,
)
from tocsin.server.storage.monitors import list_monitors
from tocsin.server.storage.policy_state import wake_now
from tocsin.server.web.api.auth import AuthenticatedRoute, server_state
from tocsin.server.web.api.holds import HoldOut
from tocsin.server.web.api.schemas import (
    NAME_PATTERN,
    NOT_FOUND,
    WRITE_RESPONSES,
    Duration,
    Owner,
    SomeNames,
    Text,
    body_config,
    take_owner,
    unstorable_text,
    validated,
)
from tocsin.server.web.state import ServerState

router = APIRouter(tags=["silences"], route_class=AuthenticatedRoute)

_MOMENT: JsonDict = {
    "anyOf": [
        {
            "type": "string",
            "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\\.[0-9]+)?"
            "(?:Z|[+-][0-9]{2}:[0-9]{2})?$",
        },
        {"type": "null"},
    ]
}
Moment = Annotated[Any, WithJsonSchema(_MOMENT)]
WindowName = Annotated[
    str,
    Path(
        description="the window's name",
        pattern=NAME_PATTERN,
        max_length=NAME_MAX,
    ),
]


class WindowIn(BaseModel):
    """A maintenance window: ``cron`` + ``duration`` (recurring), or ``start`` + ``end``
    or ``duration`` (one-off). The path names it."""

    model_config = body_config("monitors")

    name: Text = Field(None, description="ignored: the path names the window")
    monitors: SomeNames = Field(None, description='the monitors it holds, or ["*"] for all')
    cron: Text = Field(None, description="recurring: when each window starts")
    duration: Duration = Field(None, description="how long each window lasts")
    timezone: Text = Field(None, description="IANA time zone of cron, start and end (UTC)")
    start: Moment = Field(None, description="one-off: ISO 8601 start")
    end: Moment = Field(None, description="one-off: ISO 8601 end (or give duration)")
    managed_by: Owner = Field(None, description='"api" (the default) or "config"')


async def _wake(state: ServerState, conn: Any, window: MaintenanceWindow) -> None:
    """Make the policy watch decide again for the monitors ``window`` names."""
    found = await list_monitors(conn, state.project.id)
    refs = [MonitorRef(m.id, state.project.id, m.name) for m in found]
    await conn.run_sync(wake_now, monitors_named(refs, window), datetime.now(UTC))


@router.put("/maintenance/{name}", response_model=HoldOut, responses=WRITE_RESPONSES)
async def put_maintenance(request: Request, name: WindowName, body: WindowIn) -> HoldOut:
    """Create or replace the maintenance window ``name``."""
    data = body.model_dump(exclude_unset=True)
    problems = unstorable_text(data)
    owner = take_owner(data, problems) or ManagedBy.API
    data["name"] = name
    window = validated("maintenance window", problems, lambda: maintenance_window(data))
    state = server_state(request)
    now = datetime.now(UTC)
    async with state.database.write() as conn:
        await put_window(conn, state.project.id, window, now, owner)
        await _wake(state, conn, window)
        stored = await list_holds(conn, state.project.id, now, HoldKind.MAINTENANCE)
    if state.engines is not None:
        state.engines.holds_changed()
    return next(HoldOut.of(record) for record in stored if record.name == window.name)


@router.delete(
    "/maintenance/{name}",
    status_code=204,
    response_class=Response,
    responses={204: {"description": "Deleted"}} | NOT_FOUND | {403: WRITE_RESPONSES[403]},
)
async def delete_maintenance(request: Request, name: WindowName) -> Response:
    """Delete the maintenance window ``name``: what it held goes out at once."""
    state = server_state(request)
    now = datetime.now(UTC)
    async with state.database.write() as conn:
        stored = await list_holds(conn, state.project.id, now, HoldKind.MAINTENANCE)
        found = [r for r in stored if r.name == name.strip() and r.window]
        if not found or found[0].window is None:
            raise NotFoundError("no such maintenance window")
        await delete_window(conn, state.project.id, name.strip())
        await _wake(state, conn, MaintenanceWindow.from_json(found[0].window))
    if state.engines is not None:
        state.engines.holds_changed()
    return Response(status_code=204)
