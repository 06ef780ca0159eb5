"""Reading an ``application/health+json`` answer into components with their own states.

The format is the IETF draft "Health Check Response Format for HTTP APIs", as tocsin's
own library serves it (``tocsin.health``): a top-level ``status`` and ``checks`` keyed
``component:measurement``, each a list of entries with ``componentId``,
``observedValue``, ``observedUnit``, ``status`` and ``output``. Every entry becomes a
component; thresholds from the monitor's config decide its state, else its own status.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from tocsin.health.model import Status
from tocsin.server.domain.assertion_model import (
    format_json,
    format_number,
    is_number,
)
from tocsin.server.domain.component_thresholds import ComponentRule, rule_for
from tocsin.server.domain.observations import FailureKind, Observation
from tocsin.server.domain.storable import load_json

_ALIASES = {
    "pass": Status.PASS,
    "ok": Status.PASS,
    "up": Status.PASS,
    "warn": Status.WARN,
    "fail": Status.FAIL,
    "error": Status.FAIL,
    "down": Status.FAIL,
}  # the draft's own aliases for Node's Terminus and Spring Boot
OUTPUT_SHOWN = 80


class _NotHealthJson(Exception):
    """The body is not a health+json report; the message says where."""


@dataclass(frozen=True)
class ComponentReading:
    """One entry of the report, judged.

    ``key`` is ``component:measurement[componentId]`` (without ``[...]`` when the entry
    has no id). ``threshold`` is the threshold that decided (``"< 1"``), ``None`` when
    the entry's own ``reported`` status did.
    """

    key: str
    check: str
    component_id: str | None
    status: Status
    value: Any = None
    unit: str | None = None
    reported: Status | None = None
    threshold: str | None = None
    output: str = ""
    message: str = ""

    def to_json(self) -> dict[str, Any]:
        """A plain dict for storage and the API."""
        data = asdict(self)
        data["status"] = self.status.value
        data["reported"] = self.reported.value if self.reported else None
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ComponentReading:
        """The component ``to_json`` wrote."""
        reported = data.get("reported")
        fields = {**data, "status": Status(data["status"])}
        fields["reported"] = Status(reported) if reported else None
        return cls(**fields)


@dataclass(frozen=True)
class HealthReading:
    """What an ``app`` monitor learned from one answer.

    ``verdict`` is the worst component's status (the report's own ``status`` when it has
    no checks). ``failure`` is set when there was no usable report: the probe's own
    failure, ``protocol`` when the body is not health+json, or ``too_large`` when the answer
    passed the probe's body limit; ``error`` then says why.
    """

    verdict: Status
    components: tuple[ComponentReading, ...] = ()
    reported: Status | None = None
    http_status: int | None = None
    failure: FailureKind | None = None
    error: str | None = None

    @property
    def summary(self) -> str:
        """What an alert says: ``rq:workers[emails] = 0 (< 1)``, or why there is no report."""
        if self.failure is not None:
            return f"{self.failure}: {self.error}" if self.error else str(self.failure)
        worst = [c.message for c in self.components if c.status is self.verdict]
        if self.verdict is Status.PASS:
            return f"all {len(self.components)} components pass"
        return "; ".join(worst) or f"the report says {self.reported}"

    @property
    def notes(self) -> tuple[str, ...]:
        """Extra facts worth showing, e.g. ``answered HTTP 503``."""
        if self.failure is None and self.http_status is not None and self.http_status >= 300:
            return (f"answered HTTP {self.http_status}",)
        return ()

    def to_json(self) -> dict[str, Any]:
        """A plain dict for storage and the API."""
        return {
            "verdict": self.verdict.value,
            "components": [c.to_json() for c in self.components],
            "reported": self.reported.value if self.reported else None,
            "http_status": self.http_status,
            "failure": self.failure.value if self.failure else None,
            "error": self.error,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> HealthReading:
        """The reading ``to_json`` wrote."""
        return cls(
            verdict=Status(data["verdict"]),
            components=tuple(ComponentReading.from_json(c) for c in data["components"]),
            reported=Status(data["reported"]) if data.get("reported") else None,
            http_status=data.get("http_status"),
            failure=FailureKind(data["failure"]) if data.get("failure") else None,
            error=data.get("error"),
        )


def read_health_report(
    observation: Observation, rules: Mapping[str, ComponentRule] | None = None
) -> HealthReading:
    """Judge ``observation``'s health+json body with ``rules`` (see ``parse_thresholds``).

    A 503 with a valid body is judged by its components like any other answer; a body
    that is not health+json is a ``protocol`` failure, whatever the HTTP status.
    """
    status = observation.status
    if observation.failure is not None:
        return HealthReading(
            Status.FAIL, http_status=status, failure=observation.failure, error=observation.error
        )
    try:
        reported, entries = _parse(observation.body)
        components = _components(entries, rules or {})
    except _NotHealthJson as exc:
        if observation.body_truncated:
            # Only the first part of a huge answer was read: judging it would be a guess.
            error = (
                f"the answer is larger than the {_size(len(observation.body))} a probe reads,"
                f" so it is not a whole report (HTTP {status})"
            )
            return HealthReading(
                Status.FAIL, http_status=status, failure=FailureKind.TOO_LARGE, error=error
            )
        error = f"not an application/health+json report: {exc} (HTTP {status})"
        return HealthReading(
            Status.FAIL, http_status=status, failure=FailureKind.PROTOCOL, error=error
        )
    verdict = Status.worst(c.status for c in components) if components else reported
    return HealthReading(verdict, tuple(components), reported, status)


def _parse(body: bytes) -> tuple[Status, list[tuple[str, int, Mapping[str, Any]]]]:
    """The report's status and its entries as ``(check key, index, entry)``."""
    try:
        document = load_json(body)
    except (ValueError, RecursionError):
        raise _NotHealthJson("the body is not JSON") from None
    if not isinstance(document, dict):
        raise _NotHealthJson("the body is not a JSON object")
    if "status" not in document:
        raise _NotHealthJson('no "status" field')
    reported = _status(document["status"], "status")
    checks = document.get("checks")
    checks = {} if checks is None else checks
    if not isinstance(checks, dict):
        raise _NotHealthJson('"checks" is not an object')
    entries: list[tuple[str, int, Mapping[str, Any]]] = []
    for key, items in checks.items():
        if not isinstance(items, list):
            raise _NotHealthJson(f"checks[{json.dumps(key)}] is not a list")
        for index, entry in enumerate(items):
            if not isinstance(entry, dict):
                raise _NotHealthJson(f"checks[{json.dumps(key)}][{index}] is not an object")
            entries.append((key, index, entry))
    return reported, entries


def _status(value: object, where: str) -> Status:
    status = _ALIASES.get(value.lower()) if isinstance(value, str) else None
    if status is None:
        raise _NotHealthJson(f"{where}: unknown status {value!r} (expected pass, warn, fail)")
    return status


def _components(
    entries: list[tuple[str, int, Mapping[str, Any]]], rules: Mapping[str, ComponentRule]
) -> list[ComponentReading]:
    components: list[ComponentReading] = []
    seen: dict[str, int] = {}
    for check, index, entry in entries:
        raw_id = entry.get("componentId")
        component_id = None if raw_id is None or raw_id == "" else str(raw_id)
        key = check if component_id is None else f"{check}[{component_id}]"
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1:  # two entries with one key: keep both, apart
            key = f"{key}#{seen[key]}"
        where = f"checks[{json.dumps(check)}][{index}].status"
        reported = _status(entry["status"], where) if entry.get("status") is not None else None
        unit = entry.get("observedUnit")
        output = entry.get("output")
        components.append(
            _judge(
                ComponentReading(
                    key,
                    check,
                    component_id,
                    Status.PASS,
                    entry.get("observedValue"),
                    unit if isinstance(unit, str) else None,
                    reported,
                    output=output if isinstance(output, str) else "",
                ),
                rule_for(rules, check, component_id),
            )
        )
    return components


def _judge(component: ComponentReading, rule: ComponentRule | None) -> ComponentReading:
    """``component`` with its state and message: a breached threshold decides, then the
    entry's own status (an entry without one passes)."""
    value = component.value
    shown = format_number(value) if is_number(value) else _cut(format_json(value))
    head = f"{component.key} = {shown}"
    if rule is not None and is_number(value):
        for level, threshold in ((Status.FAIL, rule.fail), (Status.WARN, rule.warn)):
            if threshold is not None and threshold.breached(value):
                message = f"{head} ({threshold.text})"
                return _with(component, level, message, threshold.text)
        return _with(component, Status.PASS, head, None)
    status = component.reported or Status.PASS
    if status is Status.PASS:
        return _with(component, status, head, None)
    output = f": {_cut(component.output)}" if component.output else ""
    return _with(component, status, f"{head} (reported {status}{output})", None)


def _with(
    component: ComponentReading, status: Status, message: str, threshold: str | None
) -> ComponentReading:
    return replace(component, status=status, message=message, threshold=threshold)


def _cut(text: str) -> str:
    return text if len(text) <= OUTPUT_SHOWN else text[: OUTPUT_SHOWN - 1] + "…"


def _size(count: int) -> str:
    if count >= 1024 * 1024 and count % (1024 * 1024) == 0:
        return f"{count // (1024 * 1024)} MiB"
    if count >= 1024 and count % 1024 == 0:
        return f"{count // 1024} KiB"
    return f"{count} bytes"
