"""What a user asks for when creating or changing a monitor or channel, validated.

One validation path serves the REST API, ``tocsin apply`` and the local CLI, so the same
input is refused with the same words everywhere. Problems are collected per field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from tocsin.errors import ValidationError
from tocsin.server.domain.durations import parse_duration
from tocsin.server.domain.schedule import Schedule, check_cron, load_timezone, normalize_cron
from tocsin.server.domain.states import MonitorKind

DEFAULT_PERIOD = timedelta(days=1)
DEFAULT_GRACE = timedelta(hours=1)
NAME_MAX = 100
SLUG_PATTERN = re.compile(r"^[a-z0-9_-]{1,100}$")
CHANNEL_KINDS = ("webhook",)

MONITOR_FIELDS = frozenset(
    {"name", "kind", "period", "grace", "cron", "timezone", "slug", "desc", "tags", "channels"}
)
CHANNEL_FIELDS = frozenset({"name", "kind", "url", "headers", "timeout"})


def slugify(name: str) -> str:
    """``"Nightly Backup!"`` → ``"nightly-backup"``: the default slug of a monitor."""
    slug = re.sub(r"[^a-z0-9_]+", "-", name.lower()).strip("-")
    return slug[:100] or "monitor"


@dataclass(frozen=True)
class MonitorSpec:
    """A valid description of a heartbeat monitor."""

    name: str
    schedule: Schedule
    kind: MonitorKind = MonitorKind.HEARTBEAT
    slug: str = ""
    desc: str = ""
    tags: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()


@dataclass(frozen=True)
class ChannelSpec:
    """A valid description of a notification channel."""

    name: str
    kind: str
    settings: dict[str, Any] = field(default_factory=dict)


def _text(data: Mapping[str, Any], key: str, errors: dict[str, str], *, required: bool) -> str:
    value = data.get(key)
    if value is None:
        if required:
            errors[key] = "is required"
        return ""
    if not isinstance(value, str):
        errors[key] = "must be a string"
        return ""
    if not _storable(value):
        errors[key] = "must not contain NUL or unpaired surrogate characters"
        return ""
    return value.strip()


def _storable(text: str) -> bool:
    """Whether every database can store ``text`` (PostgreSQL refuses NUL and surrogates)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _names(data: Mapping[str, Any], key: str, errors: dict[str, str]) -> tuple[str, ...]:
    value = data.get(key)
    if value is None:
        return ()
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v for v in value):
        errors[key] = "must be a list of non-empty strings"
        return ()
    if not all(_storable(v) for v in value):
        errors[key] = "must not contain NUL or unpaired surrogate characters"
        return ()
    return tuple(dict.fromkeys(v.strip() for v in value))


def _duration(data: Mapping[str, Any], key: str, errors: dict[str, str]) -> timedelta | None:
    value = data.get(key)
    if value is None:
        return None
    try:
        return parse_duration(value)
    except (ValueError, TypeError) as exc:
        errors[key] = str(exc)
        return None


def monitor_spec(data: Mapping[str, Any]) -> MonitorSpec:
    """Validate a monitor description; raise ``ValidationError`` listing every bad field.

    ``period`` and ``grace`` are durations (``30s``, ``5m``, plain seconds); ``cron`` with
    an optional ``timezone`` replaces ``period``.
    """
    errors: dict[str, str] = {}
    for key in data:
        if key not in MONITOR_FIELDS:
            errors[str(key)] = f"unknown field; expected one of {', '.join(sorted(MONITOR_FIELDS))}"
    name = _text(data, "name", errors, required=True)
    if "name" not in errors and not name:
        errors["name"] = "must not be empty"
    elif len(name) > NAME_MAX:
        errors["name"] = f"must be at most {NAME_MAX} characters"
    kind_text = _text(data, "kind", errors, required=False) or MonitorKind.HEARTBEAT.value
    if kind_text not in {k.value for k in MonitorKind}:
        errors["kind"] = f"unknown kind {kind_text!r}; supported: heartbeat"
    period = _duration(data, "period", errors)
    grace = _duration(data, "grace", errors)
    cron = _text(data, "cron", errors, required=False) or None
    zone = _text(data, "timezone", errors, required=False) or "UTC"
    if cron is not None:
        if "period" in data and data["period"] is not None:
            errors["period"] = "give either period or cron, not both"
        problem = check_cron(cron)
        if problem:
            errors["cron"] = problem
        cron = normalize_cron(cron)
    elif "timezone" in data and data["timezone"] is not None:
        errors["timezone"] = "only applies to cron schedules"
    try:
        load_timezone(zone)
    except ValueError as exc:
        errors["timezone"] = str(exc)
    slug = _text(data, "slug", errors, required=False) or slugify(name)
    if not SLUG_PATTERN.match(slug):
        errors["slug"] = "may contain only a-z, 0-9, hyphens and underscores (1 to 100)"
    desc = _text(data, "desc", errors, required=False)
    tags = _names(data, "tags", errors)
    channels = _names(data, "channels", errors)
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
        kind=MonitorKind(kind_text),
        slug=slug,
        desc=desc,
        tags=tags,
        channels=channels,
    )


def channel_spec(data: Mapping[str, Any]) -> ChannelSpec:
    """Validate a channel description; raise ``ValidationError`` listing every bad field."""
    errors: dict[str, str] = {}
    for key in data:
        if key not in CHANNEL_FIELDS:
            errors[str(key)] = f"unknown field; expected one of {', '.join(sorted(CHANNEL_FIELDS))}"
    name = _text(data, "name", errors, required=True)
    if "name" not in errors and not name:
        errors["name"] = "must not be empty"
    elif len(name) > NAME_MAX:
        errors["name"] = f"must be at most {NAME_MAX} characters"
    kind = _text(data, "kind", errors, required=True)
    if "kind" not in errors and kind not in CHANNEL_KINDS:
        errors["kind"] = f"unknown kind {kind!r}; supported: {', '.join(CHANNEL_KINDS)}"
    settings: dict[str, Any] = {}
    if kind == "webhook":
        url = _text(data, "url", errors, required=True)
        if url and not re.match(r"^https?://[^\s/]+", url):
            errors["url"] = "must be an http:// or https:// URL"
        settings["url"] = url
        headers = data.get("headers")
        if headers is not None:
            if not isinstance(headers, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) and _storable(k + v)
                for k, v in headers.items()
            ):
                errors["headers"] = "must map header names to string values"
            else:
                settings["headers"] = dict(headers)
        timeout = data.get("timeout")
        if timeout is not None:
            try:
                seconds = parse_duration(timeout).total_seconds()
            except (ValueError, TypeError) as exc:
                errors["timeout"] = str(exc)
            else:
                if seconds > 60:
                    errors["timeout"] = "must be at most 60 seconds"
                settings["timeout"] = seconds
    if errors:
        raise ValidationError("invalid channel", errors)
    return ChannelSpec(name=name, kind=kind, settings=settings)
