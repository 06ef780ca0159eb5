"""What an assertion is: subject, operator, expected value, severity — plain data.

The short form (``status == 200``) and the structured form (a dict, for the API) both
parse to the same ``Assertion`` (see ``assertion_parser``); ``Assertion.text`` spells it
back canonically and ``Assertion.to_json()`` gives the structured form.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from tocsin.errors import TocsinError
from tocsin.server.domain.json_paths import JsonPath

# An expected value: JSON scalars, or a tuple of codes/classes for ``status in [...]``.
Expected = None | bool | int | float | str | tuple[int | str, ...]


class Subject(StrEnum):
    """What an assertion looks at."""

    STATUS = "status"
    RESPONSE_TIME = "response_time"
    HEADER = "header"
    BODY = "body"
    JSON = "json"
    CERT_DAYS = "cert_days"


class Operator(StrEnum):
    """How the resolved value is compared with the expected one."""

    EQ = "=="
    NE = "!="
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="
    CONTAINS = "contains"
    NOT_CONTAINS = "not contains"
    MATCHES = "matches"
    NOT_MATCHES = "not matches"
    EXISTS = "exists"
    NOT_EXISTS = "not exists"
    IN = "in"


class Severity(StrEnum):
    """What a failing assertion does to the verdict: ``fail`` (default) or ``warn``."""

    FAIL = "fail"
    WARN = "warn"


ORDERING = (Operator.LT, Operator.LE, Operator.GT, Operator.GE)
_TEXT_OPS = (
    Operator.EQ,
    Operator.NE,
    Operator.CONTAINS,
    Operator.NOT_CONTAINS,
    Operator.MATCHES,
    Operator.NOT_MATCHES,
)
_PRESENCE = (Operator.EXISTS, Operator.NOT_EXISTS)

OPERATORS: dict[Subject, tuple[Operator, ...]] = {
    Subject.STATUS: (Operator.EQ, Operator.NE, *ORDERING, Operator.IN),
    Subject.RESPONSE_TIME: ORDERING,
    Subject.CERT_DAYS: ORDERING,
    Subject.HEADER: (*_TEXT_OPS, *_PRESENCE),
    Subject.BODY: _TEXT_OPS,
    Subject.JSON: (Operator.EQ, Operator.NE, *ORDERING, *_TEXT_OPS[2:], *_PRESENCE),
}
"""The operators each subject accepts."""


class AssertionSyntaxError(TocsinError, ValueError):
    """An assertion could not be parsed.

    ``reason`` says what is wrong and how to write it; ``column`` (1-based) points into
    the short form, ``field`` names the key of the structured form. ``str()`` has both.
    """

    def __init__(self, reason: str, *, column: int | None = None, field: str | None = None):
        self.reason = reason
        self.column = column
        self.field = field
        where = f" at column {column}" if column is not None else ""
        prefix = f"{field}: " if field is not None else ""
        super().__init__(f"{prefix}{reason}{where}")


@dataclass(frozen=True)
class Assertion:
    """One parsed assertion.

    ``name`` is the lower-case header name (``header`` only), ``path`` the JSON path
    (``json`` only). ``expected`` is ``None`` for ``exists``; milliseconds (float) for
    ``response_time``; an int code, a class like ``"2xx"`` or a tuple of those for
    ``status``; the regular expression's source for ``matches``.
    """

    subject: Subject
    operator: Operator
    expected: Expected = None
    name: str | None = None
    path: JsonPath | None = None
    severity: Severity = Severity.FAIL
    pattern: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    @property
    def target(self) -> str:
        """The subject as written: ``status``, ``header etag``, ``json $.version``."""
        if self.name is not None:
            return f"{self.subject} {self.name}"
        if self.path is not None:
            return f"{self.subject} {self.path.text}"
        return str(self.subject)

    @property
    def expected_text(self) -> str:
        """The expected value as written in the short form (``""`` for ``exists``)."""
        return format_expected(self.subject, self.operator, self.expected)

    @property
    def text(self) -> str:
        """The canonical short form, e.g. ``response_time < 800ms [warn]``."""
        tail = f" {self.expected_text}" if self.operator not in _PRESENCE else ""
        suffix = " [warn]" if self.severity is Severity.WARN else ""
        return f"{self.target} {self.operator}{tail}{suffix}"

    def to_json(self) -> dict[str, Any]:
        """The structured form the API accepts (``assertion_from_json`` reads it back)."""
        data: dict[str, Any] = {"subject": self.subject.value, "op": self.operator.value}
        if self.name is not None:
            data["name"] = self.name
        if self.path is not None:
            data["path"] = self.path.text
        if self.operator not in _PRESENCE:
            data["value"] = (
                list(self.expected) if isinstance(self.expected, tuple) else (self.expected)
            )
        data["severity"] = self.severity.value
        return data


def format_number(value: float) -> str:
    """``14`` for 14.0, ``812.3`` for 812.3: numbers as a person writes them."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def format_ms(value: float) -> str:
    """A duration in milliseconds as written: ``800ms``, ``2s``, ``812.3ms``."""
    if value >= 1000 and value % 1000 == 0:
        return f"{format_number(value / 1000)}s"
    return f"{format_number(value)}ms"


def format_json(value: Any) -> str:
    """``value`` as a JSON literal (strings quoted, non-ASCII kept)."""
    return json.dumps(value, ensure_ascii=False)


def format_expected(subject: Subject, operator: Operator, expected: Expected) -> str:
    """How ``expected`` is spelled in the short form for ``subject``."""
    if operator in _PRESENCE:
        return ""
    if isinstance(expected, tuple):
        return "[" + ", ".join(str(code) for code in expected) + "]"
    if subject is Subject.STATUS:
        return str(expected)
    if subject is Subject.RESPONSE_TIME and isinstance(expected, int | float):
        return format_ms(expected)
    if subject is Subject.CERT_DAYS and isinstance(expected, int | float):
        return format_number(expected)
    return format_json(expected)


def is_number(value: object) -> bool:
    """Whether ``value`` is an int or float and not a bool."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def same(actual: object, expected: object) -> bool:
    """JSON equality: ``1 == 1.0`` but ``true`` is not ``1``, and types must agree."""
    if isinstance(actual, bool) or isinstance(expected, bool):
        return type(actual) is type(expected) and actual == expected
    if is_number(actual) and is_number(expected):
        return actual == expected
    return type(actual) is type(expected) and actual == expected


def compare(operator: Operator, actual: object, expected: object) -> bool:
    """Whether ``actual <operator> expected`` holds for ``== != < <= > >=``.

    Ordering holds only between two numbers; anything else (a string, ``None``) fails.
    """
    if operator is Operator.EQ:
        return same(actual, expected)
    if operator is Operator.NE:
        return not same(actual, expected)
    if not (is_number(actual) and is_number(expected)):
        return False
    a, b = float(actual), float(expected)  # type: ignore[arg-type]
    if operator is Operator.LT:
        return a < b
    if operator is Operator.LE:
        return a <= b
    if operator is Operator.GT:
        return a > b
    if operator is Operator.GE:
        return a >= b
    raise ValueError(f"{operator} is not a comparison")
