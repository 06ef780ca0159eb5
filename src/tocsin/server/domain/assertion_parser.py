"""One parser for assertions: the short string form and the structured (API) form.

Short form: ``subject [name|path] operator [value] [[warn]]``, e.g. ``status == 2xx``,
``response_time < 800ms [warn]``, ``header content-type contains "json"``,
``json $.queue.depth < 100``. Both forms end in ``_build``, so they are validated by the
same rules and give equal ``Assertion`` values. Errors say what to write instead and
point at the column (short form) or the key (structured form).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tocsin.errors import ValidationError
from tocsin.server.domain.assertion_model import (
    OPERATORS,
    ORDERING,
    Assertion,
    AssertionSyntaxError,
    Expected,
    Operator,
    Severity,
    Subject,
    is_number,
)
from tocsin.server.domain.fields import HEADER_NAME
from tocsin.server.domain.json_paths import JsonPath, JsonPathError, parse_json_path
from tocsin.server.domain.storable import is_storable

_SEVERITY = re.compile(r"\[\s*([A-Za-z_]+)\s*\]\s*$")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# A run of operator characters is read whole, so ``===`` or ``>>`` is one unknown operator
# rather than ``==`` or ``>`` followed by a strange value.
_OPERATOR = re.compile(
    r"not\s+(?:contains|matches|exists)\b|(?:contains|matches|exists|in)\b|[=!<>]+|\S+"
)
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_BARE = re.compile(r"[^\s,\]]+")
_STATUS_CLASS = re.compile(r"[1-5]xx", re.IGNORECASE)
_DURATION = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*(ms|s)")
_OPERATOR_WORDS = frozenset({"contains", "matches", "exists", "not", "in"})
_KEYWORDS: dict[str, Expected] = {"true": True, "false": False, "null": None}
_FIELDS = frozenset({"subject", "op", "value", "name", "path", "severity"})
_SUBJECTS = ", ".join(s.value for s in Subject)


@dataclass(frozen=True)
class _Bare:
    """An unquoted word in the short form (``2xx``, ``800ms``): valid only where a status
    class or a duration is expected."""

    text: str


class _BadValue(Exception):
    """The value is wrong for the subject; ``offset`` points inside it (regex errors)."""

    def __init__(self, reason: str, offset: int | None = None) -> None:
        self.reason = reason
        self.offset = offset
        super().__init__(reason)


def parse_assertion(text: str) -> Assertion:
    """Parse the short form; raise ``AssertionSyntaxError`` with the column of the problem."""
    return _ShortForm(text).parse()


def assertion_from_json(data: Mapping[str, Any]) -> Assertion:
    """Parse the structured form, e.g. ``{"subject": "json", "path": "$.version",
    "op": "exists", "severity": "warn"}``; raise ``AssertionSyntaxError`` naming the key."""
    for key in data:
        if key not in _FIELDS:
            raise AssertionSyntaxError(
                f"unknown key; expected {', '.join(sorted(_FIELDS))}", field=str(key)
            )
    subject = _choice(data.get("subject"), Subject, "subject", _SUBJECTS)
    severity = Severity.FAIL
    if data.get("severity") is not None:
        severity = _choice(data["severity"], Severity, "severity", "fail, warn")
    name = path = None
    if subject is Subject.HEADER:
        raw = data.get("name")
        if not isinstance(raw, str) or HEADER_NAME.fullmatch(raw) is None:
            raise AssertionSyntaxError("a header assertion needs a header name", field="name")
        name = raw.lower()
    if subject is Subject.JSON:
        raw = data.get("path")
        if not isinstance(raw, str):
            raise AssertionSyntaxError("a json assertion needs a path like $.version", field="path")
        try:
            path = parse_json_path(raw)
        except JsonPathError as exc:
            raise AssertionSyntaxError(f"bad JSON path: {exc}", field="path") from None
    if data.get("name") is not None and subject is not Subject.HEADER:
        raise AssertionSyntaxError(f"{subject} takes no name", field="name")
    if data.get("path") is not None and subject is not Subject.JSON:
        raise AssertionSyntaxError(f"{subject} takes no path", field="path")
    op = data.get("op")
    operator = _operator(" ".join(op.split()) if isinstance(op, str) else "", subject, field="op")
    value = data.get("value")
    value = tuple(value) if isinstance(value, list) else value
    if operator in (Operator.EXISTS, Operator.NOT_EXISTS) and value is not None:
        raise AssertionSyntaxError(f"{operator} takes no value", field="value")
    try:
        return _build(subject, operator, value, name, path, severity)
    except _BadValue as exc:
        raise AssertionSyntaxError(exc.reason, field="value") from None


def parse_assertions(items: Sequence[object], field: str = "assert") -> list[Assertion]:
    """Parse a list mixing both forms; raise ``ValidationError`` listing every bad item
    as ``assert[2]: ...`` (``field`` names the list)."""
    parsed: list[Assertion] = []
    errors: dict[str, str] = {}
    for index, item in enumerate(items):
        try:
            if isinstance(item, str):
                parsed.append(parse_assertion(item))
            elif isinstance(item, Mapping):
                parsed.append(assertion_from_json(item))
            else:
                errors[f"{field}[{index}]"] = "must be a string like 'status == 200' or an object"
        except AssertionSyntaxError as exc:
            errors[f"{field}[{index}]"] = str(exc)
    if errors:
        raise ValidationError("invalid assertions", errors)
    return parsed


class _ShortForm:
    """A cursor over one short-form assertion."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.severity_at: int | None = None
        self.severity_word = ""
        suffix = _SEVERITY.search(text)
        if suffix is not None:  # parse what precedes the suffix; columns stay the same
            self.text, self.severity_at = text[: suffix.start()], suffix.start(1)
            self.severity_word = suffix.group(1)

    def fail(self, reason: str, pos: int | None = None) -> AssertionSyntaxError:
        return AssertionSyntaxError(reason, column=(self.pos if pos is None else pos) + 1)

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def at_end(self) -> bool:
        self.skip_space()
        return self.pos >= len(self.text)

    def parse(self) -> Assertion:
        if self.at_end():
            raise self.fail("empty assertion; write e.g. status == 200")
        severity = self.severity()
        subject = self.subject()
        name, path = self.argument(subject)
        if self.at_end():
            raise self.fail(f"missing operator after {subject} ({_allowed(subject)})")
        match = _OPERATOR.match(self.text, self.pos)
        word = " ".join(match.group().split()) if match else ""
        operator = _operator(word, subject, column=self.pos + 1)
        self.pos = match.end() if match else self.pos
        presence = operator in (Operator.EXISTS, Operator.NOT_EXISTS)
        if presence and not self.at_end():
            raise self.fail(f"{operator} takes no value")
        if not presence and self.at_end():
            raise self.fail(f"missing value after {operator!s}")
        start = self.pos
        value = None if presence else self.value()
        if not self.at_end():
            raise self.fail(f"unexpected {self.text[self.pos :].split()[0]!r} after the value")
        try:
            return _build(subject, operator, value, name, path, severity)
        except _BadValue as exc:
            # A quoted value's regex error counts from after the opening quote.
            offset = exc.offset + 1 if exc.offset is not None else 0
            raise self.fail(exc.reason, start + offset) from None

    def severity(self) -> Severity:
        """The ``[warn]`` / ``[fail]`` suffix (``fail`` without one)."""
        if self.severity_at is None:
            return Severity.FAIL
        if self.severity_word not in {s.value for s in Severity}:
            raise self.fail(
                f"unknown severity {self.severity_word!r} (expected [warn] or [fail])",
                self.severity_at,
            )
        return Severity(self.severity_word)

    def subject(self) -> Subject:
        match = _WORD.match(self.text, self.pos)
        word = match.group() if match else self.text[self.pos :].split()[0]
        if word not in {s.value for s in Subject}:
            raise self.fail(f"unknown subject {word!r} (expected {_SUBJECTS})")
        self.pos += len(word)
        return Subject(word)

    def argument(self, subject: Subject) -> tuple[str | None, JsonPath | None]:
        """The header name or JSON path after ``header`` / ``json``."""
        if subject is Subject.HEADER:
            self.skip_space()
            match = HEADER_NAME.match(self.text, self.pos)
            if match is None or match.group() in _OPERATOR_WORDS:
                raise self.fail('header needs a name, e.g. header content-type contains "json"')
            self.pos = match.end()
            return match.group().lower(), None
        if subject is Subject.JSON:
            self.skip_space()
            start = self.pos
            end = _path_end(self.text, start)
            if end == start:
                raise self.fail("json needs a path, e.g. json $.version exists")
            try:
                path = parse_json_path(self.text[start:end])
            except JsonPathError as exc:
                raise self.fail(f"bad JSON path: {exc.reason}", start + exc.column - 1) from None
            self.pos = end
            return None, path
        return None, None

    def value(self) -> Any:
        if self.text.startswith("[", self.pos):
            self.pos += 1
            items: list[Any] = []
            while True:
                if self.at_end():
                    raise self.fail('missing "]" at the end of the list')
                items.append(self.scalar())
                if self.at_end():
                    raise self.fail('missing "]" at the end of the list')
                if self.text.startswith("]", self.pos):
                    self.pos += 1
                    return tuple(items)
                if not self.text.startswith(",", self.pos):
                    raise self.fail('expected "," or "]" in the list')
                self.pos += 1
                self.skip_space()
        return self.scalar()

    def scalar(self) -> Any:
        if self.text.startswith('"', self.pos):
            match = _STRING.match(self.text, self.pos)
            if match is None:
                raise self.fail('unterminated string; close it with "')
            try:
                text: str = json.loads(match.group())
            except json.JSONDecodeError as exc:
                raise self.fail(f"bad string: {exc.msg}", self.pos + exc.pos) from None
            self.pos = match.end()
            return text
        match = _BARE.match(self.text, self.pos)
        if match is None:
            raise self.fail("expected a value")
        self.pos = match.end()
        word = match.group()
        if _NUMBER.fullmatch(word):
            number: float = json.loads(word)
            return number
        if word in _KEYWORDS:
            return _KEYWORDS[word]
        return _Bare(word)


def _path_end(text: str, pos: int) -> int:
    """Where the JSON path starting at ``pos`` ends: the first space outside quotes."""
    quote = ""
    while pos < len(text):
        char = text[pos]
        if quote:
            if char == "\\":
                pos += 1
            elif char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char.isspace():
            break
        pos += 1
    return min(pos, len(text))


def _allowed(subject: Subject) -> str:
    return "expected " + ", ".join(op.value for op in OPERATORS[subject])


def _choice(value: object, kind: Any, key: str, expected: str) -> Any:
    if not isinstance(value, str) or value not in {m.value for m in kind}:
        shown = "missing" if value is None else f"unknown {key} {value!r}"
        raise AssertionSyntaxError(f"{shown} (expected {expected})", field=key)
    return kind(value)


def _operator(
    word: str, subject: Subject, *, column: int | None = None, field: str | None = None
) -> Operator:
    """The operator ``word``, if ``subject`` accepts it."""
    known = {op.value for op in Operator}
    if word not in known:
        shown = f"unknown operator {word!r}" if word else "missing operator"
        raise AssertionSyntaxError(f"{shown} ({_allowed(subject)})", column=column, field=field)
    operator = Operator(word)
    if operator not in OPERATORS[subject]:
        raise AssertionSyntaxError(
            f"{subject} does not support {word!r} ({_allowed(subject)})", column=column, field=field
        )
    return operator


def _build(
    subject: Subject,
    operator: Operator,
    value: Any,
    name: str | None,
    path: JsonPath | None,
    severity: Severity,
) -> Assertion:
    """The assertion, once ``value`` is checked against what ``subject`` and ``operator`` need."""
    pattern = None
    if operator in (Operator.EXISTS, Operator.NOT_EXISTS):
        expected: Expected = None
    elif subject is Subject.STATUS:
        expected = _status(value, operator)
    elif subject is Subject.RESPONSE_TIME:
        expected = _milliseconds(value)
    elif subject is Subject.CERT_DAYS:
        if not is_number(value):
            raise _BadValue("cert_days needs a number of days, e.g. cert_days > 14")
        expected = value
    elif operator in ORDERING:
        if not is_number(value):
            raise _BadValue(f"{operator} needs a number, e.g. json $.queue.depth < 100")
        expected = value
    elif isinstance(value, _Bare) or (subject is not Subject.JSON and not isinstance(value, str)):
        shown = value.text if isinstance(value, _Bare) else json.dumps(value)
        raise _BadValue(f'quote text values: "{shown}"')
    elif isinstance(value, tuple | list | dict):
        raise _BadValue("expected a string, number, true, false or null")
    else:
        expected = value
    if isinstance(expected, str) and not is_storable(expected):
        raise _BadValue("text must not contain NUL or lone surrogates")
    if operator in (Operator.MATCHES, Operator.NOT_MATCHES):
        if not isinstance(expected, str):
            raise _BadValue('matches needs a quoted regular expression, e.g. "^ok"')
        try:
            pattern = re.compile(expected)
        except re.error as exc:
            raise _BadValue(f"bad regular expression: {exc.msg}", exc.pos or 0) from None
    return Assertion(subject, operator, expected, name, path, severity, pattern)


def _status(value: Any, operator: Operator) -> Expected:
    if operator is not Operator.IN:
        return _status_code(value, operator)
    if not isinstance(value, tuple) or not value:
        raise _BadValue("in needs a list of codes, e.g. status in [200, 204, 3xx]")
    return tuple(_status_code(item, Operator.EQ) for item in value)


def _status_code(value: Any, operator: Operator) -> int | str:
    """A code (``200``) or, for ``== != in``, a class (``"2xx"``)."""
    if isinstance(value, _Bare | str) and operator in (Operator.EQ, Operator.NE):
        text = value.text if isinstance(value, _Bare) else value
        if _STATUS_CLASS.fullmatch(text):
            return text.lower()
    if isinstance(value, int) and not isinstance(value, bool) and 100 <= value <= 599:
        return value
    if operator in ORDERING:
        raise _BadValue(f"status {operator} needs a status code, e.g. status < 400")
    raise _BadValue("expected a status code like 200 or a class like 2xx")


def _milliseconds(value: Any) -> float:
    if is_number(value) and value >= 0:
        return float(value)
    text = value.text if isinstance(value, _Bare) else value
    match = _DURATION.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise _BadValue("expected a duration like 800ms or 2s (a bare number is milliseconds)")
    number = float(match.group(1))
    return number * 1000 if match.group(2) == "s" else number
