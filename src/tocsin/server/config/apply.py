"""Apply a parsed config file through a backend: validate, compare, change.

Nothing is changed while any problem is left: the file is checked completely, then the
server's channels are read to check the monitors' channel names, and only a file with no
problem at all gets a plan applied. Locally the whole apply is one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tocsin.errors import ConfigError, TocsinError
from tocsin.server.config.backends import Backend, BackendSession, Json
from tocsin.server.config.loader import Document, format_path
from tocsin.server.config.plan import Action, Change, ObjectKind, Plan, make_plan
from tocsin.server.config.validate import (
    DesiredState,
    check_channel_references,
    check_monitor_names,
    sort_problems,
    validate,
)
from tocsin.server.domain.maintenance import MaintenanceWindow
from tocsin.server.domain.spec import ChannelSpec, MonitorSpec


@dataclass
class ApplyResult:
    """The plan, whether it was applied, and the monitors it created (with ping URLs)."""

    plan: Plan
    applied: bool
    created_monitors: list[Json] = field(default_factory=list)


async def apply_change(session: BackendSession, change: Change) -> Json | None:
    """Carry out one change; return the object's new JSON for creates and updates."""
    spec = change.spec
    if change.action is Action.DELETE:
        assert change.key is not None
        if change.kind is ObjectKind.MAINTENANCE:
            await session.delete_maintenance(change.key)
        elif change.kind is ObjectKind.MONITOR:
            await session.delete_monitor(change.key)
        else:
            await session.delete_channel(change.key)
        return None
    if isinstance(spec, MaintenanceWindow):
        await session.put_maintenance(spec)
        return None
    if isinstance(spec, MonitorSpec):
        if change.action is Action.CREATE:
            return await session.create_monitor(spec)
        assert change.key is not None
        return await session.update_monitor(change.key, spec)
    assert isinstance(spec, ChannelSpec)
    if change.action is Action.CREATE:
        return await session.create_channel(spec)
    assert change.key is not None
    return await session.update_channel(change.key, spec)


def _location(document: Document, desired: DesiredState, change: Change) -> str:
    """``"tocsin.yaml:6: monitors[0] (backup): "`` for a change the file describes."""
    section = "maintenance" if change.kind is ObjectKind.MAINTENANCE else f"{change.kind.value}s"
    path = desired.paths.get((section, change.name))
    if path is None:
        return ""
    return f"{document.source}:{document.line_of(path)}: {format_path(path)} ({change.name}): "


async def apply_document(
    backend: Backend, document: Document, *, prune: bool = False, dry_run: bool = False
) -> ApplyResult:
    """Make the server match ``document``; ``ConfigError`` lists every problem in the file.

    With ``dry_run`` the plan is computed and returned but nothing is changed.
    """
    desired, problems = validate(document)
    done = 0
    plan = Plan()
    failing: Change | None = None
    try:
        async with backend.session(write=not dry_run) as session:
            channels = await session.list_channels()
            problems += check_channel_references(
                document, desired, {str(c["name"]) for c in channels}, prune=prune
            )
            monitors = await session.list_monitors()
            problems += check_monitor_names(document, desired, monitors, prune=prune)
            if problems:
                raise ConfigError(sort_problems(document, problems))
            plan = make_plan(
                desired,
                channels,
                monitors,
                prune=prune,
                claim=backend.marks_ownership,
                current_windows=await session.list_maintenance(),
            )
            if dry_run:
                return ApplyResult(plan=plan, applied=False)
            result = ApplyResult(plan=plan, applied=True)
            for change in plan.changes:
                failing = change
                new = await apply_change(session, change)
                done += 1
                if change.kind is ObjectKind.MONITOR and change.action is Action.CREATE and new:
                    result.created_monitors.append(new)
    except ConfigError:
        raise
    except TocsinError as exc:
        if problems:  # the file's own problems matter more than an unreachable server
            raise ConfigError(problems) from exc
        if failing is None:
            raise
        where = _location(document, desired, failing)
        if backend.atomic or done == 0:
            raise TocsinError(f"{where}{exc} (nothing was applied)") from exc
        raise TocsinError(
            f"{where}{exc} (after {done} of {len(plan.changes)} changes were applied; "
            "fix the cause and run apply again to finish)"
        ) from exc
    return result
