"""Evaluating assertions over an ``Observation``: each outcome keeps its resolved value.

Messages follow Gatus' habit of showing the value next to the condition:
``status (503) == 200``, ``response_time (812.3ms) < 800ms``,
``json $.version (missing) exists``, ``status (no answer: refused) == 200``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tocsin.health.model import Status
from tocsin.server.domain.assertion_model import (
    Assertion,
    Operator,
    Severity,
    Subject,
    compare,
    format_json,
    format_ms,
    format_number,
    same,
)
from tocsin.server.domain.observations import Observation
from tocsin.server.domain.storable import load_json, storable

RESOLVED_MAX = 200  # characters of a text value kept in an outcome
SHOWN_MAX = 60  # characters of a text value shown in a message
_DAY_SECONDS = 86400.0
_MISSING = "missing"


@dataclass(frozen=True)
class AssertionOutcome:
    """One assertion's result: ``resolved`` is the value it saw (JSON-able, ``None`` when
    the subject is missing or the probe got no answer)."""

    text: str
    severity: Severity
    passed: bool
    resolved: Any
    message: str

    def to_json(self) -> dict[str, Any]:
        """A plain dict for storage and the API."""
        return {
            "text": self.text,
            "severity": self.severity.value,
            "passed": self.passed,
            "resolved": self.resolved,
            "message": self.message,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AssertionOutcome:
        """The outcome ``to_json`` wrote."""
        return cls(
            data["text"],
            Severity(data["severity"]),
            data["passed"],
            data["resolved"],
            data["message"],
        )


@dataclass(frozen=True)
class _Resolved:
    """What a subject resolved to: ``found`` false with a ``shown`` reason when absent."""

    found: bool
    value: Any = None
    shown: str = _MISSING


def evaluate(
    assertions: Iterable[Assertion], observation: Observation, now: datetime
) -> list[AssertionOutcome]:
    """Evaluate every assertion over ``observation``; ``now`` is for ``cert_days``."""
    subjects = _Subjects(observation, now)
    return [_outcome(assertion, subjects) for assertion in assertions]


def verdict(outcomes: Iterable[AssertionOutcome]) -> Status:
    """``fail`` if a ``fail`` assertion failed, else ``warn`` if a ``warn`` one did."""
    failed = [o.severity for o in outcomes if not o.passed]
    if Severity.FAIL in failed:
        return Status.FAIL
    return Status.WARN if failed else Status.PASS


def failed_messages(outcomes: Iterable[AssertionOutcome]) -> list[str]:
    """The messages of the failed outcomes, ``fail`` severity first (what an alert says)."""
    failed = [o for o in outcomes if not o.passed]
    failed.sort(key=lambda o: o.severity is not Severity.FAIL)
    return [o.message for o in failed]


class _Subjects:
    """Resolves subjects from one observation, decoding the body once."""

    def __init__(self, observation: Observation, now: datetime) -> None:
        self.observation = observation
        self.now = now
        self._text: str | None = None
        self._document: _Resolved | None = None

    def resolve(self, assertion: Assertion) -> _Resolved:
        obs = self.observation
        subject = assertion.subject
        if subject is Subject.CERT_DAYS:
            if obs.cert_not_after is None:
                return _Resolved(False, shown="no certificate")
            days = (obs.cert_not_after - self.now).total_seconds() / _DAY_SECONDS
            return _Resolved(True, round(days, 2), format_number(round(days, 2)))
        if obs.failure is not None:
            return _Resolved(False, shown=f"no answer: {obs.failure}")
        if subject is Subject.STATUS:
            if obs.status is None:
                return _Resolved(False)
            return _Resolved(True, obs.status, str(obs.status))
        if subject is Subject.RESPONSE_TIME:
            ms = obs.response_time_ms
            if ms is None:
                return _Resolved(False)
            return _Resolved(True, round(ms, 1), format_ms(round(ms, 1)))
        if subject is Subject.HEADER:
            value = obs.headers.get(assertion.name or "")
            if value is None:
                return _Resolved(False)
            value = storable(value)
            return _Resolved(True, value, _excerpt(format_json(value)))
        if subject is Subject.BODY:
            text = self.text()
            return _Resolved(True, text, _excerpt(format_json(text)))
        return self.json(assertion)

    def text(self) -> str:
        if self._text is None:
            text = self.observation.body.decode(_charset(self.observation), "replace")
            self._text = storable(text)
        return self._text

    def json(self, assertion: Assertion) -> _Resolved:
        if self._document is None:
            try:
                self._document = _Resolved(True, load_json(self.observation.body))
            except (ValueError, RecursionError):
                cut = " (truncated)" if self.observation.body_truncated else ""
                self._document = _Resolved(False, shown=f"body is not JSON{cut}")
        if not self._document.found or assertion.path is None:
            return self._document
        found, value = assertion.path.resolve(self._document.value)
        return _Resolved(found, value, _excerpt(format_json(value))) if found else _Resolved(False)


def _outcome(assertion: Assertion, subjects: _Subjects) -> AssertionOutcome:
    resolved = subjects.resolve(assertion)
    if assertion.operator is Operator.NOT_EXISTS:
        # Absent from an answer, not merely unknown because there was no (JSON) answer.
        passed = not resolved.found and resolved.shown == _MISSING
    elif assertion.operator is Operator.EXISTS:
        passed = resolved.found
    else:
        passed = resolved.found and _holds(assertion, resolved.value)
    tail = f" {assertion.expected_text}" if assertion.expected_text else ""
    message = f"{assertion.target} ({resolved.shown}) {assertion.operator}{tail}"
    return AssertionOutcome(assertion.text, assertion.severity, passed, _kept(resolved), message)


def _holds(assertion: Assertion, actual: Any) -> bool:
    """Whether the (found) ``actual`` value satisfies ``assertion``."""
    op, expected = assertion.operator, assertion.expected
    if isinstance(expected, tuple):  # status in [...]
        return any(_status_matches(actual, code) for code in expected)
    if assertion.subject is Subject.STATUS and isinstance(expected, str):  # a class, 2xx
        return _status_matches(actual, expected) is (op is Operator.EQ)
    if op in (Operator.CONTAINS, Operator.NOT_CONTAINS):
        return _contains(actual, expected) is (op is Operator.CONTAINS)
    if op in (Operator.MATCHES, Operator.NOT_MATCHES):
        hit = (
            isinstance(actual, str)
            and assertion.pattern is not None
            and bool(assertion.pattern.search(actual))
        )
        return hit is (op is Operator.MATCHES)
    return compare(op, actual, expected)


def _status_matches(status: int, code: int | str) -> bool:
    if isinstance(code, str):
        return status // 100 == int(code[0])
    return status == code


def _contains(actual: Any, expected: Any) -> bool:
    """Substring of a string, element of a list, key of an object."""
    if isinstance(actual, str):
        return isinstance(expected, str) and expected in actual
    if isinstance(actual, list):
        return any(same(item, expected) for item in actual)
    if isinstance(actual, dict):
        return isinstance(expected, str) and expected in actual
    return False


def _kept(resolved: _Resolved) -> Any:
    """The resolved value as stored: long text and big JSON values cut to an excerpt."""
    value = resolved.value
    if not resolved.found or value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return value if len(value) <= RESOLVED_MAX else value[:RESOLVED_MAX] + "…"
    dumped = format_json(value)
    return value if len(dumped) <= RESOLVED_MAX else dumped[:RESOLVED_MAX] + "…"


def _excerpt(text: str) -> str:
    return text if len(text) <= SHOWN_MAX else text[: SHOWN_MAX - 1] + "…"


def _charset(observation: Observation) -> str:
    content_type = observation.headers.get("content-type", "")
    for part in content_type.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset" and value:
            charset = value.strip().strip('"')
            try:
                b"".decode(charset)
            except LookupError:
                break
            return charset
    return "utf-8"
