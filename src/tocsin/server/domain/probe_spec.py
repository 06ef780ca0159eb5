"""The settings of a probed monitor (``http``, ``app``, ``tcp``), validated.

``probe_spec(kind, data, errors)`` reads the probe fields of a monitor description (the
same dict the API and ``tocsin.yaml`` give) and adds every problem to ``errors`` by field;
``ProbeSpec.to_json()`` is the form stored in ``monitors.probe`` and
``ProbeSpec.from_json`` reads it back. Header values and the body keep their ``${NAME}``
placeholders: the probe engine substitutes them from the server's environment each time
it probes, so secrets are never stored nor returned.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from tocsin.errors import ValidationError
from tocsin.server.domain.assertions import Assertion, assertion_from_json, parse_assertions
from tocsin.server.domain.component_thresholds import ComponentRule, parse_thresholds
from tocsin.server.domain.confirmation import RETRY_RULE, ConfirmPolicy, confirm_policy
from tocsin.server.domain.fields import HEADER_NAME, add_problem, duration_field, storable
from tocsin.server.domain.placeholders import placeholder_problems
from tocsin.server.domain.states import MonitorKind

DEFAULT_INTERVAL = timedelta(seconds=60)
MIN_INTERVAL = timedelta(seconds=1)
MAX_INTERVAL = timedelta(days=1)
INTERVAL_RULE = "must be from 1s to 1d"
DEFAULT_TIMEOUT = timedelta(seconds=10)
MAX_TIMEOUT = timedelta(seconds=60)
DEFAULT_MAX_REDIRECTS = 10
MAX_REDIRECTS = 30
DEFAULT_HTTP_ASSERTION = "status == 2xx"
"""What an ``http`` monitor without assertions checks (``tocsin check`` does the same)."""

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
_HOST = re.compile(r"[A-Za-z0-9._:\[\]-]{1,253}")

# Fields of each kind, beyond the ones every monitor has (name, kind, slug, desc, tags,
# channels, paused).
_HTTP = {"url", "method", "headers", "body", "timeout", "follow_redirects", "verify_tls"}
_TIMING = {"interval", "retry_interval", "jitter", "confirm"}
KIND_FIELDS: dict[MonitorKind, frozenset[str]] = {
    MonitorKind.HTTP: frozenset(_HTTP | _TIMING | {"assert"}),
    MonitorKind.APP: frozenset(_HTTP | _TIMING | {"assert", "components"}),
    MonitorKind.TCP: frozenset(_TIMING | {"host", "port", "tls", "verify_tls", "timeout"}),
}
PROBE_FIELDS = frozenset().union(*KIND_FIELDS.values())


@dataclass(frozen=True)
class ProbeSpec:
    """A probed monitor's valid settings.

    ``max_redirects`` is ``None`` when redirects are not followed. ``assertions`` and
    ``rules`` (``app`` thresholds by key) are parsed; ``assertion_json`` keeps their
    structured forms for storage. ``headers`` and ``body`` may hold ``${NAME}``.
    """

    kind: MonitorKind
    interval: timedelta = DEFAULT_INTERVAL
    retry_interval: timedelta | None = None
    jitter: timedelta = timedelta(0)
    confirm: ConfirmPolicy = field(default_factory=ConfirmPolicy)
    timeout: timedelta = DEFAULT_TIMEOUT
    url: str = ""
    method: str = "GET"
    headers: Mapping[str, str] = field(default_factory=dict)
    body: str | None = None
    max_redirects: int | None = DEFAULT_MAX_REDIRECTS
    verify_tls: bool = True
    assertions: tuple[Assertion, ...] = ()
    rules: Mapping[str, ComponentRule] = field(default_factory=dict)
    host: str = ""
    port: int = 0
    tls: bool = False

    @property
    def effective_retry(self) -> timedelta:
        """The time between checks while failing, never longer than the interval."""
        retry = self.retry_interval or self.confirm.retry or timedelta(seconds=10)
        return min(retry, self.interval)

    def to_json(self) -> dict[str, Any]:
        """The stored form (``monitors.probe``): only the keys that apply to the kind."""
        data: dict[str, Any] = {
            "timeout_seconds": self.timeout.total_seconds(),
            "jitter_seconds": self.jitter.total_seconds(),
            "confirm": {"fail": self.confirm.fail, "recover": self.confirm.recover},
        }
        if self.kind is MonitorKind.TCP:
            data |= {"host": self.host, "port": self.port, "tls": self.tls}
            data["verify_tls"] = self.verify_tls
            return data
        data |= {
            "url": self.url,
            "method": self.method,
            "headers": dict(self.headers),
            "body": self.body,
            "follow_redirects": self.max_redirects is not None,
            "max_redirects": self.max_redirects or DEFAULT_MAX_REDIRECTS,
            "verify_tls": self.verify_tls,
            "assert": [a.to_json() for a in self.assertions],
        }
        if self.kind is MonitorKind.APP:
            data["components"] = {key: rule.to_json() for key, rule in self.rules.items()}
        return data

    def user_fields(self) -> dict[str, Any]:
        """The settings as a user writes them (for merging a partial change)."""
        data: dict[str, Any] = {
            "interval": self.interval.total_seconds(),
            "timeout": self.timeout.total_seconds(),
            "confirm": self.confirm.to_json(),
        }
        if self.retry_interval is not None:
            data["retry_interval"] = self.retry_interval.total_seconds()
        if self.jitter:
            data["jitter"] = self.jitter.total_seconds()
        if self.kind is MonitorKind.TCP:
            data |= {"host": self.host, "port": self.port, "tls": self.tls}
            data["verify_tls"] = self.verify_tls
            return data
        data |= {
            "url": self.url,
            "method": self.method,
            "headers": dict(self.headers),
            "follow_redirects": self.max_redirects if self.max_redirects is not None else False,
            "verify_tls": self.verify_tls,
            "assert": [a.to_json() for a in self.assertions],
        }
        if self.body is not None:
            data["body"] = self.body
        if self.kind is MonitorKind.APP:
            data["components"] = {key: rule.to_json() for key, rule in self.rules.items()}
        return data

    @classmethod
    def from_json(
        cls,
        kind: MonitorKind,
        data: Mapping[str, Any],
        interval: float | None,
        retry_interval: float | None,
    ) -> ProbeSpec:
        """The spec ``to_json`` stored, with the interval columns."""
        confirm = data.get("confirm") or {}
        common: dict[str, Any] = {
            "kind": kind,
            "interval": timedelta(seconds=interval or DEFAULT_INTERVAL.total_seconds()),
            "retry_interval": timedelta(seconds=retry_interval) if retry_interval else None,
            "jitter": timedelta(seconds=data.get("jitter_seconds") or 0),
            "confirm": ConfirmPolicy(confirm.get("fail", 2), confirm.get("recover", 1)),
            "timeout": timedelta(seconds=data.get("timeout_seconds") or 10),
            "verify_tls": bool(data.get("verify_tls", True)),
        }
        if kind is MonitorKind.TCP:
            return cls(**common, host=data["host"], port=int(data["port"]), tls=bool(data["tls"]))
        return cls(
            **common,
            url=data["url"],
            method=data.get("method", "GET"),
            headers=dict(data.get("headers") or {}),
            body=data.get("body"),
            max_redirects=data.get("max_redirects") if data.get("follow_redirects") else None,
            assertions=tuple(assertion_from_json(a) for a in data.get("assert") or ()),
            rules=parse_thresholds(data.get("components")),
        )


def probe_spec(kind: MonitorKind, data: Mapping[str, Any], errors: dict[str, str]) -> ProbeSpec:
    """Read the probe fields of ``data`` for ``kind``, adding every problem to ``errors``
    (the caller raises). Fields of another kind are refused by name."""
    allowed = KIND_FIELDS[kind]
    for key in data:
        if key in PROBE_FIELDS and key not in allowed and data[key] is not None:
            errors[key] = f"does not apply to {kind} monitors"
    interval = (
        duration_field(data, "interval", errors, minimum=MIN_INTERVAL, rule=INTERVAL_RULE)
        or DEFAULT_INTERVAL
    )
    if not MIN_INTERVAL <= interval <= MAX_INTERVAL:
        add_problem(errors, "interval", INTERVAL_RULE)
    retry = duration_field(data, "retry_interval", errors, minimum=MIN_INTERVAL, rule=RETRY_RULE)
    if retry is not None and retry < MIN_INTERVAL:
        add_problem(errors, "retry_interval", RETRY_RULE)
    timeout = duration_field(data, "timeout", errors) or DEFAULT_TIMEOUT
    if timeout > MAX_TIMEOUT:
        add_problem(errors, "timeout", "must be at most 60s")
    jitter = timedelta(0)
    if data.get("jitter") is not None and data.get("jitter") != 0:
        jitter = duration_field(data, "jitter", errors) or timedelta(0)
    confirm = _confirm(data, errors)
    if confirm.retry is not None:  # `confirm: {retry: 5s}` is another way to say it
        retry = retry or confirm.retry
        confirm = ConfirmPolicy(confirm.fail, confirm.recover)
    spec = ProbeSpec(
        kind,
        interval=interval,
        retry_interval=retry,
        jitter=jitter,
        confirm=confirm,
        timeout=timeout,
        verify_tls=_flag(data, "verify_tls", errors, default=True),
    )
    if jitter and jitter >= spec.effective_retry and "interval" not in errors:
        errors["jitter"] = "must be shorter than the interval and the retry interval"
    if kind is MonitorKind.TCP:
        return _tcp(spec, data, errors)
    return _http(spec, data, errors)


def _http(spec: ProbeSpec, data: Mapping[str, Any], errors: dict[str, str]) -> ProbeSpec:
    url = _url(data, errors)
    method = data.get("method", "GET")
    if not isinstance(method, str) or method.upper() not in METHODS:
        errors["method"] = f"must be one of {', '.join(METHODS)}"
        method = "GET"
    body = data.get("body")
    if body is not None and not (isinstance(body, str) and storable(body)):
        errors["body"] = "must be text"
        body = None
    elif body is not None:
        _placeholders(body, "body", errors)
    assertions: list[Assertion] = []
    try:
        assertions = parse_assertions(_list(data, "assert", errors), "assert")
    except ValidationError as exc:
        errors.update(exc.fields)
    rules: dict[str, ComponentRule] = {}
    if spec.kind is MonitorKind.APP:
        try:
            rules = parse_thresholds(data.get("components"))
        except ValidationError as exc:
            errors.update(exc.fields)
    return ProbeSpec(
        spec.kind,
        interval=spec.interval,
        retry_interval=spec.retry_interval,
        jitter=spec.jitter,
        confirm=spec.confirm,
        timeout=spec.timeout,
        url=url,
        method=method.upper(),
        headers=_headers(data, errors),
        body=body,
        max_redirects=_redirects(data, errors),
        verify_tls=spec.verify_tls,
        assertions=tuple(assertions),
        rules=rules,
    )


def _tcp(spec: ProbeSpec, data: Mapping[str, Any], errors: dict[str, str]) -> ProbeSpec:
    host = data.get("host")
    if host is None:
        errors["host"] = "is required for tcp monitors"
        host = ""
    elif not isinstance(host, str) or not _HOST.fullmatch(host.strip()):
        errors["host"] = "must be a host name or IP address"
        host = ""
    port = data.get("port")
    if port is None:
        errors["port"] = "is required for tcp monitors"
        port = 0
    elif isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        errors["port"] = "must be a whole number from 1 to 65535"
        port = 0
    return ProbeSpec(
        spec.kind,
        interval=spec.interval,
        retry_interval=spec.retry_interval,
        jitter=spec.jitter,
        confirm=spec.confirm,
        timeout=spec.timeout,
        verify_tls=spec.verify_tls,
        host=host.strip(),
        port=port,
        tls=_flag(data, "tls", errors, default=False),
    )


def _flag(data: Mapping[str, Any], key: str, errors: dict[str, str], *, default: bool) -> bool:
    value = data.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        errors[key] = "must be true or false"
        return default
    return value


def _list(data: Mapping[str, Any], key: str, errors: dict[str, str]) -> list[Any]:
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        errors[key] = "must be a list"
        return []
    return list(value)


def _confirm(data: Mapping[str, Any], errors: dict[str, str]) -> ConfirmPolicy:
    try:
        return confirm_policy(data.get("confirm"))
    except ValidationError as exc:
        errors.update(exc.fields)
        return ConfirmPolicy()


def _url(data: Mapping[str, Any], errors: dict[str, str]) -> str:
    url = data.get("url")
    if url is None:
        errors["url"] = "is required for http and app monitors"
        return ""
    if not isinstance(url, str) or not storable(url):
        errors["url"] = "must be text"
        return ""
    url = url.strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError for a bad port
    except ValueError as exc:
        errors["url"] = f"{url!r} is not a URL: {exc}"
        return url
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        errors["url"] = "must be an http:// or https:// URL with a host, e.g. https://example.com/"
    elif any(ch.isspace() for ch in url):
        errors["url"] = "must not contain white space"
    return url


def _headers(data: Mapping[str, Any], errors: dict[str, str]) -> dict[str, str]:
    value = data.get("headers")
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        errors["headers"] = "must map header names to values"
        return {}
    headers: dict[str, str] = {}
    for name, text in value.items():
        where = f"headers.{name}"
        if not isinstance(name, str) or not HEADER_NAME.fullmatch(name):
            errors[where] = "is not a valid header name"
        elif not isinstance(text, str) or not storable(text) or "\n" in text or "\r" in text:
            # The value may be a secret: never echo it.
            errors[where] = "must be one line of text"
        else:
            _placeholders(text, where, errors)
            headers[name] = text
    return headers


def _placeholders(text: str, where: str, errors: dict[str, str]) -> None:
    for problem in placeholder_problems(text):
        add_problem(errors, where, problem)


def _redirects(data: Mapping[str, Any], errors: dict[str, str]) -> int | None:
    value = data.get("follow_redirects")
    if value is None or value is True:
        return DEFAULT_MAX_REDIRECTS
    if value is False or value == 0:
        return None
    if isinstance(value, int) and 0 < value <= MAX_REDIRECTS:
        return value
    errors["follow_redirects"] = f"must be true, false or a number of hops up to {MAX_REDIRECTS}"
    return DEFAULT_MAX_REDIRECTS
