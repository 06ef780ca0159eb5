"""Assertions, table-driven: the short and structured forms, their errors, and evaluation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from tocsin.errors import ValidationError
from tocsin.health.model import Status
from tocsin.server.domain.assertions import (
    Assertion,
    AssertionOutcome,
    AssertionSyntaxError,
    Operator,
    Severity,
    Subject,
    assertion_from_json,
    evaluate,
    failed_messages,
    parse_assertion,
    parse_assertions,
    parse_json_path,
    verdict,
)
from tocsin.server.domain.component_thresholds import parse_thresholds
from tocsin.server.domain.confirmation import ConfirmPolicy, confirm_policy
from tocsin.server.domain.observations import FailureKind, Observation, Timings

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
Op = Operator
S = Subject


def path(text: str) -> Any:
    return parse_json_path(text)


@pytest.mark.parametrize(
    ("text", "expected", "canonical"),
    [
        pytest.param("status == 200", Assertion(S.STATUS, Op.EQ, 200), None, id="status-code"),
        pytest.param(
            "status==200", Assertion(S.STATUS, Op.EQ, 200), "status == 200", id="no-spaces"
        ),
        pytest.param("status != 500", Assertion(S.STATUS, Op.NE, 500), None, id="status-ne"),
        pytest.param(
            "status == 2XX", Assertion(S.STATUS, Op.EQ, "2xx"), "status == 2xx", id="class"
        ),
        pytest.param("status < 400", Assertion(S.STATUS, Op.LT, 400), None, id="status-lt"),
        pytest.param(
            "status in [200,204, 3xx]",
            Assertion(S.STATUS, Op.IN, (200, 204, "3xx")),
            "status in [200, 204, 3xx]",
            id="status-in",
        ),
        pytest.param(
            "response_time < 800ms", Assertion(S.RESPONSE_TIME, Op.LT, 800.0), None, id="ms"
        ),
        pytest.param(
            "response_time <= 2s", Assertion(S.RESPONSE_TIME, Op.LE, 2000.0), None, id="seconds"
        ),
        pytest.param(
            "response_time < 1.5s",
            Assertion(S.RESPONSE_TIME, Op.LT, 1500.0),
            "response_time < 1500ms",
            id="fractional-seconds",
        ),
        pytest.param(
            "response_time > 250",
            Assertion(S.RESPONSE_TIME, Op.GT, 250.0),
            "response_time > 250ms",
            id="bare-number-is-ms",
        ),
        pytest.param(
            'header Content-Type contains "json"',
            Assertion(S.HEADER, Op.CONTAINS, "json", name="content-type"),
            'header content-type contains "json"',
            id="header-contains-lowercased",
        ),
        pytest.param(
            'header x-version == "3"',
            Assertion(S.HEADER, Op.EQ, "3", name="x-version"),
            None,
            id="header-eq",
        ),
        pytest.param(
            "header etag exists",
            Assertion(S.HEADER, Op.EXISTS, name="etag"),
            None,
            id="header-exists",
        ),
        pytest.param(
            "header x-debug not  exists",
            Assertion(S.HEADER, Op.NOT_EXISTS, name="x-debug"),
            "header x-debug not exists",
            id="header-not-exists",
        ),
        pytest.param(
            'body contains "pong"', Assertion(S.BODY, Op.CONTAINS, "pong"), None, id="body"
        ),
        pytest.param(
            'body not contains "error"',
            Assertion(S.BODY, Op.NOT_CONTAINS, "error"),
            None,
            id="body-not-contains",
        ),
        pytest.param('body matches "^ok"', Assertion(S.BODY, Op.MATCHES, "^ok"), None, id="regex"),
        pytest.param(
            'body contains "say \\"hi\\" ✓"',
            Assertion(S.BODY, Op.CONTAINS, 'say "hi" ✓'),
            None,
            id="escaped-quotes-and-unicode",
        ),
        pytest.param(
            "json $.version exists",
            Assertion(S.JSON, Op.EXISTS, path=path("$.version")),
            None,
            id="json-exists",
        ),
        pytest.param(
            "json $.queue.depth < 100",
            Assertion(S.JSON, Op.LT, 100, path=path("$.queue.depth")),
            None,
            id="json-lt",
        ),
        pytest.param(
            'json $.status == "ok"',
            Assertion(S.JSON, Op.EQ, "ok", path=path("$.status")),
            None,
            id="json-eq-string",
        ),
        pytest.param(
            "json $.ok == true",
            Assertion(S.JSON, Op.EQ, True, path=path("$.ok")),
            None,
            id="json-eq-true",
        ),
        pytest.param(
            "json $.error == null",
            Assertion(S.JSON, Op.EQ, None, path=path("$.error")),
            None,
            id="json-eq-null",
        ),
        pytest.param(
            'json $.tags contains "x"',
            Assertion(S.JSON, Op.CONTAINS, "x", path=path("$.tags")),
            None,
            id="json-contains",
        ),
        pytest.param(
            "json $.ratio >= -0.5",
            Assertion(S.JSON, Op.GE, -0.5, path=path("$.ratio")),
            None,
            id="json-negative-float",
        ),
        pytest.param(
            """json $['checks']["rq:workers"][0].observedValue >= 1""",
            Assertion(S.JSON, Op.GE, 1, path=path('$.checks["rq:workers"][0].observedValue')),
            'json $.checks["rq:workers"][0].observedValue >= 1',
            id="json-brackets-canonical",
        ),
        pytest.param(
            "json $.workers[*].name exists",
            Assertion(S.JSON, Op.EXISTS, path=path("$.workers[*].name")),
            None,
            id="json-wildcard",
        ),
        pytest.param("cert_days > 14", Assertion(S.CERT_DAYS, Op.GT, 14), None, id="cert-days"),
        pytest.param(
            "response_time < 800ms [warn]",
            Assertion(S.RESPONSE_TIME, Op.LT, 800.0, severity=Severity.WARN),
            None,
            id="warn-suffix",
        ),
        pytest.param(
            "  status == 200[ fail ]  ",
            Assertion(S.STATUS, Op.EQ, 200),
            "status == 200",
            id="explicit-fail-and-spaces",
        ),
        pytest.param(
            "status in [200, 204] [warn]",
            Assertion(S.STATUS, Op.IN, (200, 204), severity=Severity.WARN),
            None,
            id="list-then-severity",
        ),
        pytest.param(
            "header etag exists [warn]",
            Assertion(S.HEADER, Op.EXISTS, name="etag", severity=Severity.WARN),
            None,
            id="presence-then-severity",
        ),
        pytest.param(
            'body contains "[warn]"',
            Assertion(S.BODY, Op.CONTAINS, "[warn]"),
            None,
            id="severity-inside-a-string-is-text",
        ),
    ],
)
def test_parse_short_form(text: str, expected: Assertion, canonical: str | None) -> None:
    parsed = parse_assertion(text)
    assert parsed == expected
    assert parsed.text == (canonical or text)
    assert parse_assertion(parsed.text) == parsed
    assert assertion_from_json(json.loads(json.dumps(parsed.to_json()))) == parsed


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("", "empty assertion; write e.g. status == 200 at column 1", id="empty"),
        pytest.param(
            "stats == 200",
            "unknown subject 'stats' (expected status, response_time, header, body, json, "
            "cert_days) at column 1",
            id="unknown-subject",
        ),
        pytest.param(
            "$.x exists [warn]",
            "unknown subject '$.x' (expected status, response_time, header, body, json, "
            "cert_days) at column 1",
            id="unknown-subject-with-severity",
        ),
        pytest.param(
            "status == 200 [critical]",
            "unknown severity 'critical' (expected [warn] or [fail]) at column 16",
            id="unknown-severity",
        ),
        pytest.param(
            "[warn]", "empty assertion; write e.g. status == 200 at column 1", id="only-severity"
        ),
        pytest.param(
            "warn: status == 200",
            "unknown subject 'warn' (expected status, response_time, header, body, json, "
            "cert_days) at column 1",
            id="severity-is-a-suffix",
        ),
        pytest.param(
            "status = 200",
            "unknown operator '=' (expected ==, !=, <, <=, >, >=, in) at column 8",
            id="single-equals",
        ),
        pytest.param(
            "status",
            "missing operator after status (expected ==, !=, <, <=, >, >=, in) at column 7",
            id="missing-operator",
        ),
        pytest.param(
            "status === 200",
            "unknown operator '===' (expected ==, !=, <, <=, >, >=, in) at column 8",
            id="triple-equals",
        ),
        pytest.param(
            "status !== 200",
            "unknown operator '!==' (expected ==, !=, <, <=, >, >=, in) at column 8",
            id="js-not-equals",
        ),
        pytest.param(
            "status >> 200",
            "unknown operator '>>' (expected ==, !=, <, <=, >, >=, in) at column 8",
            id="double-greater",
        ),
        pytest.param(
            "status <> 200",
            "unknown operator '<>' (expected ==, !=, <, <=, >, >=, in) at column 8",
            id="sql-not-equals",
        ),
        pytest.param(
            "status =< 200",
            "unknown operator '=<' (expected ==, !=, <, <=, >, >=, in) at column 8",
            id="reversed-less-or-equal",
        ),
        pytest.param(
            "status ===200",
            "unknown operator '===' (expected ==, !=, <, <=, >, >=, in) at column 8",
            id="triple-equals-no-space",
        ),
        pytest.param(
            "json $.x ==! 1",
            "unknown operator '==!' (expected ==, !=, <, <=, >, >=, contains, not contains, "
            "matches, not matches, exists, not exists) at column 10",
            id="trailing-bang",
        ),
        pytest.param(
            "response_time <<800ms",
            "unknown operator '<<' (expected <, <=, >, >=) at column 15",
            id="double-less-before-value",
        ),
        pytest.param(
            'body !== "x"',
            "unknown operator '!==' (expected ==, !=, contains, not contains, matches, "
            "not matches) at column 6",
            id="body-js-not-equals",
        ),
        pytest.param(
            'status contains "2"',
            "status does not support 'contains' (expected ==, !=, <, <=, >, >=, in) at column 8",
            id="operator-not-for-subject",
        ),
        pytest.param(
            'body < "x"',
            "body does not support '<' (expected ==, !=, contains, not contains, matches, "
            "not matches) at column 6",
            id="body-ordering",
        ),
        pytest.param("status ==", "missing value after == at column 10", id="missing-value"),
        pytest.param(
            "status == ok",
            "expected a status code like 200 or a class like 2xx at column 11",
            id="bad-status",
        ),
        pytest.param(
            "status == 700",
            "expected a status code like 200 or a class like 2xx at column 11",
            id="status-out-of-range",
        ),
        pytest.param(
            "status < 2xx",
            "status < needs a status code, e.g. status < 400 at column 10",
            id="class-with-ordering",
        ),
        pytest.param(
            "status in 200",
            "in needs a list of codes, e.g. status in [200, 204, 3xx] at column 11",
            id="in-without-list",
        ),
        pytest.param(
            "status in [200, 204",
            'missing "]" at the end of the list at column 20',
            id="unclosed-list",
        ),
        pytest.param(
            "response_time < 5 minutes",
            "unexpected 'minutes' after the value at column 19",
            id="trailing-text",
        ),
        pytest.param(
            "response_time < 5m",
            "expected a duration like 800ms or 2s (a bare number is milliseconds) at column 17",
            id="bad-duration-unit",
        ),
        pytest.param(
            'header contains "json"',
            'header needs a name, e.g. header content-type contains "json" at column 8',
            id="header-without-name",
        ),
        pytest.param(
            "header  ",
            'header needs a name, e.g. header content-type contains "json" at column 9',
            id="header-missing-name",
        ),
        pytest.param(
            "body contains pong", 'quote text values: "pong" at column 15', id="unquoted-text"
        ),
        pytest.param(
            'body contains "pong',
            'unterminated string; close it with " at column 15',
            id="unterminated-string",
        ),
        pytest.param(
            'body matches "ab(c"',
            "bad regular expression: missing ), unterminated subpattern at column 17",
            id="bad-regex-points-at-paren",
        ),
        pytest.param(
            'body matches "*a"',
            "bad regular expression: nothing to repeat at column 15",
            id="bad-regex-at-start",
        ),
        pytest.param(
            "json version exists",
            "bad JSON path: a JSON path starts with $ (e.g. $.version) at column 6",
            id="path-without-dollar",
        ),
        pytest.param(
            "json $..version exists",
            "bad JSON path: recursive descent (..) is not supported at column 7",
            id="recursive-descent",
        ),
        pytest.param(
            "json $.items[?(@.x)] exists",
            "bad JSON path: filter expressions are not supported at column 14",
            id="filter",
        ),
        pytest.param(
            "json $.items[0:2] exists",
            "bad JSON path: slices are not supported at column 15",
            id="slice",
        ),
        pytest.param(
            "json $.x-y exists",
            'bad JSON path: unexpected \'-\'; expected ".name" or "[...]" at column 9',
            id="hyphen-needs-brackets",
        ),
        pytest.param(
            "json $.items[0 exists",
            'bad JSON path: expected "]" at column 15',
            id="unclosed-bracket",
        ),
        pytest.param(
            "json", "json needs a path, e.g. json $.version exists at column 5", id="no-path"
        ),
        pytest.param(
            'json $.x < "high"',
            "< needs a number, e.g. json $.queue.depth < 100 at column 12",
            id="json-ordering-string",
        ),
        pytest.param(
            "json $.status == ok", 'quote text values: "ok" at column 18', id="json-bare-word"
        ),
        pytest.param(
            "json $.x exists 1", "exists takes no value at column 17", id="exists-with-value"
        ),
        pytest.param(
            "cert_days > soon",
            "cert_days needs a number of days, e.g. cert_days > 14 at column 13",
            id="cert-days-word",
        ),
    ],
)
def test_parse_errors_name_the_problem_and_column(text: str, message: str) -> None:
    with pytest.raises(AssertionSyntaxError) as caught:
        parse_assertion(text)
    assert str(caught.value) == message
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(
            {"subject": "status", "op": "==", "value": "2xx"},
            Assertion(S.STATUS, Op.EQ, "2xx"),
            id="status-class",
        ),
        pytest.param(
            {"subject": "status", "op": "in", "value": [200, 204]},
            Assertion(S.STATUS, Op.IN, (200, 204)),
            id="status-list",
        ),
        pytest.param(
            {"subject": "response_time", "op": "<", "value": "800ms", "severity": "warn"},
            Assertion(S.RESPONSE_TIME, Op.LT, 800.0, severity=Severity.WARN),
            id="duration-string",
        ),
        pytest.param(
            {"subject": "response_time", "op": "<", "value": 800},
            Assertion(S.RESPONSE_TIME, Op.LT, 800.0),
            id="duration-number-ms",
        ),
        pytest.param(
            {"subject": "header", "name": "ETag", "op": "exists"},
            Assertion(S.HEADER, Op.EXISTS, name="etag"),
            id="header",
        ),
        pytest.param(
            {"subject": "json", "path": "$.status", "op": "==", "value": "ok"},
            Assertion(S.JSON, Op.EQ, "ok", path=path("$.status")),
            id="json",
        ),
        pytest.param(
            {"subject": "body", "op": "not  contains", "value": "error"},
            Assertion(S.BODY, Op.NOT_CONTAINS, "error"),
            id="spaces-in-op",
        ),
    ],
)
def test_structured_form(data: dict[str, Any], expected: Assertion) -> None:
    assert assertion_from_json(data) == expected


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(
            {"subject": "stats", "op": "=="},
            "subject: unknown subject 'stats' (expected status, response_time, header, body, "
            "json, cert_days)",
            id="unknown-subject",
        ),
        pytest.param(
            {"op": "=="},
            "subject: missing (expected status, response_time, header, body, json, cert_days)",
            id="missing-subject",
        ),
        pytest.param(
            {"subject": "status", "op": "=", "value": 200},
            "op: unknown operator '=' (expected ==, !=, <, <=, >, >=, in)",
            id="bad-op",
        ),
        pytest.param(
            {"subject": "status", "op": "==", "value": "200"},
            "value: expected a status code like 200 or a class like 2xx",
            id="quoted-code",
        ),
        pytest.param(
            {"subject": "json", "op": "exists"},
            "path: a json assertion needs a path like $.version",
            id="json-without-path",
        ),
        pytest.param(
            {"subject": "json", "path": "version", "op": "exists"},
            "path: bad JSON path: a JSON path starts with $ (e.g. $.version) at column 1",
            id="bad-path",
        ),
        pytest.param(
            {"subject": "status", "path": "$.x", "op": "==", "value": 200},
            "path: status takes no path",
            id="path-on-status",
        ),
        pytest.param(
            {"subject": "header", "op": "exists"},
            "name: a header assertion needs a header name",
            id="header-without-name",
        ),
        pytest.param(
            {"subject": "body", "op": "matches", "value": "(("},
            "value: bad regular expression: missing ), unterminated subpattern",
            id="bad-regex",
        ),
        pytest.param(
            {"subject": "status", "op": "==", "value": 200, "severity": "page"},
            "severity: unknown severity 'page' (expected fail, warn)",
            id="bad-severity",
        ),
        pytest.param(
            {"subject": "status", "op": "==", "value": 200, "weight": 1},
            "weight: unknown key; expected name, op, path, severity, subject, value",
            id="unknown-key",
        ),
        pytest.param(
            {"subject": "json", "path": "$.x", "op": "exists", "value": 1},
            "value: exists takes no value",
            id="exists-with-value",
        ),
    ],
)
def test_structured_form_errors_name_the_key(data: dict[str, Any], message: str) -> None:
    with pytest.raises(AssertionSyntaxError) as caught:
        assertion_from_json(data)
    assert str(caught.value) == message


def test_a_list_reports_every_bad_item() -> None:
    with pytest.raises(ValidationError) as caught:
        parse_assertions(["status == 200", "stats == 1", {"subject": "body"}, 42])
    assert caught.value.fields == {
        "assert[1]": "unknown subject 'stats' (expected status, response_time, header, body, "
        "json, cert_days) at column 1",
        "assert[2]": "op: missing operator (expected ==, !=, contains, not contains, matches, "
        "not matches)",
        "assert[3]": "must be a string like 'status == 200' or an object",
    }
    both = parse_assertions(
        ['body contains "a"', {"subject": "body", "op": "contains", "value": "a"}]
    )
    assert both[0] == both[1]


# --- evaluation ---------------------------------------------------------------------------

BODY = {
    "status": "ok",
    "version": "3.1",
    "ok": True,
    "error": None,
    "queue": {"depth": 12},
    "tags": ["x", "y"],
    "workers": [{"name": "a"}, {"name": "b"}],
    "count": 1,
}
HEADERS = {"content-type": "application/json; charset=utf-8", "x-version": "3"}


def seen(**changes: Any) -> Observation:
    base: dict[str, Any] = {
        "url": "https://api.example.com/v1/ping",
        "started_at": NOW,
        "status": 200,
        "headers": HEADERS,
        "body": json.dumps(BODY).encode(),
        "timings": Timings(total_ms=123.45),
        "cert_not_after": NOW + timedelta(days=30, hours=12),
    }
    base.update(changes)
    return Observation(**base)


OK = seen()
REFUSED = Observation(
    "http://127.0.0.1:1/", NOW, failure=FailureKind.REFUSED, error="connection refused"
)
TIMEOUT = seen(
    status=None, headers={}, body=b"", timings=Timings(total_ms=5000.0), failure=FailureKind.TIMEOUT
)
HTML = seen(status=503, headers={"content-type": "text/html"}, body=b"<html>down</html>")
SLOW = seen(timings=Timings(total_ms=812.3))


@pytest.mark.parametrize(
    ("text", "observation", "passed", "resolved", "message"),
    [
        pytest.param("status == 200", OK, True, 200, "status (200) == 200", id="status-pass"),
        pytest.param("status == 200", HTML, False, 503, "status (503) == 200", id="status-fail"),
        pytest.param("status == 2xx", OK, True, 200, "status (200) == 2xx", id="class-pass"),
        pytest.param("status == 2xx", HTML, False, 503, "status (503) == 2xx", id="class-fail"),
        pytest.param("status != 5xx", HTML, False, 503, "status (503) != 5xx", id="not-class"),
        pytest.param("status in [200, 3xx]", OK, True, 200, "status (200) in [200, 3xx]", id="in"),
        pytest.param("status < 500", HTML, False, 503, "status (503) < 500", id="status-lt"),
        pytest.param(
            "status == 200",
            REFUSED,
            False,
            None,
            "status (no answer: refused) == 200",
            id="refused",
        ),
        pytest.param(
            "response_time < 800ms",
            OK,
            True,
            123.5,
            "response_time (123.5ms) < 800ms",
            id="fast",
        ),
        pytest.param(
            "response_time < 800ms",
            SLOW,
            False,
            812.3,
            "response_time (812.3ms) < 800ms",
            id="slow",
        ),
        pytest.param(
            "response_time < 10s",
            TIMEOUT,
            False,
            None,
            "response_time (no answer: timeout) < 10s",
            id="timeout-fails-response-time",
        ),
        pytest.param(
            'header content-type contains "json"',
            OK,
            True,
            "application/json; charset=utf-8",
            'header content-type ("application/json; charset=utf-8") contains "json"',
            id="header-contains",
        ),
        pytest.param(
            'header content-type contains "json"',
            HTML,
            False,
            "text/html",
            'header content-type ("text/html") contains "json"',
            id="header-contains-fails",
        ),
        pytest.param(
            'header x-version == "3"',
            OK,
            True,
            "3",
            'header x-version ("3") == "3"',
            id="header-eq",
        ),
        pytest.param(
            "header etag exists",
            OK,
            False,
            None,
            "header etag (missing) exists",
            id="header-missing",
        ),
        pytest.param(
            "header etag not exists",
            OK,
            True,
            None,
            "header etag (missing) not exists",
            id="header-not-exists",
        ),
        pytest.param(
            "header etag not exists",
            REFUSED,
            False,
            None,
            "header etag (no answer: refused) not exists",
            id="not-exists-needs-an-answer",
        ),
        pytest.param(
            'body contains "down"',
            HTML,
            True,
            "<html>down</html>",
            'body ("<html>down</html>") contains "down"',
            id="body-contains",
        ),
        pytest.param(
            'body not contains "down"',
            HTML,
            False,
            "<html>down</html>",
            'body ("<html>down</html>") not contains "down"',
            id="body-not-contains",
        ),
        pytest.param(
            'body not contains "error"',
            REFUSED,
            False,
            None,
            'body (no answer: refused) not contains "error"',
            id="not-contains-on-refused-fails",
        ),
        pytest.param(
            'body matches "^<html>"',
            HTML,
            True,
            "<html>down</html>",
            'body ("<html>down</html>") matches "^<html>"',
            id="body-regex",
        ),
        pytest.param(
            'body not matches "^<html>"',
            HTML,
            False,
            "<html>down</html>",
            'body ("<html>down</html>") not matches "^<html>"',
            id="body-not-regex",
        ),
        pytest.param(
            "json $.version exists", OK, True, "3.1", 'json $.version ("3.1") exists', id="exists"
        ),
        pytest.param(
            "json $.build exists", OK, False, None, "json $.build (missing) exists", id="missing"
        ),
        pytest.param(
            "json $.error exists", OK, True, None, "json $.error (null) exists", id="null-exists"
        ),
        pytest.param(
            "json $.build not exists",
            OK,
            True,
            None,
            "json $.build (missing) not exists",
            id="json-not-exists",
        ),
        pytest.param(
            "json $.queue.depth < 100", OK, True, 12, "json $.queue.depth (12) < 100", id="lt"
        ),
        pytest.param(
            "json $.queue.depth > 100",
            OK,
            False,
            12,
            "json $.queue.depth (12) > 100",
            id="gt-fails",
        ),
        pytest.param(
            "json $.version < 100",
            OK,
            False,
            "3.1",
            'json $.version ("3.1") < 100',
            id="ordering-on-a-string-fails",
        ),
        pytest.param(
            'json $.status == "ok"', OK, True, "ok", 'json $.status ("ok") == "ok"', id="eq"
        ),
        pytest.param("json $.ok == true", OK, True, True, "json $.ok (true) == true", id="true"),
        pytest.param(
            "json $.count == true", OK, False, 1, "json $.count (1) == true", id="one-is-not-true"
        ),
        pytest.param(
            "json $.count == 1.0", OK, True, 1, "json $.count (1) == 1.0", id="int-equals-float"
        ),
        pytest.param(
            'json $.tags contains "x"',
            OK,
            True,
            ["x", "y"],
            'json $.tags (["x", "y"]) contains "x"',
            id="list-contains",
        ),
        pytest.param(
            'json $.tags contains "z"',
            OK,
            False,
            ["x", "y"],
            'json $.tags (["x", "y"]) contains "z"',
            id="list-lacks",
        ),
        pytest.param(
            'json $.queue contains "depth"',
            OK,
            True,
            {"depth": 12},
            'json $.queue ({"depth": 12}) contains "depth"',
            id="object-has-key",
        ),
        pytest.param(
            'json $.workers[*].name contains "b"',
            OK,
            True,
            ["a", "b"],
            'json $.workers[*].name (["a", "b"]) contains "b"',
            id="wildcard",
        ),
        pytest.param(
            'json $.workers[-1].name == "b"',
            OK,
            True,
            "b",
            'json $.workers[-1].name ("b") == "b"',
            id="negative-index",
        ),
        pytest.param(
            'json $.version matches "^3\\\\."',
            OK,
            True,
            "3.1",
            'json $.version ("3.1") matches "^3\\\\."',
            id="json-regex",
        ),
        pytest.param(
            "json $.version exists",
            HTML,
            False,
            None,
            "json $.version (body is not JSON) exists",
            id="not-json",
        ),
        pytest.param(
            "json $.version not exists",
            HTML,
            False,
            None,
            "json $.version (body is not JSON) not exists",
            id="not-exists-needs-json",
        ),
        pytest.param(
            "json $.version exists",
            seen(body=b'{"version": "3', body_truncated=True),
            False,
            None,
            "json $.version (body is not JSON (truncated)) exists",
            id="truncated-json",
        ),
        pytest.param(
            "json $.version exists",
            TIMEOUT,
            False,
            None,
            "json $.version (no answer: timeout) exists",
            id="json-on-timeout",
        ),
        pytest.param("cert_days > 14", OK, True, 30.5, "cert_days (30.5) > 14", id="cert-ok"),
        pytest.param("cert_days > 31", OK, False, 30.5, "cert_days (30.5) > 31", id="cert-soon"),
        pytest.param(
            "cert_days > 14",
            seen(cert_not_after=NOW - timedelta(days=2), failure=FailureKind.TLS),
            False,
            -2,
            "cert_days (-2) > 14",
            id="cert-expired-still-resolved",
        ),
        pytest.param(
            "cert_days > 14", REFUSED, False, None, "cert_days (no certificate) > 14", id="no-cert"
        ),
    ],
)
def test_evaluate(
    text: str, observation: Observation, passed: bool, resolved: Any, message: str
) -> None:
    (outcome,) = evaluate([parse_assertion(text)], observation, NOW)
    assert (outcome.passed, outcome.resolved, outcome.message) == (passed, resolved, message)
    assert outcome.text == parse_assertion(text).text


def test_body_is_decoded_with_the_declared_charset() -> None:
    latin = seen(
        headers={"content-type": "text/plain; charset=iso-8859-1"}, body="café".encode("latin-1")
    )
    (outcome,) = evaluate([parse_assertion('body contains "café"')], latin, NOW)
    assert outcome.passed


def test_long_values_are_cut_in_the_outcome_and_the_message() -> None:
    big = seen(body=b"x" * 5000)
    (outcome,) = evaluate([parse_assertion('body contains "y"')], big, NOW)
    assert outcome.resolved == "x" * 200 + "…"
    assert outcome.message == 'body ("' + "x" * 58 + '…) contains "y"'


def test_outcomes_round_trip_through_json() -> None:
    outcomes = evaluate([parse_assertion("status == 200 [warn]")], HTML, NOW)
    stored = json.loads(json.dumps([o.to_json() for o in outcomes]))
    assert [AssertionOutcome.from_json(o) for o in stored] == outcomes
    assert stored[0] == {
        "text": "status == 200 [warn]",
        "severity": "warn",
        "passed": False,
        "resolved": 503,
        "message": "status (503) == 200",
    }


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        pytest.param([], Status.PASS, id="none"),
        pytest.param(["status == 200", "json $.ok == true"], Status.PASS, id="all-pass"),
        pytest.param(["status == 200", "json $.count > 5 [warn]"], Status.WARN, id="warn-only"),
        pytest.param(["json $.count > 5 [warn]", "json $.build exists"], Status.FAIL, id="fail"),
    ],
)
def test_verdict(texts: list[str], expected: Status) -> None:
    assert verdict(evaluate([parse_assertion(t) for t in texts], OK, NOW)) is expected


def test_failed_messages_put_failures_before_warnings() -> None:
    assertions = parse_assertions(
        ["response_time < 100ms [warn]", "status == 200", "status == 503"]
    )
    assert failed_messages(evaluate(assertions, OK, NOW)) == [
        "status (200) == 503",
        "response_time (123.5ms) < 100ms",
    ]


def _storable(data: Any) -> bool:
    """Whether PostgreSQL can store ``data`` as JSON: no NUL, no lone surrogate anywhere."""
    if isinstance(data, str):
        return "\x00" not in data and all(not 0xD800 <= ord(c) <= 0xDFFF for c in data)
    if isinstance(data, list):
        return all(_storable(item) for item in data)
    if isinstance(data, dict):
        return all(_storable(key) and _storable(item) for key, item in data.items())
    return True


def test_outcomes_from_a_hostile_body_are_storable() -> None:
    hostile = seen(headers={"x-odd": "a\x00b"}, body=b'{"v": "a\\u0000b\\ud800", "\\u0000k": [1]}')
    assertions = parse_assertions(
        ['json $.v == "x"', 'body contains "x"', 'header x-odd == "x"', "json $ exists"]
    )
    outcomes = evaluate(assertions, hostile, NOW)
    assert [o.passed for o in outcomes] == [False, False, False, True]
    assert all(_storable(o.to_json()) for o in outcomes)
    assert outcomes[0].resolved == "a\ufffdb\ufffd"


def test_assertions_refuse_text_a_database_cannot_store() -> None:
    with pytest.raises(AssertionSyntaxError) as caught:
        parse_assertion('body contains "\\u0000"')
    assert str(caught.value) == "text must not contain NUL or lone surrogates at column 15"


def test_the_examples_in_the_docs_parse() -> None:
    doc = (Path(__file__).parents[3] / "docs" / "assertions.md").read_text()
    blocks = [yaml.safe_load(b.split("```")[0]) for b in doc.split("```yaml\n")[1:]]
    found = {k: v for block in blocks if isinstance(block, dict) for k, v in block.items()}
    items = found["assert"] + next(b for b in blocks if isinstance(b, list))
    assert all(isinstance(item, str) for item in items)
    assert len(parse_assertions(items)) == 8
    assert set(parse_thresholds(found["components"])) == {
        "rq:queue_depth",
        "rq:oldest_job_age[emails]",
        "rq:workers",
    }
    assert confirm_policy(found["confirm"]) == ConfirmPolicy(2, 1, timedelta(seconds=10))


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"x": NaN}', id="nan"),
        pytest.param(b'{"x": -Infinity}', id="infinity"),
        pytest.param(b'{"x": 1e400}', id="overflowing-float"),
    ],
)
def test_non_standard_json_numbers_are_not_json(body: bytes) -> None:
    (outcome,) = evaluate([parse_assertion("json $.x exists")], seen(body=body), NOW)
    assert (outcome.passed, outcome.message) == (False, "json $.x (body is not JSON) exists")
