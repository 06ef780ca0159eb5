"""Thresholds an ``app`` monitor applies to the components of a health report.

Config maps a check key, optionally narrowed to one ``componentId``, to a ``warn`` and/or
``fail`` threshold on the entry's ``observedValue``::

    {"rq:queue_depth": {"warn": "> 500", "fail": "> 2000"},
     "rq:oldest_job_age[emails]": {"fail": "> 300"},
     "rq:workers": {"fail": "< 1"}}

A key with ``[id]`` replaces (does not merge with) the key without it for that entry.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tocsin.errors import ValidationError
from tocsin.server.domain.assertion_model import Operator, compare, format_number, is_number

_KEY = re.compile(r"([^\s:\[\]]+:[^\s:\[\]]+)(?:\[([^\[\]]+)\])?")
_THRESHOLD = re.compile(r"\s*(==|!=|<=|>=|<|>)\s*(-?[0-9]+(?:\.[0-9]+)?)\s*")
_LEVELS = ("warn", "fail")
KEY_RULE = 'keys are "component:measurement", optionally with "[componentId]", e.g. rq:workers'
THRESHOLD_RULE = 'a threshold is an operator (>, >=, <, <=, ==, !=) and a number, e.g. "> 500"'


@dataclass(frozen=True)
class Threshold:
    """``value <operator> limit`` breaches the threshold, e.g. ``> 500``."""

    operator: Operator
    limit: float

    @property
    def text(self) -> str:
        """As written in config: ``> 500``."""
        return f"{self.operator} {format_number(self.limit)}"

    def breached(self, value: object) -> bool:
        """Whether a numeric ``value`` breaches it (anything else never does)."""
        return is_number(value) and compare(self.operator, value, self.limit)


@dataclass(frozen=True)
class ComponentRule:
    """The thresholds for one check key, or one entry of it when ``component_id`` is set."""

    check: str
    component_id: str | None = None
    warn: Threshold | None = None
    fail: Threshold | None = None

    @property
    def key(self) -> str:
        """``rq:workers`` or ``rq:workers[emails]``."""
        return self.check if self.component_id is None else f"{self.check}[{self.component_id}]"

    def to_json(self) -> dict[str, str]:
        """The config value: ``{"warn": "> 500", "fail": "> 2000"}``."""
        levels = {"warn": self.warn, "fail": self.fail}
        return {name: t.text for name, t in levels.items() if t is not None}


def parse_threshold(text: object) -> Threshold:
    """``"> 500"`` → ``Threshold(GT, 500)``; raise ``ValueError`` saying how to write one."""
    match = _THRESHOLD.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"{text!r} is not a threshold; {THRESHOLD_RULE}")
    number = float(match.group(2))
    return Threshold(Operator(match.group(1)), int(number) if number.is_integer() else number)


def parse_thresholds(
    config: Mapping[str, Any] | None, field: str = "components"
) -> dict[str, ComponentRule]:
    """Validate the whole ``components`` config; raise ``ValidationError`` listing every
    problem as ``components.<key>: ...``. The result is keyed by ``ComponentRule.key``."""
    rules: dict[str, ComponentRule] = {}
    errors: dict[str, str] = {}
    if config is None:
        return rules
    if not isinstance(config, Mapping):
        raise ValidationError("invalid components", {field: "must map check keys to thresholds"})
    for key, levels in config.items():
        where = f"{field}.{key}"
        match = _KEY.fullmatch(key) if isinstance(key, str) else None
        if match is None:
            errors[where] = f"bad key {key!r}: {KEY_RULE}"
            continue
        if not isinstance(levels, Mapping) or not levels:
            errors[where] = 'must give "warn" and/or "fail", e.g. {fail: "< 1"}'
            continue
        parsed: dict[str, Threshold] = {}
        problems = []
        for level, text in levels.items():
            if level not in _LEVELS:
                problems.append(f"unknown level {level!r} (expected warn or fail)")
                continue
            try:
                parsed[level] = parse_threshold(text)
            except ValueError as exc:
                problems.append(f"{level}: {exc}")
        if problems:
            errors[where] = "; ".join(problems)
            continue
        rule = ComponentRule(match.group(1), match.group(2), parsed.get("warn"), parsed.get("fail"))
        rules[rule.key] = rule
    if errors:
        raise ValidationError("invalid components", errors)
    return rules


def rule_for(
    rules: Mapping[str, ComponentRule], check: str, component_id: str | None
) -> ComponentRule | None:
    """The most specific rule for an entry: ``check[id]`` first, then ``check``."""
    if component_id is not None:
        specific = rules.get(f"{check}[{component_id}]")
        if specific is not None:
            return specific
    return rules.get(check)
