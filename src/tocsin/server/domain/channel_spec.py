"""A notification channel as a user describes it, validated: which fields each kind takes,
and what each field must look like. Every problem is listed by field at once."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tocsin.durations import parse_duration
from tocsin.errors import ValidationError
from tocsin.server.domain.fields import name_field, storable, text_field

# The settings each kind takes; "url" is required by every kind but email, "to" by email.
KIND_SETTINGS: dict[str, frozenset[str]] = {
    "webhook": frozenset({"url", "headers", "secret", "timeout"}),
    "email": frozenset({"to", "timeout"}),
    "slack": frozenset({"url", "timeout"}),
    "discord": frozenset({"url", "timeout"}),
    "apprise": frozenset({"url", "timeout"}),
}
CHANNEL_KINDS = tuple(KIND_SETTINGS)
CHANNEL_FIELDS = frozenset({"name", "kind"}.union(*KIND_SETTINGS.values()))
TIMEOUT_MAX_SECONDS = 60
SECRET_MIN = 16
ADDRESSES_MAX = 100
ADDRESS_MAX = 254
# An address as SMTP takes it without extensions: a dot-atom local part (no quoting), @,
# and a host name (one label is allowed, for local relays). Written in the subset of
# regex syntax that Python and JSON Schema share, so the API's schema states it too.
_ATOM = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
EMAIL_PATTERN = f"^{_ATOM}(?:\\.{_ATOM})*@{_LABEL}(?:\\.{_LABEL})*$"
URL_PATTERN = re.compile(r"https?://[^\s/]+")
_EMAIL = re.compile(EMAIL_PATTERN)


@dataclass(frozen=True)
class ChannelSpec:
    """A valid description of a notification channel."""

    name: str
    kind: str
    settings: dict[str, Any] = field(default_factory=dict)


def is_email_address(text: str) -> bool:
    """Whether ``text`` is a plain address (``ops@example.com``; no display name)."""
    return len(text) <= ADDRESS_MAX and _EMAIL.fullmatch(text) is not None


def apprise_problem(url: str) -> str | None:
    """Why Apprise cannot use ``url``, or ``None``. Only parses: nothing is sent. Imports
    Apprise (a quarter of a second, once) only when an Apprise channel is checked."""
    try:
        import apprise
    except ImportError:
        return "needs the apprise package: install tocsin[server]"
    if apprise.Apprise.instantiate(url) is None:
        return (
            "Apprise cannot read this URL (see your service's URL format at "
            "https://github.com/caronc/apprise/wiki)"
        )
    return None


def channel_spec(data: Mapping[str, Any]) -> ChannelSpec:
    """Validate a channel description; raise ``ValidationError`` listing every bad field.

    A setting the kind does not take is refused (``secret`` on a Slack channel would
    otherwise look like it signs something); ``null`` counts as absent.
    """
    errors: dict[str, str] = {}
    for key in data:
        if key not in CHANNEL_FIELDS:
            errors[str(key)] = f"unknown field; expected one of {', '.join(sorted(CHANNEL_FIELDS))}"
    name = name_field(data, errors)
    kind = text_field(data, "kind", errors, required=True)
    if "kind" not in errors and kind not in KIND_SETTINGS:
        errors["kind"] = f"unknown kind {kind!r}; supported: {', '.join(CHANNEL_KINDS)}"
    settings: dict[str, Any] = {}
    takes = KIND_SETTINGS.get(kind)
    if takes is not None:
        for key in sorted(CHANNEL_FIELDS - {"name", "kind"} - takes):
            if data.get(key) is not None:
                errors[key] = f"is not used by {kind} channels"
        if "url" in takes:
            _url(data, kind, settings, errors)
        if "to" in takes:
            _addresses(data, settings, errors)
        if "headers" in takes:
            _headers(data, settings, errors)
        if "secret" in takes:
            _secret(data, settings, errors)
        _timeout(data, settings, errors)
    if errors:
        raise ValidationError("invalid channel", errors)
    return ChannelSpec(name=name, kind=kind, settings=settings)


def _url(
    data: Mapping[str, Any], kind: str, settings: dict[str, Any], errors: dict[str, str]
) -> None:
    url = text_field(data, "url", errors, required=True)
    if not url:
        if "url" not in errors:
            errors["url"] = "must not be empty"
        return
    if kind == "apprise":
        problem = apprise_problem(url)
    else:
        problem = None if URL_PATTERN.match(url) else "must be an http:// or https:// URL"
    if problem:
        errors["url"] = problem
    settings["url"] = url


def _addresses(data: Mapping[str, Any], settings: dict[str, Any], errors: dict[str, str]) -> None:
    value = data.get("to")
    if value is None:
        errors["to"] = "is required"
        return
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        errors["to"] = "must be a list of email addresses"
        return
    addresses = list(dict.fromkeys(v.strip() for v in value))
    bad = [address for address in addresses if not is_email_address(address)]
    if bad:
        shown = ", ".join(repr(address[:ADDRESS_MAX]) for address in bad[:5])
        errors["to"] = f"not an email address: {shown}"
    elif not addresses:
        errors["to"] = "must name at least one address"
    elif len(addresses) > ADDRESSES_MAX:
        errors["to"] = f"must name at most {ADDRESSES_MAX} addresses"
    settings["to"] = addresses


def _headers(data: Mapping[str, Any], settings: dict[str, Any], errors: dict[str, str]) -> None:
    headers = data.get("headers")
    if headers is None:
        return
    if not isinstance(headers, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) and storable(k + v) for k, v in headers.items()
    ):
        errors["headers"] = "must map header names to string values"
        return
    settings["headers"] = dict(headers)


def _secret(data: Mapping[str, Any], settings: dict[str, Any], errors: dict[str, str]) -> None:
    # Not trimmed: the secret is used exactly as given, and the receiver must agree.
    secret = data.get("secret")
    if secret is None:
        return
    if not isinstance(secret, str):
        problem = "must be a string"
    elif not storable(secret):
        problem = "must not contain NUL or unpaired surrogate characters"
    elif len(secret) < SECRET_MIN:
        problem = f"must be at least {SECRET_MIN} characters (try: openssl rand -hex 32)"
    else:
        settings["secret"] = secret
        return
    errors["secret"] = problem


def _timeout(data: Mapping[str, Any], settings: dict[str, Any], errors: dict[str, str]) -> None:
    timeout = data.get("timeout")
    if timeout is None:
        return
    try:
        seconds = parse_duration(timeout).total_seconds()
    except (ValueError, TypeError) as exc:
        errors["timeout"] = str(exc)
        return
    if seconds > TIMEOUT_MAX_SECONDS:
        errors["timeout"] = f"must be at most {TIMEOUT_MAX_SECONDS} seconds"
    settings["timeout"] = seconds
