"""What a user asks for when creating or changing a monitor or channel, validated.

One validation path serves the REST API, ``tocsin apply`` and the local CLI, so the same
input is refused with the same words everywhere. Problems are collected per field.
Channels are validated in ``channel_spec.py``; their names are re-exported here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from tocsin.errors import ValidationError
from tocsin.server.domain.channel_spec import (
    CHANNEL_FIELDS,
    CHANNEL_KINDS,
    ChannelSpec,
    channel_spec,
)
from tocsin.server.domain.fields import (
    NAME_MAX,
    add_problem,
    duration_field,
    name_field,
    storable,
    text_field,
)
from tocsin.server.domain.probe_spec import KIND_FIELDS, PROBE_FIELDS, ProbeSpec, probe_spec
from tocsin.server.domain.schedule import Schedule, check_cron, load_timezone, normalize_cron
from tocsin.server.domain.states import MonitorKind

if TYPE_CHECKING:
    from tocsin.server.domain.alert_policy import AlertPolicy

__all__ = [
    "CHANNEL_FIELDS",
    "CHANNEL_KINDS",
    "MONITOR_FIELDS",
    "NAME_MAX",
    "SLUG_RULE",
    "ChannelSpec",
    "MonitorSpec",
    "ProbeSpec",
    "channel_spec",
    "is_slug",
    "monitor_spec",
    "slugify",
]

DEFAULT_PERIOD = timedelta(days=1)
DEFAULT_GRACE = timedelta(hours=1)
SLUG_RULE = "may contain only a-z, 0-9, hyphens and underscores (1 to 100 characters)"
_SLUG = re.compile(r"[a-z0-9_-]{1,100}")

HEARTBEAT_FIELDS = frozenset({"period", "grace", "cron", "timezone"})
_COMMON_FIELDS = frozenset({"name", "kind", "slug", "desc", "tags", "channels", "paused"})
# The alert policy's keys (alert_policy.POLICY_FIELDS but channels, which is common).
_POLICY_KEYS = frozenset({"notify_on_recovery", "remind", "escalate", "flapping", "depends_on"})
MONITOR_FIELDS = _COMMON_FIELDS | HEARTBEAT_FIELDS | PROBE_FIELDS | _POLICY_KEYS
_KIND_NAMES = ", ".join(kind.value for kind in MonitorKind)


def is_slug(text: str) -> bool:
    """Whether ``text`` follows ``SLUG_RULE``: the one rule for slugs in ping URLs (and so
    ``?create=1``), the API and ``tocsin.yaml``. Checked as given, never trimmed."""
    return _SLUG.fullmatch(text) is not None


def slugify(name: str) -> str:
    """``"Nightly Backup!"`` → ``"nightly-backup"``: the default slug of a monitor."""
    slug = re.sub(r"[^a-z0-9_]+", "-", name.lower()).strip("-")
    return slug[:100] or "monitor"


@dataclass(frozen=True)
class MonitorSpec:
    """A valid description of a monitor.

    Probed monitors (``http``, ``app``, ``tcp``) carry their settings in ``probe``; their
    ``schedule`` is a period of one interval with no grace (it only matters to pings,
    which probed monitors do not take). ``paused``: created (or kept) paused.
    """

    name: str
    schedule: Schedule
    kind: MonitorKind = MonitorKind.HEARTBEAT
    slug: str = ""
    desc: str = ""
    tags: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    probe: ProbeSpec | None = None
    paused: bool = False
    # The alert policy; ``None``: the defaults. Its ``channels`` are ``channels`` above.
    policy: AlertPolicy | None = None


def _names(data: Mapping[str, Any], key: str, errors: dict[str, str]) -> tuple[str, ...]:
    value = data.get(key)
    if value is None:
        return ()
    if not isinstance(value, list | tuple) or not all(
        isinstance(v, str) and v.strip() for v in value
    ):
        errors[key] = "must be a list of non-empty strings"
        return ()
    if not all(storable(v) for v in value):
        errors[key] = "must not contain NUL or unpaired surrogate characters"
        return ()
    return tuple(dict.fromkeys(v.strip() for v in value))


def monitor_spec(data: Mapping[str, Any]) -> MonitorSpec:
    """Validate a monitor description; raise ``ValidationError`` listing every bad field.

    Heartbeats: ``period`` and ``grace`` are durations (``30s``, ``5m``, plain seconds);
    ``cron`` with an optional ``timezone`` replaces ``period``. Probed kinds: see
    ``probe_spec``.
    """
    errors: dict[str, str] = {}
    name = name_field(data, errors)
    kind_text = text_field(data, "kind", errors, required=False) or MonitorKind.HEARTBEAT.value
    kind = MonitorKind.HEARTBEAT
    if kind_text not in {k.value for k in MonitorKind}:
        errors["kind"] = f"unknown kind {kind_text!r}; supported: {_KIND_NAMES}"
    else:
        kind = MonitorKind(kind_text)
    # Unknown fields are named with the fields of the monitor's own kind.
    expected = (
        _COMMON_FIELDS | _POLICY_KEYS | (KIND_FIELDS[kind] if kind.probed else HEARTBEAT_FIELDS)
    )
    for key in data:
        if key not in MONITOR_FIELDS:
            errors[str(key)] = f"unknown field; expected one of {', '.join(sorted(expected))}"
    paused = data.get("paused")
    if paused is not None and not isinstance(paused, bool):
        errors["paused"] = "must be true or false"
    policy = _policy(data, errors)
    if kind.probed:
        return replace(_probed_spec(data, kind, name, errors), policy=policy)
    for key in PROBE_FIELDS & set(data):
        if data[key] is not None:
            add_problem(errors, key, "applies only to http, app and tcp monitors")
    period = duration_field(data, "period", errors)
    grace = duration_field(data, "grace", errors)
    cron = text_field(data, "cron", errors, required=False) or None
    zone = text_field(data, "timezone", errors, required=False) or "UTC"
    if cron is not None:
        if "period" in data and data["period"] is not None:
            add_problem(errors, "period", "give either period or cron, not both")
        problem = check_cron(cron)
        if problem:
            errors["cron"] = problem
        cron = normalize_cron(cron)
    elif "timezone" in data and data["timezone"] is not None:
        errors["timezone"] = "only applies to cron schedules"
    try:
        load_timezone(zone)
    except ValueError as exc:
        add_problem(errors, "timezone", str(exc))
    slug, desc, tags, channels = _common(data, name, errors)
    if errors:
        raise ValidationError("invalid monitor", errors)
    schedule = Schedule(
        grace=grace or DEFAULT_GRACE,
        period=None if cron else (period or DEFAULT_PERIOD),
        cron=cron,
        timezone=zone,
    )
    return MonitorSpec(
        name=name,
        schedule=schedule,
        kind=kind,
        slug=slug,
        desc=desc,
        tags=tags,
        channels=channels,
        paused=bool(paused),
        policy=policy,
    )


def _policy(data: Mapping[str, Any], errors: dict[str, str]) -> AlertPolicy | None:
    """The monitor's alert policy if it sets any policy key (``None``: the defaults)."""
    if not any(data.get(key) is not None for key in _POLICY_KEYS):
        return None
    # alert_policy reuses this module's field helpers, so it is imported when needed.
    from tocsin.server.domain.alert_policy import alert_policy

    try:
        return alert_policy({key: data[key] for key in _POLICY_KEYS if key in data})
    except ValidationError as exc:
        errors |= exc.fields
        return None


def _common(
    data: Mapping[str, Any], name: str, errors: dict[str, str]
) -> tuple[str, str, tuple[str, ...], tuple[str, ...]]:
    """The fields every kind has: slug, desc, tags, channels."""
    slug = data.get("slug")
    if slug is None:
        slug = slugify(name)
    elif not isinstance(slug, str) or not is_slug(slug):
        errors["slug"] = SLUG_RULE
        slug = ""
    desc = text_field(data, "desc", errors, required=False)
    return slug, desc, _names(data, "tags", errors), _names(data, "channels", errors)


def _probed_spec(
    data: Mapping[str, Any], kind: MonitorKind, name: str, errors: dict[str, str]
) -> MonitorSpec:
    for key in HEARTBEAT_FIELDS & set(data):
        if data[key] is not None:
            add_problem(errors, key, f"applies only to heartbeat monitors, not {kind}")
    probe = probe_spec(kind, data, errors)
    slug, desc, tags, channels = _common(data, name, errors)
    if errors:
        raise ValidationError("invalid monitor", errors)
    return MonitorSpec(
        name=name,
        schedule=Schedule(grace=timedelta(0), period=probe.interval),
        kind=kind,
        slug=slug,
        desc=desc,
        tags=tags,
        channels=channels,
        probe=probe,
        paused=bool(data.get("paused")),
    )
