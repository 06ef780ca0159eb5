"""Request and response bodies of the API, for typing and the OpenAPI document.

Request models only check JSON types; what a value *means* (a duration, a cron expression,
a URL) is judged by ``monitor_spec``/``channel_spec``, the validation ``tocsin apply`` uses
too. Unknown fields are let through to those functions so they are refused in their words.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, WithJsonSchema
from pydantic.config import JsonDict

from tocsin.errors import ValidationError
from tocsin.server.domain.states import ManagedBy, MonitorKind, MonitorState

_DURATION_DOC = 'a duration: "30s", "5m", "2h", "1d", "1w" or a number of seconds'


def _duration_type(value: object) -> object:
    # Only the JSON type is checked here; ``parse_duration`` judges the value.
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError("must be a duration: seconds or like 30s, 5m, 2h, 1d")
    return value


# A duration: "30s", "5m", "2h", "1d", "1w", or a number of seconds (one error, not one per
# member of a union).
Duration = Annotated[
    str | int | float,
    PlainValidator(_duration_type),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": r"^\s*[0-9]+(\.[0-9]+)?\s*[smhdw]?\s*$"},
                {"type": "number", "exclusiveMinimum": 0, "maximum": 366 * 86400},
            ]
        }
    ),
]

# Constraints shown in the OpenAPI document (so clients and schemathesis know them) but
# not enforced by pydantic: ``monitor_spec``/``channel_spec`` enforce them, in their words.
_NAME: JsonDict = {"minLength": 1, "maxLength": 100}
_SLUG: JsonDict = {"pattern": "^[a-z0-9_-]{1,100}$"}
_MONITOR_KIND: JsonDict = {"enum": ["heartbeat", None]}
_CHANNEL_KIND: JsonDict = {"enum": ["webhook"]}
_CHANNEL_KIND_OR_NULL: JsonDict = {"enum": ["webhook", None]}
_URL: JsonDict = {"pattern": "^https?://[^\\s/]+"}


# Unknown fields reach ``monitor_spec``/``channel_spec``, which refuse them by name; the
# OpenAPI document says plainly that they are refused.
_LET_UNKNOWN_THROUGH = ConfigDict(extra="allow", json_schema_extra={"additionalProperties": False})


_MANAGED_BY_DOC = (
    '"api" (the default for new objects) or "config": who owns it. `tocsin apply` marks '
    "what it applies as config."
)


class MonitorIn(BaseModel):
    """A new heartbeat monitor."""

    model_config = _LET_UNKNOWN_THROUGH

    name: str = Field(
        description="unique within the project, at most 100 characters", json_schema_extra=_NAME
    )
    kind: str | None = Field(
        None, description='"heartbeat" (the default)', json_schema_extra=_MONITOR_KIND
    )
    period: Duration | None = Field(
        None, description=f"expected time between pings; {_DURATION_DOC}"
    )
    grace: Duration | None = Field(None, description=f"how late a ping may be; {_DURATION_DOC}")
    cron: str | None = Field(None, description="a cron expression, instead of period")
    timezone: str | None = Field(None, description="IANA time zone of the cron expression")
    slug: str | None = Field(
        None, description="for slug ping URLs; derived from name if absent", json_schema_extra=_SLUG
    )
    desc: str | None = None
    tags: list[str] | None = None
    channels: list[str] | None = Field(None, description="names of channels to alert")
    managed_by: ManagedBy | None = Field(None, description=_MANAGED_BY_DOC)


class MonitorPatch(BaseModel):
    """Changes to a monitor: given fields replace the current values; ``null`` clears one."""

    model_config = _LET_UNKNOWN_THROUGH

    name: str | None = Field(None, json_schema_extra=_NAME)
    kind: str | None = Field(None, json_schema_extra=_MONITOR_KIND)
    period: Duration | None = None
    grace: Duration | None = None
    cron: str | None = None
    timezone: str | None = None
    slug: str | None = Field(None, json_schema_extra=_SLUG)
    desc: str | None = None
    tags: list[str] | None = None
    channels: list[str] | None = None
    managed_by: ManagedBy | None = Field(None, description=_MANAGED_BY_DOC)


class ChannelIn(BaseModel):
    """A new notification channel."""

    model_config = _LET_UNKNOWN_THROUGH

    name: str = Field(json_schema_extra=_NAME)
    kind: str = Field(description='"webhook"', json_schema_extra=_CHANNEL_KIND)
    url: str | None = Field(
        None, description="where a webhook channel POSTs alerts", json_schema_extra=_URL
    )
    headers: dict[str, str] | None = None
    timeout: Duration | None = Field(None, description="at most 60 seconds")
    managed_by: ManagedBy | None = Field(None, description=_MANAGED_BY_DOC)


class ChannelPatch(BaseModel):
    """Changes to a channel: given fields replace the current values; ``null`` clears one."""

    model_config = _LET_UNKNOWN_THROUGH

    name: str | None = Field(None, json_schema_extra=_NAME)
    kind: str | None = Field(None, json_schema_extra=_CHANNEL_KIND_OR_NULL)
    url: str | None = Field(None, json_schema_extra=_URL)
    headers: dict[str, str] | None = None
    timeout: Duration | None = None
    managed_by: ManagedBy | None = Field(None, description=_MANAGED_BY_DOC)


class Monitor(BaseModel):
    """A monitor as the API shows it."""

    uuid: str
    name: str
    slug: str
    kind: MonitorKind
    desc: str
    tags: list[str]
    period: str | None
    period_seconds: float | None
    cron: str | None
    timezone: str
    grace: str
    grace_seconds: float
    state: MonitorState
    last_ping_at: str | None
    last_start_at: str | None
    last_duration_seconds: float | None
    next_deadline: str | None
    n_pings: int
    ping_url: str
    channels: list[str]
    managed_by: ManagedBy
    created_at: str
    updated_at: str


class MonitorList(BaseModel):
    """``GET /monitors``."""

    monitors: list[Monitor]


class Channel(BaseModel):
    """A channel as the API shows it."""

    uuid: str
    name: str
    kind: str
    url: str | None = None
    headers: dict[str, str] | None = None
    timeout: float | None = None
    managed_by: ManagedBy
    created_at: str
    updated_at: str


class ChannelList(BaseModel):
    """``GET /channels``."""

    channels: list[Channel]


class Ping(BaseModel):
    """A received ping."""

    n: int
    created_at: str
    kind: str
    exit_status: int | None
    rid: str | None
    duration_seconds: float | None
    method: str
    scheme: str
    remote_addr: str | None
    user_agent: str | None
    body: str | None
    body_size: int


class PingList(BaseModel):
    """``GET /monitors/{key}/pings``, newest first."""

    pings: list[Ping]


class Flip(BaseModel):
    """A state change and its cause."""

    created_at: str
    old_state: str
    new_state: str
    cause: str


class FlipList(BaseModel):
    """``GET /monitors/{key}/flips``, newest first."""

    flips: list[Flip]


class Error(BaseModel):
    """Every error answer."""

    error: str


class FieldsError(BaseModel):
    """A 422 answer: what was wrong with each field."""

    error: str
    fields: dict[str, str]


def _error(description: str) -> dict[str, Any]:
    return {"model": Error, "description": description}


AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: _error("No API key, or an unknown, malformed or revoked one"),
    500: _error("Internal error (logged on the server)"),
}
WRITE_RESPONSES: dict[int | str, dict[str, Any]] = {
    403: _error("The API key is read-only"),
    422: {"model": FieldsError, "description": "Invalid input; `fields` says what is wrong"},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: _error("No such object")}
CONFLICT: dict[int | str, dict[str, Any]] = {409: _error("The name is already in use")}
INVALID: dict[int | str, dict[str, Any]] = {
    422: {"model": FieldsError, "description": "Invalid parameters; `fields` says what is wrong"}
}


def _bad_text(value: str) -> str | None:
    if "\x00" in value:
        return "must not contain NUL characters"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode text"
    return None


def _find_bad_text(value: Any) -> str | None:
    if isinstance(value, str):
        return _bad_text(value)
    if isinstance(value, Mapping):
        for key, item in value.items():
            problem = _find_bad_text(key) or _find_bad_text(item)
            if problem:
                return problem
    elif isinstance(value, list | tuple):
        for item in value:
            problem = _find_bad_text(item)
            if problem:
                return problem
    return None


def storable_text(data: Mapping[str, Any], what: str) -> None:
    """Refuse text no database can store (NUL characters, unpaired surrogates)."""
    fields: dict[str, str] = {}
    for key, value in data.items():
        problem = _find_bad_text(key) or _find_bad_text(value)
        if problem:
            fields[_printable(str(key))] = problem
    if fields:
        raise ValidationError(f"invalid {what}", fields)


def _printable(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


def usable_key(key: str) -> bool:
    """Whether a path key can be looked up at all (PostgreSQL refuses NUL in text)."""
    return _bad_text(key) is None
