"""A monitor's alert policy: who hears about it, whether recoveries are sent, reminders
while down, escalation, flapping detection and the monitors it depends on.

Each monitor's policy starts from the project's ``defaults:``; a key the monitor sets
replaces the default's value as a whole (``channels`` is not merged), and ``off`` turns an
inherited reminder, escalation or flapping detection off. Problems are listed per field,
like ``spec.py`` does, so ``tocsin apply`` can point at their lines.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from tocsin.durations import format_duration, parse_duration
from tocsin.errors import ValidationError
from tocsin.server.domain.flapping import FlapPolicy, flap_policy
from tocsin.server.domain.spec import _names

DEFAULT_REMIND_MAX = 10
DEFAULT_REMIND_MIN_INTERVAL = timedelta(minutes=5)
MIN_ESCALATE_AFTER = timedelta(minutes=1)
POLICY_FIELDS = frozenset(
    {"channels", "notify_on_recovery", "remind", "escalate", "flapping", "depends_on"}
)
DEFAULT_FIELDS = POLICY_FIELDS - {"depends_on"}
OFF = "off"


@dataclass(frozen=True)
class ReminderCaps:
    """The server's limits on reminders: at most ``max_count`` per incident, never more often
    than every ``min_interval`` (settings ``TOCSIN_REMIND_MAX`` and
    ``TOCSIN_REMIND_MIN_INTERVAL``)."""

    max_count: int = DEFAULT_REMIND_MAX
    min_interval: timedelta = DEFAULT_REMIND_MIN_INTERVAL


@dataclass(frozen=True)
class Reminders:
    """Remind ``every`` while down, at most ``max_count`` times (``None``: the server's cap)."""

    every: timedelta
    max_count: int | None = None

    def effective(self, caps: ReminderCaps) -> tuple[timedelta, int]:
        """``(interval, count)`` within ``caps``, which may have tightened since validation."""
        count = caps.max_count if self.max_count is None else min(self.max_count, caps.max_count)
        return max(self.every, caps.min_interval), count

    def to_json(self) -> dict[str, Any]:
        """The config form: ``{"every": "2h"}`` (+ ``"max": 3``)."""
        data: dict[str, Any] = {"every": format_duration(self.every)}
        if self.max_count is not None:
            data["max"] = self.max_count
        return data


@dataclass(frozen=True)
class Escalation:
    """After ``after`` down (counted from the first down alert), alert ``channels`` too."""

    after: timedelta
    channels: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """The config form: ``{"after": "1h", "channels": ["pager"]}``."""
        return {"after": format_duration(self.after), "channels": list(self.channels)}


@dataclass(frozen=True)
class AlertPolicy:
    """What happens when a monitor changes state; the defaults are a project's defaults."""

    channels: tuple[str, ...] = ()
    notify_on_recovery: bool = True
    remind: Reminders | None = None
    escalate: Escalation | None = None
    flapping: FlapPolicy | None = field(default_factory=FlapPolicy)
    depends_on: tuple[str, ...] = ()

    def recipients(self, escalated: bool) -> tuple[str, ...]:
        """The monitor's channels, plus the escalation channels once it has escalated."""
        extra = self.escalate.channels if escalated and self.escalate else ()
        return tuple(dict.fromkeys((*self.channels, *extra)))

    def to_json(self) -> dict[str, Any]:
        """Every field in config form (``"off"`` for what is off); ``from_json`` reads it."""
        return {
            "channels": list(self.channels),
            "notify_on_recovery": self.notify_on_recovery,
            "remind": self.remind.to_json() if self.remind else OFF,
            "escalate": self.escalate.to_json() if self.escalate else OFF,
            "flapping": self.flapping.to_json() if self.flapping else OFF,
            "depends_on": list(self.depends_on),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AlertPolicy:
        """The policy ``to_json`` wrote, without checking it against today's caps."""
        remind = data.get("remind")
        escalate = data.get("escalate")
        flapping = data.get("flapping")
        return cls(
            tuple(data.get("channels") or ()),
            bool(data.get("notify_on_recovery", True)),
            Reminders(parse_duration(remind["every"]), remind.get("max"))
            if isinstance(remind, Mapping)
            else None,
            Escalation(parse_duration(escalate["after"]), tuple(escalate["channels"]))
            if isinstance(escalate, Mapping)
            else None,
            FlapPolicy.from_json(flapping) if isinstance(flapping, Mapping) else None,
            tuple(data.get("depends_on") or ()),
        )


def alert_policy(
    data: Mapping[str, Any],
    defaults: AlertPolicy | None = None,
    caps: ReminderCaps | None = None,
) -> AlertPolicy:
    """A monitor's policy from the policy keys of its config (other keys are left to
    ``monitor_spec``), on top of ``defaults``; raise ``ValidationError`` listing every
    problem by field (``remind.every``, ``escalate.channels``, ...)."""
    return _policy(data, defaults or AlertPolicy(), caps or ReminderCaps(), POLICY_FIELDS)


def policy_defaults(
    data: Mapping[str, Any] | None, caps: ReminderCaps | None = None
) -> AlertPolicy:
    """The project's ``defaults:`` section; unknown keys (``depends_on`` included: it is
    per monitor) are problems too."""
    if data is None:
        return AlertPolicy()
    if not isinstance(data, Mapping):
        raise ValidationError("invalid defaults", {"defaults": "must be a mapping"})
    errors: dict[str, str] = {}
    for key in data:
        if key not in DEFAULT_FIELDS:
            expected = ", ".join(sorted(DEFAULT_FIELDS))
            errors[str(key)] = f"unknown field; expected one of {expected}"
    try:
        policy = _policy(data, AlertPolicy(), caps or ReminderCaps(), DEFAULT_FIELDS)
    except ValidationError as exc:
        errors |= exc.fields
    if errors:
        raise ValidationError("invalid defaults", errors)
    return policy


def unknown_channels(policy: AlertPolicy, known: Collection[str]) -> dict[str, str]:
    """Problems for channel names in ``policy`` that are not in ``known``, by field
    (``channels[1]``, ``escalate.channels[0]``)."""
    problems: dict[str, str] = {}
    lists = {"channels": policy.channels}
    if policy.escalate:
        lists["escalate.channels"] = policy.escalate.channels
    for key, names in lists.items():
        for index, name in enumerate(names):
            if name not in known:
                problems[f"{key}[{index}]"] = f"no channel named {name!r}"
    return problems


def _policy(
    data: Mapping[str, Any], base: AlertPolicy, caps: ReminderCaps, fields: frozenset[str]
) -> AlertPolicy:
    errors: dict[str, str] = {}
    present = {key for key in fields if data.get(key) is not None}
    channels = _names(data, "channels", errors) if "channels" in present else base.channels
    depends_on = _names(data, "depends_on", errors) if "depends_on" in present else base.depends_on
    recovery = base.notify_on_recovery
    if "notify_on_recovery" in present:
        recovery = data["notify_on_recovery"]
        if not isinstance(recovery, bool):
            errors["notify_on_recovery"] = "must be true or false"
    remind = _remind(data["remind"], caps, errors) if "remind" in present else base.remind
    escalate = _escalate(data["escalate"], errors) if "escalate" in present else base.escalate
    flapping = base.flapping
    if "flapping" in present:
        try:
            flapping = flap_policy(data["flapping"])
        except ValidationError as exc:
            errors |= exc.fields
    if errors:
        raise ValidationError("invalid alert policy", errors)
    return AlertPolicy(channels, bool(recovery), remind, escalate, flapping, depends_on)


def _remind(value: Any, caps: ReminderCaps, errors: dict[str, str]) -> Reminders | None:
    if value is False or value == OFF:
        return None
    every_value, count = value, None
    if isinstance(value, Mapping):
        for key in value:
            if key not in ("every", "max"):
                errors[f"remind.{key}"] = "unknown field; expected one of every, max"
        every_value, count = value.get("every"), value.get("max")
        if count is not None and (
            isinstance(count, bool)
            or not isinstance(count, int)
            or not 1 <= count <= caps.max_count
        ):
            errors["remind.max"] = (
                f"must be a whole number from 1 to {caps.max_count} (the server's "
                "TOCSIN_REMIND_MAX)"
            )
    key = "remind.every" if isinstance(value, Mapping) else "remind"
    if every_value is None:
        errors[key] = "is required: how often to remind while down, like 2h"
        return None
    try:
        every = parse_duration(every_value)
    except (ValueError, TypeError) as exc:
        hint = "; or off, or {every: 2h, max: 3}" if key == "remind" else ""
        errors[key] = f"{exc}{hint}"
        return None
    if every < caps.min_interval:
        errors[key] = (
            f"must be at least {format_duration(caps.min_interval)} (the server's "
            "TOCSIN_REMIND_MIN_INTERVAL)"
        )
    return Reminders(every, count if isinstance(count, int) else None)


def _escalate(value: Any, errors: dict[str, str]) -> Escalation | None:
    if value is False or value == OFF:
        return None
    if not isinstance(value, Mapping):
        errors["escalate"] = "must be like {after: 1h, channels: [pager]}, or off"
        return None
    for key in value:
        if key not in ("after", "channels"):
            errors[f"escalate.{key}"] = "unknown field; expected one of after, channels"
    after = None
    if value.get("after") is None:
        errors["escalate.after"] = "is required: how long down before escalating, like 1h"
    else:
        try:
            after = parse_duration(value["after"])
        except (ValueError, TypeError) as exc:
            errors["escalate.after"] = str(exc)
        else:
            if after < MIN_ESCALATE_AFTER:
                errors["escalate.after"] = f"must be at least {format_duration(MIN_ESCALATE_AFTER)}"
    found: dict[str, str] = {}
    channels = _names(value, "channels", found)
    errors |= {f"escalate.{key}": problem for key, problem in found.items()}
    if not channels and not found:
        errors["escalate.channels"] = "is required: the channels to alert on escalation"
    if after is None or not channels:
        return None
    return Escalation(after, channels)
