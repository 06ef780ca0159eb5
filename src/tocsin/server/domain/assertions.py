"""Assertions on what a probe saw: the public surface of parsing and evaluating them.

``parse_assertion("status == 200")`` or ``assertion_from_json({...})`` give an
``Assertion``; ``evaluate(assertions, observation, now)`` gives one ``AssertionOutcome``
per assertion with the value it resolved; ``verdict(outcomes)`` is pass, warn or fail.
The syntax is documented in docs/assertions.md.
"""

from __future__ import annotations

from tocsin.server.domain.assertion_eval import (
    AssertionOutcome,
    evaluate,
    failed_messages,
    verdict,
)
from tocsin.server.domain.assertion_model import (
    Assertion,
    AssertionSyntaxError,
    Operator,
    Severity,
    Subject,
)
from tocsin.server.domain.assertion_parser import (
    assertion_from_json,
    parse_assertion,
    parse_assertions,
)
from tocsin.server.domain.json_paths import JsonPath, JsonPathError, parse_json_path

__all__ = [
    "Assertion",
    "AssertionOutcome",
    "AssertionSyntaxError",
    "JsonPath",
    "JsonPathError",
    "Operator",
    "Severity",
    "Subject",
    "assertion_from_json",
    "evaluate",
    "failed_messages",
    "parse_assertion",
    "parse_assertions",
    "parse_json_path",
    "verdict",
]
