"""Field readers shared by the spec validators: each reads one field of a user's input
and adds what is wrong with it to a per-field problem map instead of raising."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from tocsin.durations import parse_duration, written_seconds
from tocsin.server.domain.storable import is_storable

NAME_MAX = 100
# An RFC 9110 token: what an HTTP header name may be.
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# What the spec readers call it: text every database can store (no NUL, no lone surrogate).
storable = is_storable


def add_problem(errors: dict[str, str], key: str, problem: str) -> None:
    """Add ``problem`` to ``key``'s, so a field with two problems shows both."""
    errors[key] = f"{errors[key]}; {problem}" if key in errors else problem


def text_field(data: Mapping[str, Any], key: str, errors: dict[str, str], *, required: bool) -> str:
    """``data[key]`` trimmed; ``""`` (with a problem noted) when missing or not text."""
    value = data.get(key)
    if value is None:
        if required:
            errors[key] = "is required"
        return ""
    if not isinstance(value, str):
        errors[key] = "must be a string"
        return ""
    if not storable(value):
        errors[key] = "must not contain NUL or unpaired surrogate characters"
        return ""
    return value.strip()


def name_field(data: Mapping[str, Any], errors: dict[str, str]) -> str:
    """The required ``name``: not empty, at most ``NAME_MAX`` characters."""
    name = text_field(data, "name", errors, required=True)
    if "name" not in errors and not name:
        errors["name"] = "must not be empty"
    elif len(name) > NAME_MAX:
        errors["name"] = f"must be at most {NAME_MAX} characters"
    return name


def duration_field(
    data: Mapping[str, Any],
    key: str,
    errors: dict[str, str],
    *,
    minimum: timedelta | None = None,
    rule: str = "",
) -> timedelta | None:
    """``data[key]`` as a duration; ``None`` when missing or not a duration (a problem
    noted). The caller checks the bounds of a duration that parses.

    With ``minimum``, a value refused for being below it (``0``, ``-1s``, ``-500ms``) gets
    ``rule``, like ``"must be at least 1s"``, rather than the parser's words; a value that
    parses but is below it is left to the caller's bounds check."""
    value = data.get(key)
    if value is None:
        return None
    try:
        return parse_duration(value)
    except (ValueError, TypeError) as exc:
        errors[key] = duration_problem(value, str(exc), minimum, rule)
        return None


def duration_problem(value: object, problem: str, minimum: timedelta | None, rule: str) -> str:
    """What to say about ``value``, which ``parse_duration`` refused with ``problem``
    (see ``duration_field``)."""
    if isinstance(value, bool):
        return problem
    if isinstance(value, int | float):
        seconds: float | None = float(value)
    else:
        seconds = written_seconds(value) if isinstance(value, str) else None
    if seconds is None:
        return problem
    if minimum is not None and seconds < minimum.total_seconds():
        return rule
    return problem
