"""The monitor form's fields, both ways: a monitor's description (the dict the API and
``tocsin.yaml`` take) to what the form shows, and a posted form back to a description.

Nothing here decides whether a value is valid: a typed value goes to ``monitor_spec`` as
the user wrote it (digits become numbers, as YAML would read them) and its problems come
back keyed by field. Only the form's own line syntax is checked here: ``Name: value`` for
headers and ``key: warn > 500, fail > 2000`` for component thresholds.

In a post, a field that is present but blank means its default; a field that is absent
keeps its current value when editing. Checkboxes follow a hidden field of the same name
(``0``), so an unticked box is present too; a group of channel checkboxes follows a
hidden blank value for the same reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from tocsin.durations import format_duration
from tocsin.server.domain.states import MonitorKind

FormLists = Mapping[str, Sequence[str]]

TEXT_FIELDS = (
    "name",
    "slug",
    "kind",
    "desc",
    "tags",
    "depends_on",
    "url",
    "method",
    "headers",
    "body",
    "max_redirects",
    "assert",
    "components",
    "host",
    "port",
    "interval",
    "timeout",
    "retry_interval",
    "jitter",
    "confirm_fail",
    "confirm_recover",
    "period",
    "grace",
    "cron",
    "timezone",
    "remind",
    "remind_max",
    "escalate_after",
    "flapping_changes",
    "flapping_within",
)
FLAG_FIELDS = ("follow_redirects", "verify_tls", "tls", "notify_on_recovery", "flapping", "paused")
CHOICE_FIELDS = ("channels", "escalate_channels")
FORM_FIELDS = frozenset((*TEXT_FIELDS, *FLAG_FIELDS, *CHOICE_FIELDS))

_POLICY = {"depends_on", "notify_on_recovery", "remind", "escalate", "flapping"}
_COMMON = {"name", "slug", "desc", "tags", "channels", "paused", *_POLICY}
_PROBED = {"interval", "timeout", "retry_interval", "jitter", "confirm", "verify_tls"}
_HTTP = {"url", "method", "headers", "body", "follow_redirects", "assert", *_PROBED}
_KEYS: dict[MonitorKind, frozenset[str]] = {
    MonitorKind.HEARTBEAT: frozenset({*_COMMON, "period", "grace", "cron", "timezone"}),
    MonitorKind.HTTP: frozenset({*_COMMON, *_HTTP}),
    MonitorKind.APP: frozenset({*_COMMON, *_HTTP, "components"}),
    MonitorKind.TCP: frozenset({*_COMMON, *_PROBED, "host", "port", "tls"}),
}
# The description key each form field feeds (the rest feed the key of their own name).
_FEEDS = {
    "max_redirects": "follow_redirects",
    "confirm_fail": "confirm",
    "confirm_recover": "confirm",
    "remind_max": "remind",
    "escalate_after": "escalate",
    "escalate_channels": "escalate",
    "flapping_changes": "flapping",
    "flapping_within": "flapping",
}
# Problems under these description keys belong to one form field, shown without the key.
_ERROR_FIELDS = {
    "confirm": "confirm_fail",
    "confirm.fail": "confirm_fail",
    "confirm.recover": "confirm_recover",
    "confirm.retry": "retry_interval",
    "follow_redirects": "max_redirects",
    "remind.every": "remind",
    "remind.max": "remind_max",
    "escalate": "escalate_after",
    "escalate.after": "escalate_after",
    "escalate.channels": "escalate_channels",
    "flapping.changes": "flapping_changes",
    "flapping.within": "flapping_within",
}
DURATIONS = ("period", "grace", "interval", "timeout", "retry_interval", "jitter")


def blank_values() -> dict[str, Any]:
    """The form for a new monitor: an http monitor with the defaults shown."""
    values: dict[str, Any] = dict.fromkeys(TEXT_FIELDS, "")
    values |= {"kind": MonitorKind.HTTP.value, "method": "GET", "interval": "60s"}
    values |= {"follow_redirects": True, "verify_tls": True, "tls": False}
    values |= {"notify_on_recovery": True, "flapping": True, "paused": False}
    return values | {"channels": [], "escalate_channels": []}


def shown_values(current: Mapping[str, Any], assertions: Sequence[str]) -> dict[str, Any]:
    """The form of a monitor whose description is ``current`` (as the API merges it) and
    whose assertions read ``assertions``."""
    values = blank_values() | {"interval": ""}
    for key in ("name", "slug", "kind", "desc", "url", "method", "host", "cron", "timezone"):
        values[key] = _text(current.get(key))
    for key in DURATIONS:
        values[key] = _duration(current.get(key))
    values["port"] = _text(current.get("port"))
    values["tags"] = ", ".join(current.get("tags") or ())
    values["depends_on"] = ", ".join(current.get("depends_on") or ())
    values["channels"] = list(current.get("channels") or ())
    values["assert"] = "\n".join(assertions)
    headers = current.get("headers") or {}
    values["headers"] = "\n".join(f"{name}: {value}" for name, value in headers.items())
    values["body"] = _text(current.get("body"))
    components = current.get("components") or {}
    values["components"] = "\n".join(
        f"{key}: {', '.join(f'{level} {text}' for level, text in levels.items())}"
        for key, levels in components.items()
    )
    redirects = current.get("follow_redirects", True)
    values["follow_redirects"] = redirects is not False
    values["max_redirects"] = _text(redirects) if isinstance(redirects, int) else ""
    for key in ("verify_tls", "notify_on_recovery"):
        values[key] = current.get(key, True) is not False
    values["tls"] = bool(current.get("tls"))
    confirm = current.get("confirm") or {}
    values["confirm_fail"] = _text(confirm.get("fail"))
    values["confirm_recover"] = _text(confirm.get("recover"))
    remind = current.get("remind")
    if isinstance(remind, Mapping):
        values["remind"], values["remind_max"] = (
            _text(remind.get("every")),
            _text(remind.get("max")),
        )
    elif remind not in (None, False, "off"):
        values["remind"] = _duration(remind)
    escalate = current.get("escalate")
    if isinstance(escalate, Mapping):
        values["escalate_after"] = _duration(escalate.get("after"))
        values["escalate_channels"] = list(escalate.get("channels") or ())
    flapping = current.get("flapping")
    values["flapping"] = flapping not in (False, "off")
    if isinstance(flapping, Mapping):
        values["flapping_changes"] = _text(flapping.get("changes"))
        values["flapping_within"] = _duration(flapping.get("within"))
    return values


def posted_values(form: FormLists) -> dict[str, Any]:
    """What the user posted, to show it again next to its problems."""
    values = blank_values()
    for key in TEXT_FIELDS:
        if key in form:
            values[key] = form[key][-1]
    for key in FLAG_FIELDS:
        if key in form:
            values[key] = form[key][-1] == "1"
    for key in CHOICE_FIELDS:
        if key in form:
            values[key] = [value for value in form[key] if value]
    return values


def description(form: FormLists) -> tuple[dict[str, Any], dict[str, str]]:
    """The description a posted form gives (only the keys of the chosen kind whose fields
    were posted), and the problems with the form's own line syntax, by field."""
    kind_text = _last(form, "kind")
    kind = MonitorKind(kind_text) if kind_text in {k.value for k in MonitorKind} else None
    wanted = _KEYS[kind] if kind is not None else _COMMON
    posted = {_FEEDS.get(field, field) for field in form if field in FORM_FIELDS}
    problems: dict[str, str] = {}
    data: dict[str, Any] = {}
    if kind_text is not None:
        data["kind"] = kind_text.strip()
    for key in sorted(wanted & posted):
        data[key] = _READERS.get(key, _plain)(form, key, problems)
    return data, problems


def error_fields(errors: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """Each problem placed at the form field it is about (``{field: message}``), and those
    about no field of the form (shown above it)."""
    by_field: dict[str, list[str]] = {}
    general: list[str] = []
    for key, text in errors.items():
        field = _ERROR_FIELDS.get(key)
        if field is not None:
            by_field.setdefault(field, []).append(text)
            continue
        base = key.split("[")[0].split(".")[0]
        field = "escalate_channels" if key.startswith("escalate.channels") else base
        if field in FORM_FIELDS:
            by_field.setdefault(field, []).append(text if key == field else f"{key}: {text}")
        else:
            general.append(f"{key}: {text}")
    return {field: "; ".join(texts) for field, texts in by_field.items()}, general


def _text(value: Any) -> str:
    return "" if value is None or isinstance(value, bool) else str(value)


def _duration(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return format_duration(timedelta(seconds=value))
    return _text(value)


def _last(form: FormLists, key: str) -> str | None:
    values = form.get(key)
    return values[-1] if values else None


def _typed(form: FormLists, key: str) -> str | int | None:
    """A one-line field: ``None`` when blank, a number when it is digits."""
    text = (_last(form, key) or "").strip()
    if not text:
        return None
    return int(text) if text.isascii() and text.isdigit() else text


def _flag(form: FormLists, key: str) -> bool | None:
    value = _last(form, key)
    return None if value is None else value == "1"


def _choices(form: FormLists, key: str) -> list[str]:
    return [value for value in form.get(key, ()) if value.strip()]


def _items(text: str) -> list[str]:
    return [item.strip() for line in text.splitlines() for item in line.split(",") if item.strip()]


def _lines(text: str) -> list[tuple[int, str]]:
    return [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1) if line.strip()]


def _plain(form: FormLists, key: str, problems: dict[str, str]) -> Any:
    if key in {"tags", "depends_on"}:
        return _items(_last(form, key) or "") or None
    if key == "channels":
        return _choices(form, key) or None
    if key in {"verify_tls", "tls", "notify_on_recovery", "paused"}:
        return _flag(form, key)
    if key == "desc":
        return _last(form, key) or ""
    if key == "port":
        return _typed(form, key)
    return (_last(form, key) or "").strip() or None


def _assertions(form: FormLists, key: str, problems: dict[str, str]) -> Any:
    return [line for _, line in _lines(_last(form, key) or "")] or None


def _body(form: FormLists, key: str, problems: dict[str, str]) -> Any:
    # Browsers post a textarea's line breaks as CRLF; a body from tocsin.yaml has LF.
    text = (_last(form, key) or "").replace("\r\n", "\n")
    return text or None


def _headers(form: FormLists, key: str, problems: dict[str, str]) -> Any:
    headers: dict[str, str] = {}
    bad: list[str] = []
    for n, line in _lines(_last(form, key) or ""):
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            bad.append(f"line {n}: write one header a line, as Name: value")
            continue
        headers[name.strip()] = value.strip()
    if bad:
        problems["headers"] = "; ".join(bad)
    return headers or None


def _components(form: FormLists, key: str, problems: dict[str, str]) -> Any:
    rules: dict[str, dict[str, str]] = {}
    bad: list[str] = []
    for n, line in _lines(_last(form, key) or ""):
        # The key holds colons (rq:workers); thresholds never do.
        name, colon, rest = line.rpartition(":")
        levels: dict[str, str] = {}
        for part in rest.split(","):
            level, _, threshold = part.strip().partition(" ")
            if level and threshold.strip():
                levels[level] = threshold.strip()
            else:
                levels = {}
                break
        if not colon or not name.strip() or not levels:
            bad.append(f"line {n}: write key: warn > 500, fail > 2000 (either level or both)")
            continue
        rules[name.strip()] = levels
    if bad:
        problems["components"] = "; ".join(bad)
    return rules or None


def _redirects(form: FormLists, key: str, problems: dict[str, str]) -> Any:
    follow = _flag(form, "follow_redirects")
    hops = _typed(form, "max_redirects")
    if follow is False:
        return False
    return True if hops is None else hops


def _confirm(form: FormLists, key: str, problems: dict[str, str]) -> Any:
    counts = {"fail": _typed(form, "confirm_fail"), "recover": _typed(form, "confirm_recover")}
    given = {level: count for level, count in counts.items() if count is not None}
    return given or None


def _remind(form: FormLists, key: str, problems: dict[str, str]) -> Any:
    every = _typed(form, "remind")
    most = _typed(form, "remind_max")
    if most is not None:
        return {"every": every, "max": most}
    return every


def _escalate(form: FormLists, key: str, problems: dict[str, str]) -> Any:
    after = _typed(form, "escalate_after")
    channels = _choices(form, "escalate_channels")
    if after is None and not channels:
        return None
    return {"after": after, "channels": channels}


def _flapping(form: FormLists, key: str, problems: dict[str, str]) -> Any:
    if _flag(form, "flapping") is False:
        return "off"
    settings = {
        "changes": _typed(form, "flapping_changes"),
        "within": _typed(form, "flapping_within"),
    }
    given = {name: value for name, value in settings.items() if value is not None}
    return given or None


_READERS = {
    "assert": _assertions,
    "body": _body,
    "headers": _headers,
    "components": _components,
    "follow_redirects": _redirects,
    "confirm": _confirm,
    "remind": _remind,
    "escalate": _escalate,
    "flapping": _flapping,
}
