"""The difference between what a config file asks for and what the server has: a ``Plan``.

Pure: specs in, the server's objects as JSON dicts (``MonitorOut`` / ``ChannelOut``
shapes, ``storage.shapes``) in, a list of changes out. An object is updated only when
one of its fields differs, so applying the same file twice changes nothing the second time.
Without ``prune`` nothing is ever deleted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

from tocsin.durations import format_duration
from tocsin.server.config.validate import DesiredState
from tocsin.server.domain.maintenance import MaintenanceWindow
from tocsin.server.domain.spec import CHANNEL_FIELDS, ChannelSpec, MonitorSpec
from tocsin.server.domain.states import ManagedBy
from tocsin.server.storage.shapes import MASK, shown_policy

# Channel settings whose values may hold secrets (tokens in webhook URLs, auth headers):
# a change is reported without showing either value.
SECRET_SETTINGS = frozenset({"url", "headers"})
CHANNEL_SETTINGS = tuple(sorted(CHANNEL_FIELDS - {"name", "kind"}))


class Action(StrEnum):
    """What a change does."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


class ObjectKind(StrEnum):
    """What a change is about."""

    CHANNEL = "channel"
    MONITOR = "monitor"
    MAINTENANCE = "maintenance"


_SIGNS = {Action.CREATE: "+", Action.UPDATE: "~", Action.DELETE: "-"}


@dataclass(frozen=True)
class Change:
    """One create, update or delete. ``key`` is the uuid of an existing object."""

    action: Action
    kind: ObjectKind
    name: str
    spec: ChannelSpec | MonitorSpec | MaintenanceWindow | None = None
    key: str | None = None
    details: tuple[str, ...] = ()

    def describe(self) -> str:
        """``+ channel ops (webhook)``, ``~ monitor a: period 1d → 2h``, ``- monitor b``."""
        head = f"{_SIGNS[self.action]} {self.kind.value} {self.name}"
        if self.action is Action.CREATE:
            return f"{head} ({', '.join(self.details)})"
        if self.action is Action.UPDATE:
            return f"{head}: {', '.join(self.details)}"
        return head


@dataclass(frozen=True)
class Plan:
    """The changes in the order they must be applied, and what stays as it is.

    Order: channels created/updated, monitors created/updated, monitors deleted, channels
    deleted, so a monitor never names a channel that does not exist yet or any more.
    """

    changes: tuple[Change, ...] = ()
    unchanged: tuple[str, ...] = ()
    # Objects on the server that the file does not list, left alone because of no --prune.
    kept: tuple[str, ...] = ()

    def count(self, action: Action) -> int:
        """How many changes do ``action``."""
        return sum(1 for change in self.changes if change.action is action)

    @property
    def empty(self) -> bool:
        """Whether there is nothing to do."""
        return not self.changes


def _seconds(value: timedelta | None) -> float | None:
    return value.total_seconds() if value is not None else None


def _duration_text(seconds: Any) -> str:
    if seconds is None:
        return "none"
    return format_duration(timedelta(seconds=float(seconds)))


def _same_seconds(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(float(a) - float(b)) < 1e-6


def _text(value: Any) -> str:
    return "none" if value in (None, "") else repr(value)


def _names(values: Sequence[Any]) -> str:
    return "[" + ", ".join(str(v) for v in values) + "]"


def _managed(current: Mapping[str, Any], claim: bool) -> list[str]:
    was = current.get("managed_by")
    if not claim:
        return []
    if was is not None and was != ManagedBy.CONFIG.value:
        return [f"managed_by {was} → {ManagedBy.CONFIG.value}"]
    return []


def monitor_differences(
    spec: MonitorSpec, current: Mapping[str, Any], *, claim: bool = True
) -> list[str]:
    """Readable differences between ``spec`` and a monitor's JSON; empty if none.

    With ``claim``, a monitor not yet owned by config differs in ``managed_by``.
    """
    schedule = spec.schedule
    found: list[str] = []
    if spec.kind.value != current.get("kind"):
        found.append(f"kind {current.get('kind')} → {spec.kind.value}")
    if spec.probe is not None:
        found.extend(_probe_differences(spec, current))
    for label, wanted, have in (
        ("period", _seconds(schedule.period), current.get("period_seconds")),
        ("grace", _seconds(schedule.grace), current.get("grace_seconds")),
    ):
        if not _same_seconds(wanted, have):
            found.append(f"{label} {_duration_text(have)} → {_duration_text(wanted)}")
    if (schedule.cron or None) != (current.get("cron") or None):
        found.append(f"cron {_text(current.get('cron'))} → {_text(schedule.cron)}")
    if schedule.timezone != (current.get("timezone") or "UTC"):
        found.append(f"timezone {current.get('timezone') or 'UTC'} → {schedule.timezone}")
    if spec.slug != current.get("slug"):
        found.append(f"slug {current.get('slug')} → {spec.slug}")
    if spec.desc != (current.get("desc") or ""):
        found.append(f"desc {_text(current.get('desc'))} → {_text(spec.desc)}")
    have_tags = list(current.get("tags") or [])
    if list(spec.tags) != have_tags:
        found.append(f"tags {_names(have_tags)} → {_names(spec.tags)}")
    have_channels = sorted(current.get("channels") or [])
    if sorted(spec.channels) != have_channels:
        found.append(f"channels {_names(have_channels)} → {_names(sorted(spec.channels))}")
    found += _policy_differences(spec, current)
    return found + _managed(current, claim)


def _policy_differences(spec: MonitorSpec, current: Mapping[str, Any]) -> list[str]:
    """The policy keys (but channels, compared above) whose values differ."""
    stored = spec.policy.to_json() if spec.policy else None
    wanted = shown_policy(stored)
    have = shown_policy(current.get("alert_policy"))
    return [f"{key} changed" for key in sorted(wanted) if wanted[key] != have.get(key)]


def window_differences(window: MaintenanceWindow, current: Mapping[str, Any]) -> list[str]:
    """What differs between ``window`` and a stored window's config form."""
    wanted = window.to_json()
    found: list[str] = []
    for key in sorted((set(wanted) | set(current)) - {"uuid"}):
        if wanted.get(key) != current.get(key):
            found.append(f"{key} {_text_of(current.get(key))} → {_text_of(wanted.get(key))}")
    return found


def _text_of(value: Any) -> str:
    if isinstance(value, list):
        return _names(value)
    return "none" if value is None else str(value)


def _window_summary(window: MaintenanceWindow) -> tuple[str, ...]:
    if window.cron is not None and window.duration is not None:
        when = f"cron {window.cron!r} for {format_duration(window.duration)}"
    else:
        when = f"{window.start} to {window.end}"
    return (f"{when}: {', '.join(window.monitors)}",)


def _probe_differences(spec: MonitorSpec, current: Mapping[str, Any]) -> list[str]:
    """What differs in a probed monitor's settings (header values stay hidden)."""
    probe = spec.probe
    assert probe is not None
    found: list[str] = []
    interval = probe.interval.total_seconds()
    if not _same_seconds(interval, current.get("interval_seconds")):
        have = _duration_text(current.get("interval_seconds"))
        found.append(f"interval {have} → {_duration_text(interval)}")
    wanted = probe.to_json()
    have_probe = current.get("probe") or {}
    for key in sorted(wanted):
        if key == "headers":
            shown: dict[str, Any] = have_probe.get(key) or {}
            if sorted(wanted[key]) != sorted(shown) or any(
                shown.get(name) not in (value, MASK) for name, value in wanted[key].items()
            ):
                found.append("headers changed")
        elif wanted[key] != have_probe.get(key):
            found.append(f"{key} changed")
    return found


def channel_differences(
    spec: ChannelSpec, current: Mapping[str, Any], *, claim: bool = True
) -> list[str]:
    """Readable differences between ``spec`` and a channel's JSON; secrets stay hidden."""
    found: list[str] = []
    if spec.kind != current.get("kind"):
        found.append(f"kind {current.get('kind')} → {spec.kind}")
    for key in CHANNEL_SETTINGS:
        wanted = spec.settings.get(key)
        have = current.get(key)
        if key == "timeout":
            if not _same_seconds(wanted, have):
                found.append(f"timeout {_duration_text(have)} → {_duration_text(wanted)}")
        elif (wanted or None) != (have or None):
            found.append(f"{key} changed")
    return found + _managed(current, claim)


def _monitor_summary(spec: MonitorSpec) -> tuple[str, ...]:
    schedule = spec.schedule
    if spec.probe is not None:
        probe = spec.probe
        target = f"{probe.host}:{probe.port}" if probe.host else probe.url
        details = [spec.kind.value, target, f"every {format_duration(probe.interval)}"]
        if spec.channels:
            details.append(f"channels {_names(spec.channels)}")
        return tuple(details)
    if schedule.cron is not None:
        when = f"cron {schedule.cron!r} {schedule.timezone}"
    else:
        when = f"period {_duration_text(_seconds(schedule.period))}"
    details = [spec.kind.value, when, f"grace {format_duration(schedule.grace)}"]
    if spec.channels:
        details.append(f"channels {_names(spec.channels)}")
    return tuple(details)


def make_plan(
    desired: DesiredState,
    current_channels: Sequence[Mapping[str, Any]],
    current_monitors: Sequence[Mapping[str, Any]],
    *,
    prune: bool = False,
    claim: bool = True,
    current_windows: Sequence[Mapping[str, Any]] = (),
) -> Plan:
    """Compare ``desired`` with the server's channels and monitors (JSON dicts).

    ``claim`` marks objects the file describes as ``managed_by=config`` (an update when
    they were made by hand); a backend that cannot set the owner passes ``False``.
    """
    upserts: list[Change] = []
    deletes: list[Change] = []
    unchanged: list[str] = []
    kept: list[str] = []
    sections: tuple[tuple[ObjectKind, Sequence[Any], Sequence[Mapping[str, Any]]], ...] = (
        (ObjectKind.CHANNEL, desired.channels, current_channels),
        (ObjectKind.MONITOR, desired.monitors, current_monitors),
        (ObjectKind.MAINTENANCE, desired.maintenance, current_windows),
    )
    for kind, specs, current in sections:
        by_name = {str(item["name"]): item for item in current}
        for spec in specs:
            have = by_name.get(spec.name)
            if have is None:
                if isinstance(spec, MonitorSpec):
                    details = _monitor_summary(spec)
                elif isinstance(spec, MaintenanceWindow):
                    details = _window_summary(spec)
                else:
                    details = (spec.kind,)
                upserts.append(Change(Action.CREATE, kind, spec.name, spec, details=details))
                continue
            if isinstance(spec, MonitorSpec):
                differences = monitor_differences(spec, have, claim=claim)
            elif isinstance(spec, MaintenanceWindow):
                differences = window_differences(spec, have)
            else:
                differences = channel_differences(spec, have, claim=claim)
            if differences:
                upserts.append(
                    Change(
                        Action.UPDATE,
                        kind,
                        spec.name,
                        spec,
                        key=str(have["uuid"]),
                        details=tuple(differences),
                    )
                )
            else:
                unchanged.append(f"{kind.value} {spec.name}")
        wanted = {spec.name for spec in specs}
        for name, have in by_name.items():
            if name in wanted:
                continue
            if prune:
                deletes.append(Change(Action.DELETE, kind, name, key=str(have["uuid"])))
            else:
                kept.append(f"{kind.value} {name}")
    # Windows, then monitors, then channels are deleted (the reverse of creation).
    order = (ObjectKind.MAINTENANCE, ObjectKind.MONITOR, ObjectKind.CHANNEL)
    deletes.sort(key=lambda change: order.index(change.kind))
    return Plan(changes=tuple(upserts + deletes), unchanged=tuple(unchanged), kept=tuple(kept))
