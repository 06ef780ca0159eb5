"""``/api/v1/silences`` and ``/api/v1/maintenance``: what holds alerts.

A silence holds one monitor's alerts until a time; checks still run, and a monitor still
down when it ends alerts then. Maintenance windows come from ``tocsin.yaml``
(``maintenance:``) and are read-only here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from tocsin.durations import parse_duration
from tocsin.errors import NotFoundError, ValidationError
from tocsin.server.storage.holds import (
    HoldKind,
    HoldRecord,
    create_silence,
    end_silences,
    list_holds,
)
from tocsin.server.storage.monitors import get_monitor
from tocsin.server.storage.policy_state import wake_now
from tocsin.server.web.api.auth import AuthenticatedRoute, server_state
from tocsin.server.web.api.schemas import (
    INVALID,
    NOT_FOUND,
    WRITE_RESPONSES,
    Duration,
    usable_key,
)
from tocsin.server.web.state import ServerState

router = APIRouter(tags=["silences"], route_class=AuthenticatedRoute)


class SilenceIn(BaseModel):
    """Silence a monitor ``for`` a duration (``2h``) or ``until`` a time."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    monitor: str = Field(description="the monitor's uuid or name")
    for_: Duration = Field(None, alias="for", description="how long, like 2h or 30m")
    until: datetime | None = Field(None, description="until when (ISO 8601 with offset)")


class HoldOut(BaseModel):
    """A silence or a maintenance window."""

    model_config = ConfigDict(extra="forbid")

    uuid: str
    kind: str = Field(description="silence or maintenance")
    name: str | None = Field(description="a maintenance window's name")
    monitor: str | None = Field(description="a silence's monitor")
    window: dict[str, Any] | None = Field(description="a window as tocsin.yaml gives it")
    starts_at: datetime | None
    ends_at: datetime | None = Field(description="when it is over; null for a recurring window")
    managed_by: str

    @classmethod
    def of(cls, record: HoldRecord) -> HoldOut:
        """The API shape of a stored hold."""
        return cls(
            uuid=record.uuid,
            kind=record.kind.value,
            name=record.name,
            monitor=record.monitor,
            window=record.window,
            starts_at=record.starts_at,
            ends_at=record.ends_at,
            managed_by=record.managed_by,
        )

    @classmethod
    def silence(cls, key: str, monitor: str, start: datetime, until: datetime) -> HoldOut:
        """A silence just made."""
        return cls(
            uuid=key,
            kind=HoldKind.SILENCE.value,
            name=None,
            monitor=monitor,
            window=None,
            starts_at=start,
            ends_at=until,
            managed_by="api",
        )


class HoldList(BaseModel):
    """The holds in force or to come."""

    holds: list[HoldOut]


def _invalid(field: str, problem: str) -> ValidationError:
    return ValidationError(f"invalid silence: {field}: {problem}", {field: problem})


def silence_until(body: SilenceIn, now: datetime) -> datetime:
    """When the silence ``body`` asks for ends; ``ValidationError`` if it asks badly."""
    if (body.for_ is None) == (body.until is None):
        raise _invalid("for", "give either for or until")
    if body.until is not None:
        if body.until.tzinfo is None:
            raise _invalid("until", "needs a UTC offset, like Z")
        if body.until <= now:
            raise _invalid("until", "must be in the future")
        return body.until.astimezone(UTC)
    try:
        length = parse_duration(body.for_ or "")
    except (ValueError, TypeError) as exc:
        raise _invalid("for", str(exc)) from None
    if length.total_seconds() <= 0:
        raise _invalid("for", "must be more than 0s")
    return now + length


async def _holds(state: ServerState, kind: HoldKind) -> HoldList:
    async with state.database.read() as conn:
        found = await list_holds(conn, state.project.id, datetime.now(UTC), kind)
    return HoldList(holds=[HoldOut.of(record) for record in found])


@router.get("/silences", response_model=HoldList)
async def silences(request: Request) -> HoldList:
    """The silences not over yet."""
    return await _holds(server_state(request), HoldKind.SILENCE)


@router.post(
    "/silences",
    response_model=HoldOut,
    status_code=201,
    responses=WRITE_RESPONSES | NOT_FOUND,
)
async def silence(request: Request, body: SilenceIn) -> HoldOut:
    """Hold a monitor's alerts until a time; checks still run."""
    state = server_state(request)
    now = datetime.now(UTC)
    until = silence_until(body, now)
    usable_key(body.monitor, "monitor")
    async with state.database.write() as conn:
        monitor = await get_monitor(conn, state.project.id, body.monitor)
        key = await create_silence(conn, state.project.id, monitor.id, now, until)
    return HoldOut.silence(key, monitor.name, now, until)


@router.delete(
    "/silences/{monitor}",
    status_code=204,
    response_class=Response,
    responses={204: {"description": "Unsilenced"}} | NOT_FOUND | INVALID,
)
async def unsilence(request: Request, monitor: str) -> Response:
    """End a monitor's silences now: what they held goes out at once."""
    state = server_state(request)
    usable_key(monitor, "monitor")
    async with state.database.write() as conn:
        record = await get_monitor(conn, state.project.id, monitor)
        if not await end_silences(conn, state.project.id, record.id):
            raise NotFoundError(f"{record.name} is not silenced")
        await conn.run_sync(wake_now, [record.id], datetime.now(UTC))
    if state.engines is not None:
        state.engines.holds_changed()
    return Response(status_code=204)


@router.get("/maintenance", response_model=HoldList)
async def maintenance(request: Request) -> HoldList:
    """The maintenance windows of ``tocsin.yaml``."""
    return await _holds(server_state(request), HoldKind.MAINTENANCE)
