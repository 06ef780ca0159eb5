"""Request bodies, pages and error answers of the API, for the routes and the OpenAPI document.

Request models take any JSON value in every field, so that ``monitor_spec`` /
``channel_spec`` (the validation ``tocsin apply`` uses too) judge the whole body and name
every problem at once, in their words. The schema each field *declares* is what the
server accepts: a client or tool that keeps to the OpenAPI document is not refused, except
by rules a schema cannot state (cron syntax, time zone names, period or cron, channel
names that must exist). Objects are shaped by ``storage.shapes``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema
from pydantic.config import JsonDict, JsonValue

from tocsin.durations import format_duration
from tocsin.errors import NotFoundError, ValidationError
from tocsin.server.domain.alert_policy import (
    DEFAULT_REMIND_MAX,
    DEFAULT_REMIND_MIN_INTERVAL,
    MIN_ESCALATE_AFTER,
    OFF,
)
from tocsin.server.domain.assertion_model import OPERATORS, Severity, Subject
from tocsin.server.domain.channel_spec import (
    ADDRESS_MAX,
    ADDRESSES_MAX,
    CHANNEL_KINDS,
    EMAIL_PATTERN,
    KIND_SETTINGS,
    SECRET_MIN,
)
from tocsin.server.domain.confirmation import MAX_COUNT
from tocsin.server.domain.fields import HEADER_NAME
from tocsin.server.domain.flapping import MAX_CHANGES, MAX_WITHIN, MIN_CHANGES
from tocsin.server.domain.probe_spec import (
    KIND_FIELDS,
    MAX_INTERVAL,
    MAX_REDIRECTS,
    METHODS,
    PROBE_FIELDS,
)
from tocsin.server.domain.spec import HEARTBEAT_FIELDS, MONITOR_FIELDS, NAME_MAX
from tocsin.server.domain.states import ManagedBy, MonitorKind
from tocsin.server.storage.shapes import ChannelOut, FlipOut, MonitorOut, PingOut

T = TypeVar("T")

MAX_DURATION_SECONDS = 366 * 86400
MAX_TIMEOUT_SECONDS = 60
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _one_to(n: int) -> str:
    """A regex alternation for the whole numbers 1 to ``n``, without leading zeros."""
    digits = str(n)
    parts = [f"[1-9][0-9]{{0,{len(digits) - 2}}}"] if len(digits) > 1 else []
    for i, digit in enumerate(digits):
        low, high = (1 if i == 0 else 0), int(digit) - 1
        if high >= low:
            rest = len(digits) - i - 1
            parts.append(f"{digits[:i]}[{low}-{high}]" + (f"[0-9]{{{rest}}}" if rest else ""))
    parts.append(digits)
    return "|".join(parts)


def _amount(most: int, *, whole: bool = False) -> str:
    """A regex for decimal numbers from 0.000001 (``whole``: from 1) to ``most``
    (leading zeros allowed)."""
    below = f"0*(?:{_one_to(most - 1)})(?:\\.[0-9]+)?|" if most > 1 else ""
    # Below 1: a digit other than 0 among the first six decimals (a microsecond at least).
    fraction = "" if whole else "|0+\\.[0-9]{0,5}[1-9][0-9]*"
    return f"{below}0*{most}(?:\\.0+)?{fraction}"


def duration_schema(most_seconds: int, *, at_least_a_second: bool = False) -> JsonDict:
    """The JSON schema of a duration the server accepts: from a microsecond (or a second)
    to ``most_seconds``, as a number or as text like ``"500ms"``, ``"30s"``, ``"5m"``,
    ``"2h"``, ``"1d"``.

    With ``at_least_a_second``, text must count at least one of its unit (``"0.5m"`` is
    left out though the server takes it: a regex cannot compare across units), and
    milliseconds are left out; otherwise they count at least one (``"0.5ms"`` is left
    out for the same reason)."""
    spellings = [
        f"(?:{_amount(most_seconds // size, whole=at_least_a_second)}) *{unit}"
        + ("?" if unit == "s" else "")
        for unit, size in _UNITS.items()
        if most_seconds // size >= 1
    ]
    if not at_least_a_second:
        spellings.append(f"(?:{_amount(most_seconds * 1000, whole=True)}) *ms")
    return {
        "anyOf": [
            {"type": "string", "pattern": f"^ *(?:{'|'.join(spellings)}) *$"},
            {
                "type": "number",
                "minimum": 1 if at_least_a_second else 0.000001,
                "maximum": most_seconds,
            },
        ]
    }


def _or_null(schema: JsonDict) -> JsonDict:
    return {"anyOf": [schema, {"type": "null"}]}


_NO_NUL = "^[^\\u0000]*$"
# Not white space to Python (which trims names and URLs) nor to JSON Schema's regexes,
# which differ on \x1c-\x1f and \x85; and not NUL.
_BLANK = "\\s\\u0000\\u001c-\\u001f\\u0085"
# Something besides white space (names are trimmed), and no NUL: for every name, in a
# body or in a path.
NAME_PATTERN = f"^[^\\u0000]*[^{_BLANK}][^\\u0000]*$"
_TEXT: JsonDict = {"type": "string", "pattern": _NO_NUL}
_NAME: JsonDict = {
    "type": "string",
    "minLength": 1,
    "maxLength": NAME_MAX,
    "pattern": NAME_PATTERN,
}
# Each item is trimmed, so it needs something besides white space.
_NAMES: JsonDict = {"type": "array", "items": {"type": "string", "pattern": NAME_PATTERN}}
_SLUG: JsonDict = {"type": "string", "pattern": "^[a-z0-9_-]{1,100}$"}
_URL: JsonDict = {"type": "string", "pattern": f"^https?://[^/{_BLANK}][^\\u0000]*$"}
# Any scheme: an Apprise URL (tgram://..., pagerduty://...), or http(s) for the others.
_ANY_URL: JsonDict = {"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9+.-]*://[^\\u0000]*$"}
_ADDRESSES: JsonDict = {
    "type": "array",
    "items": {"type": "string", "pattern": EMAIL_PATTERN, "maxLength": ADDRESS_MAX},
    "minItems": 1,
    "maxItems": ADDRESSES_MAX,
}
_SECRET: JsonDict = {"type": "string", "minLength": SECRET_MIN, "pattern": _NO_NUL}
_HEADERS: JsonDict = {"type": "object", "additionalProperties": _TEXT, "propertyNames": _TEXT}
_OWNERS = tuple(owner.value for owner in ManagedBy)
_OWNER: JsonDict = {"type": "string", "enum": [*_OWNERS]}

# Each type below accepts any JSON value (the spec functions judge it) and declares the
# schema the server accepts.
Name = Annotated[Any, WithJsonSchema(_NAME)]
Text = Annotated[Any, WithJsonSchema(_or_null(_TEXT))]
Names = Annotated[Any, WithJsonSchema(_or_null(_NAMES))]
SomeNames = Annotated[Any, WithJsonSchema({**_NAMES, "minItems": 1})]
Slug = Annotated[Any, WithJsonSchema(_or_null(_SLUG))]
MonitorKindText = Annotated[
    Any, WithJsonSchema(_or_null({"enum": [kind.value for kind in MonitorKind]}))
]
ChannelKindText = Annotated[Any, WithJsonSchema({"type": "string", "enum": [*CHANNEL_KINDS]})]
Duration = Annotated[Any, WithJsonSchema(_or_null(duration_schema(MAX_DURATION_SECONDS)))]
Timeout = Annotated[Any, WithJsonSchema(_or_null(duration_schema(MAX_TIMEOUT_SECONDS)))]
AnyUrl = Annotated[Any, WithJsonSchema(_ANY_URL)]
Addresses = Annotated[Any, WithJsonSchema(_or_null(_ADDRESSES))]
Secret = Annotated[Any, WithJsonSchema(_or_null(_SECRET))]
Headers = Annotated[Any, WithJsonSchema(_or_null(_HEADERS))]
Owner = Annotated[Any, WithJsonSchema(_or_null(_OWNER))]
Flag = Annotated[Any, WithJsonSchema(_or_null({"type": "boolean"}))]
Port = Annotated[Any, WithJsonSchema({"type": "integer", "minimum": 1, "maximum": 65535})]

# Probed monitors. URLs: http(s), a host urlsplit reads (no user info, IPv6 or port
# above 9999, which it may refuse), no white space anywhere.
_PROBE_URL: JsonDict = {
    "type": "string",
    "pattern": f"^https?://[A-Za-z0-9._~%!$&'()*+,;=-]+(?::[0-9]{{1,4}})?(?:[/?#][^{_BLANK}]*)?$",
}
_HEADER_NAME = f"^{HEADER_NAME.pattern}$"


def _with_placeholders(refused: str = "") -> JsonDict:
    """Text whose ``${NAME}`` / ``${NAME:-default}`` placeholders are all well formed
    (``$`` alone is fine; ``$$`` is left out), without NUL nor ``refused`` characters."""
    plain = f"\\u0000{refused}"
    placeholder = f"\\$\\{{[A-Za-z_][A-Za-z0-9_]*(?::-[^}}{plain}]*)?\\}}"
    return {
        "type": "string",
        "pattern": f"^(?:[^${plain}]|\\$[^{{${plain}]|{placeholder})*\\$?$",
    }


_PROBE_HEADERS: JsonDict = {
    "type": "object",
    "propertyNames": {"type": "string", "pattern": _HEADER_NAME},
    "additionalProperties": _with_placeholders("\\r\\n"),
}
_PROBE_DURATION = duration_schema(MAX_DURATION_SECONDS, at_least_a_second=True)
_THRESHOLD: JsonDict = {
    "type": "string",
    "pattern": "^ *(?:==|!=|<=|>=|<|>) *-?[0-9]+(?:\\.[0-9]+)? *$",
}
_COUNT: JsonDict = {"type": "integer", "minimum": 1, "maximum": MAX_COUNT}


_SCALAR: JsonDict = {"anyOf": [{"type": ["number", "boolean", "null"]}, _TEXT]}
# A scalar, or a list of them for `in`.
_ASSERTION_VALUE: JsonDict = {"anyOf": [_SCALAR, {"type": "array", "items": _SCALAR}]}


def _assertion_object(subject: Subject) -> JsonDict:
    """The structured form of an assertion on ``subject``: its operators, and the header
    name or JSON path it needs. Values are judged by the server (they depend on the
    operator)."""
    properties: JsonDict = {
        "subject": {"const": subject.value},
        "op": {"enum": [op.value for op in OPERATORS[subject]]},
        "value": _ASSERTION_VALUE,
        "severity": {"enum": [*(level.value for level in Severity), None]},
    }
    required: list[JsonValue] = ["subject", "op"]
    if subject is Subject.HEADER:
        properties["name"] = {"type": "string", "pattern": _HEADER_NAME}
        required.append("name")
    if subject is Subject.JSON:
        properties["path"] = {
            "type": "string",
            "pattern": _NO_NUL,
            "description": "a JSON path like $.version",
        }
        required.append("path")
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


Url = Annotated[Any, WithJsonSchema(_PROBE_URL)]
Method = Annotated[Any, WithJsonSchema({"type": "string", "enum": [*METHODS]})]
ProbeHeaders = Annotated[Any, WithJsonSchema(_or_null(_PROBE_HEADERS))]
ProbeBody = Annotated[Any, WithJsonSchema(_or_null(_with_placeholders()))]
# MIN_INTERVAL is the second that ``at_least_a_second`` states.
Interval = Annotated[
    Any,
    WithJsonSchema(
        _or_null(duration_schema(int(MAX_INTERVAL.total_seconds()), at_least_a_second=True))
    ),
]
RetryInterval = Annotated[Any, WithJsonSchema(_or_null(_PROBE_DURATION))]
# 0 is "no jitter"; the shortest of interval and retry interval bounds it (not stated).
Jitter = Annotated[
    Any,
    WithJsonSchema(
        _or_null({"anyOf": [{"const": 0}, duration_schema(int(MAX_INTERVAL.total_seconds()))]})
    ),
]
Host = Annotated[
    Any, WithJsonSchema({"type": "string", "pattern": "^[A-Za-z0-9._:\\[\\]-]{1,253}$"})
]
Redirects = Annotated[
    Any,
    WithJsonSchema(
        _or_null(
            {
                "anyOf": [
                    {"type": "boolean"},
                    {"type": "integer", "minimum": 0, "maximum": MAX_REDIRECTS},
                ]
            }
        )
    ),
]
# Either form of an assertion: "status == 200", or {"subject": ..., "op": ..., ...}.
Assertions = Annotated[
    Any,
    WithJsonSchema(
        _or_null(
            {
                "type": "array",
                "items": {
                    "anyOf": [
                        {
                            "type": "string",
                            "pattern": _NAME["pattern"],
                            "description": 'the short form, e.g. "status == 200"',
                        },
                        {"oneOf": [_assertion_object(subject) for subject in Subject]},
                    ]
                },
            }
        )
    ),
]
Thresholds = Annotated[
    Any,
    WithJsonSchema(
        _or_null(
            {
                "type": "object",
                # component:measurement, optionally [componentId]
                "propertyNames": {
                    "type": "string",
                    "pattern": f"^[^{_BLANK}:\\[\\]]+:[^{_BLANK}:\\[\\]]+"
                    "(?:\\[[^\\u0000\\[\\]]+\\])?$",
                },
                "additionalProperties": {
                    "type": "object",
                    "properties": {"warn": _THRESHOLD, "fail": _THRESHOLD},
                    "minProperties": 1,
                    "additionalProperties": False,
                },
            }
        )
    ),
]
Confirm = Annotated[
    Any,
    WithJsonSchema(
        _or_null(
            {
                "type": "object",
                "properties": {"fail": _COUNT, "recover": _COUNT, "retry": _PROBE_DURATION},
                "additionalProperties": False,
            }
        )
    ),
]


def _at_least(least: int) -> JsonDict:
    """Durations from ``least`` seconds (a whole number of minutes) to the longest one:
    seconds as a number, or text in whole minutes from ``least``, in hours or in days.
    Other spellings the server takes too ("1w", "600s") are left out: a regex cannot
    compare across units."""
    minutes = least // 60
    low = "|".join(str(n) for n in range(minutes, 60))
    most = MAX_DURATION_SECONDS
    text = (
        f"0*(?:{low}) *m|(?:{_amount(most // 3600, whole=True)}) *h"
        f"|(?:{_amount(most // 86400, whole=True)}) *d"
    )
    return {
        "anyOf": [
            {"type": "string", "pattern": f"^ *(?:{text}) *$"},
            {"type": "number", "minimum": least, "maximum": most},
        ]
    }


def _whole(low: int, high: int) -> JsonDict:
    # An enum rather than integer bounds: JSON Schema's integers include 3.0, which the
    # server refuses (it wants 3).
    return {"type": "integer", "enum": list(range(low, high + 1))}


_OFF: JsonDict = {"enum": [OFF, False], "description": "off (also turns a default off)"}
_REMIND_EVERY = _at_least(int(DEFAULT_REMIND_MIN_INTERVAL.total_seconds()))
_REMIND: JsonDict = {
    "anyOf": [
        _REMIND_EVERY,
        {
            "type": "object",
            "properties": {"every": _REMIND_EVERY, "max": _whole(1, DEFAULT_REMIND_MAX)},
            "required": ["every"],
            "additionalProperties": False,
        },
        _OFF,
    ]
}
_ESCALATE: JsonDict = {
    "anyOf": [
        {
            "type": "object",
            "properties": {
                "after": _at_least(int(MIN_ESCALATE_AFTER.total_seconds())),
                "channels": {**_NAMES, "minItems": 1},
            },
            "required": ["after", "channels"],
            "additionalProperties": False,
        },
        _OFF,
    ]
}
_FLAPPING: JsonDict = {
    "anyOf": [
        {
            "type": "object",
            "properties": {
                "changes": _whole(MIN_CHANGES, MAX_CHANGES),
                "within": duration_schema(int(MAX_WITHIN.total_seconds())),
            },
            "additionalProperties": False,
        },
        _OFF,
    ]
}
Remind = Annotated[Any, WithJsonSchema(_or_null(_REMIND))]
Escalate = Annotated[Any, WithJsonSchema(_or_null(_ESCALATE))]
Flapping = Annotated[Any, WithJsonSchema(_or_null(_FLAPPING))]

_DURATION_DOC = 'a duration: "500ms", "30s", "5m", "2h", "1d", "1w" or a number of seconds'
_MANAGED_BY_DOC = (
    '"api" (the default for new objects) or "config": who owns it. `tocsin apply` marks '
    "what it applies as config."
)


def _kind_variants() -> list[JsonDict]:
    """What each channel kind requires and refuses, as ``oneOf`` branches keyed by kind."""
    settings = frozenset().union(*KIND_SETTINGS.values())
    variants: list[JsonDict] = []
    for kind, takes in KIND_SETTINGS.items():
        properties: JsonDict = {"kind": {"const": kind}}
        properties |= dict.fromkeys(sorted(settings - takes), False)
        if "url" in takes and kind != "apprise":
            properties["url"] = _URL
        if "to" in takes:
            properties["to"] = _ADDRESSES  # required, so not null
        variants.append({"properties": properties, "required": ["to" if "to" in takes else "url"]})
    return variants


def body_config(
    *required: str,
    variants: list[JsonDict] | None = None,
    reshape: Callable[[JsonDict], None] | None = None,
) -> ConfigDict:
    """Unknown fields reach the spec functions, which refuse them by name; the document
    says plainly that they are refused, which fields are required, and (``variants``)
    the shapes the body may take; ``reshape`` rewrites the finished schema."""

    def finish(schema: JsonDict, _model: type[Any]) -> None:
        if variants:
            schema["oneOf"] = list(variants)
        schema["additionalProperties"] = False
        if required:
            schema["required"] = list(required)
        properties = schema.get("properties")
        if isinstance(properties, dict):
            for prop in properties.values():
                if isinstance(prop, dict):
                    prop.pop("default", None)  # "absent", not null, is the default
        if reshape is not None:
            reshape(schema)

    return ConfigDict(extra="allow", json_schema_extra=finish)


# What each probed kind cannot do without (probe_spec says "is required for ...").
_PROBE_REQUIRED = {
    MonitorKind.HTTP: ("url",),
    MonitorKind.APP: ("url",),
    MonitorKind.TCP: ("host", "port"),
}
_EVERY_KIND = (MONITOR_FIELDS - PROBE_FIELDS - HEARTBEAT_FIELDS) | {"managed_by"}


def _monitor_variant(kind: MonitorKind, properties: JsonDict) -> JsonDict:
    """A new monitor of ``kind``: exactly its fields (a heartbeat's ``kind`` may be left out)."""
    fields = _EVERY_KIND | (KIND_FIELDS[kind] if kind.probed else HEARTBEAT_FIELDS)
    chosen: JsonDict = {"name": properties["name"]}
    required: list[JsonValue] = ["name"]
    if kind.probed:
        chosen["kind"] = {"const": kind.value}
        required += ["kind", *_PROBE_REQUIRED[kind]]
    else:
        chosen["kind"] = {"enum": [kind.value, None], "description": "the default kind"}
    chosen |= {name: prop for name, prop in properties.items() if name in fields - {"kind"}}
    return {
        "title": f"{kind} monitor",
        "type": "object",
        "properties": chosen,
        "required": required,
        "additionalProperties": False,
    }


def _by_monitor_kind(schema: JsonDict) -> None:
    """One ``oneOf`` variant per kind in place of the fields of every kind together."""
    properties = schema.pop("properties")
    if not isinstance(properties, dict):
        raise TypeError("a request model has properties")
    del schema["required"], schema["additionalProperties"]
    schema["oneOf"] = [_monitor_variant(kind, properties) for kind in MonitorKind]


class _PolicyFields(BaseModel):
    """The alert policy's keys, which every kind takes (docs/alert-policy.md)."""

    notify_on_recovery: Flag = Field(None, description="alert when it recovers (default true)")
    remind: Remind = Field(
        None,
        description=f"repeat the down alert while down: a duration of at least "
        f"{format_duration(DEFAULT_REMIND_MIN_INTERVAL)}, or {{every, max}} (max at most "
        f"{DEFAULT_REMIND_MAX}), or off",
    )
    escalate: Escalate = Field(
        None,
        description="after `after` down, alert `channels` too: {after: 1h, channels: [pager]}, "
        "or off",
    )
    flapping: Flapping = Field(
        None,
        description="flapping once `changes` state changes fall within `within` (default "
        "{changes: 5, within: 30m}), or off",
    )
    depends_on: Names = Field(
        None, description="names of monitors; while one is down this one does not page"
    )


class _ProbeFields(_PolicyFields):
    """The fields of probed monitors (``http``, ``app``, ``tcp``)."""

    url: Url = Field(None, description="http and app: the URL to probe (http:// or https://)")
    method: Method = Field(None, description='http and app: "GET" (the default), "POST", ...')
    headers: ProbeHeaders = Field(
        None,
        description="http and app: request headers; ${NAME} is filled from the server's "
        "environment at each probe (read-only keys see values masked)",
    )
    body: ProbeBody = Field(None, description="http and app: the request body (${NAME} allowed)")
    timeout: Timeout = Field(None, description=f"probes: default 10s, at most 60s; {_DURATION_DOC}")
    interval: Interval = Field(
        None, description=f"probes: default 60s, from 1s to 1d; {_DURATION_DOC}"
    )
    retry_interval: RetryInterval = Field(
        None, description="probes: time between checks while failing, not yet down (10s)"
    )
    jitter: Jitter = Field(
        None,
        description="probes: start each check up to this much late; shorter than the "
        "interval and the retry interval",
    )
    follow_redirects: Redirects = Field(
        None, description="http and app: true (up to 10 hops), false, or the most hops"
    )
    verify_tls: Flag = Field(None, description="probes: verify TLS certificates (default true)")
    assert_: Assertions = Field(
        None,
        alias="assert",
        description='http and app: assertions, e.g. "status == 200", "response_time < 800ms"',
    )
    components: Thresholds = Field(
        None, description='app: thresholds per check key, e.g. {"rq:workers": {"fail": "< 1"}}'
    )
    confirm: Confirm = Field(
        None, description="probes: down after `fail` failing checks, up after `recover` passing"
    )
    host: Host = Field(None, description="tcp: the host to connect to")
    port: Port = Field(None, description="tcp: the port")
    tls: Flag = Field(None, description="tcp: complete a TLS handshake too")
    paused: Flag = Field(None, description="create or keep the monitor paused")


class MonitorIn(_ProbeFields):
    """A new monitor: a heartbeat (``period``/``cron``, ``grace``) or a probe (``http``,
    ``app``: ``url``, assertions; ``tcp``: ``host``, ``port``)."""

    model_config = body_config("name", reshape=_by_monitor_kind)

    name: Name = Field(None, description="unique within the project, at most 100 characters")
    kind: MonitorKindText = Field(None, description='"heartbeat" (the default)')
    period: Duration = Field(None, description=f"expected time between pings; {_DURATION_DOC}")
    grace: Duration = Field(None, description=f"how late a ping may be; {_DURATION_DOC}")
    cron: Text = Field(None, description="a cron expression, instead of period")
    timezone: Text = Field(None, description="IANA time zone of the cron expression")
    slug: Slug = Field(None, description="for slug ping URLs; derived from name if absent")
    desc: Text = None
    tags: Names = None
    channels: Names = Field(None, description="names of channels to alert")
    managed_by: Owner = Field(None, description=_MANAGED_BY_DOC)


class MonitorPatch(_ProbeFields):
    """Changes to a monitor: given fields replace the current values; ``null`` clears one."""

    model_config = body_config()

    name: Name = None
    kind: MonitorKindText = None
    period: Duration = None
    grace: Duration = None
    cron: Text = None
    timezone: Text = None
    slug: Slug = None
    desc: Text = None
    tags: Names = None
    channels: Names = None
    managed_by: Owner = Field(None, description=_MANAGED_BY_DOC)


_KINDS_DOC = ", ".join(f'"{kind}"' for kind in CHANNEL_KINDS)
_URL_DOC = (
    "webhook, slack, discord: the http(s) URL to POST to; apprise: any Apprise URL "
    "(checked by Apprise); not for email"
)
_TO_DOC = "email only: the addresses alerts go to"
_HEADERS_DOC = "webhook only: extra request headers"
_SECRET_DOC = (
    f"webhook only: signs each request (X-Tocsin-Signature), at least {SECRET_MIN} characters"
)
_TIMEOUT_DOC = "at most 60 seconds (default 10)"


class ChannelIn(BaseModel):
    """A new notification channel; which settings it takes depends on its kind."""

    model_config = body_config("name", "kind", variants=_kind_variants())

    name: Name = None
    kind: ChannelKindText = Field(None, description=_KINDS_DOC)
    url: AnyUrl = Field(None, description=_URL_DOC)
    to: Addresses = Field(None, description=_TO_DOC)
    headers: Headers = Field(None, description=_HEADERS_DOC)
    secret: Secret = Field(None, description=_SECRET_DOC)
    timeout: Timeout = Field(None, description=_TIMEOUT_DOC)
    managed_by: Owner = Field(None, description=_MANAGED_BY_DOC)


class ChannelPatch(BaseModel):
    """Changes to a channel: given fields replace the current values; ``null`` clears one.
    A new ``kind`` drops the settings it does not take."""

    model_config = body_config()

    name: Name = None
    kind: ChannelKindText = None
    url: AnyUrl = None
    to: Addresses = None
    headers: Headers = None
    secret: Secret = None
    timeout: Timeout = None
    managed_by: Owner = Field(None, description=_MANAGED_BY_DOC)


_NEXT_DOC = "the next page's URL (also in the `Link` header); null on the last page"


class MonitorPage(BaseModel):
    """``GET /monitors``: a page of monitors, by name."""

    monitors: list[MonitorOut]
    next: str | None = Field(description=_NEXT_DOC)


class ChannelPage(BaseModel):
    """``GET /channels``: a page of channels, by name."""

    channels: list[ChannelOut]
    next: str | None = Field(description=_NEXT_DOC)


class PingPage(BaseModel):
    """``GET /monitors/{key}/pings``: a page of pings, newest first."""

    pings: list[PingOut]
    next: str | None = Field(description=_NEXT_DOC)


class FlipPage(BaseModel):
    """``GET /monitors/{key}/flips``: a page of state changes, newest first."""

    flips: list[FlipOut]
    next: str | None = Field(description=_NEXT_DOC)


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


def _printable(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


def unstorable_text(data: Mapping[str, Any]) -> dict[str, str]:
    """The fields holding text no database can store (NUL, unpaired surrogates)."""
    fields: dict[str, str] = {}
    for key, value in data.items():
        problem = _find_bad_text(key) or _find_bad_text(value)
        if problem:
            fields[_printable(str(key))] = problem
    return fields


def take_owner(data: dict[str, Any], fields: dict[str, str]) -> ManagedBy | None:
    """Remove ``managed_by`` from ``data`` and return it (``None`` if absent or null); a
    bad value is added to ``fields``."""
    value = data.pop("managed_by", None)
    if value is None:
        return None
    if isinstance(value, str) and value in _OWNERS:
        return ManagedBy(value)
    fields["managed_by"] = f"must be one of {', '.join(_OWNERS)}"
    return None


def validated(what: str, fields: dict[str, str], check: Callable[[], T]) -> T:
    """``check()`` (a spec function), with every problem it finds and every problem in
    ``fields`` refused at once; ``fields`` wins where both name a field."""
    try:
        result = check()
    except ValidationError as exc:
        raise ValidationError(exc.message, exc.fields | fields) from None
    if fields:
        raise ValidationError(f"invalid {what}", fields)
    return result


def usable_key(key: str, what: str) -> str:
    """``key``, if it can be looked up at all; else ``NotFoundError("no such <what>")``:
    nothing stored has such a key, and PostgreSQL refuses NUL in text."""
    if _bad_text(key) is not None:
        raise NotFoundError(f"no such {what}")
    return key
