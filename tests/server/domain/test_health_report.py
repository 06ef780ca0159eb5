"""App components from health+json answers (as tocsin's own library serves them), judged
by thresholds from config, table-driven."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from tocsin.errors import ValidationError
from tocsin.health.model import HealthReport, Measurement, Status
from tocsin.server.domain.component_thresholds import parse_threshold, parse_thresholds
from tocsin.server.domain.health_report import HealthReading, read_health_report
from tocsin.server.domain.observations import FailureKind, Observation

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
P, W, F = Status.PASS, Status.WARN, Status.FAIL
RULES = parse_thresholds(
    {
        "rq:queue_depth": {"warn": "> 500", "fail": "> 2000"},
        "rq:oldest_job_age[emails]": {"fail": "> 300"},
        "rq:workers": {"fail": "< 1"},
    }
)


def rq(name: str, value: Any, status: Status = P, queue: str = "emails", **kw: Any) -> Measurement:
    return Measurement(
        "rq",
        name,
        status,
        component_id=queue,
        component_type="queue",
        observed_value=value,
        time=NOW,
        **kw,
    )


def answer(*measurements: Measurement, status: int | None = None) -> Observation:
    """What a probe of a tocsin app's /healthz sees: the library's own report."""
    report = HealthReport(tuple(measurements), duration=0.01, time=NOW)
    body = json.dumps(report.to_json(version="1")).encode()
    code = report.http_status if status is None else status
    headers = {"content-type": "application/health+json"}
    return Observation("http://127.0.0.1:5000/healthz", NOW, code, headers, body)


def raw(body: bytes | str, status: int = 200) -> Observation:
    data = body.encode() if isinstance(body, str) else body
    return Observation("http://127.0.0.1:5000/healthz", NOW, status, {}, data)


@pytest.mark.parametrize(
    ("measurement", "state", "threshold", "message"),
    [
        pytest.param(
            rq("workers", 0, F, output="live workers: none"),
            F,
            "< 1",
            "rq:workers[emails] = 0 (< 1)",
            id="no-workers-fails-by-threshold",
        ),
        pytest.param(rq("workers", 2), P, None, "rq:workers[emails] = 2", id="workers-pass"),
        pytest.param(
            rq("queue_depth", 700),
            W,
            "> 500",
            "rq:queue_depth[emails] = 700 (> 500)",
            id="depth-warns",
        ),
        pytest.param(
            rq("queue_depth", 2500),
            F,
            "> 2000",
            "rq:queue_depth[emails] = 2500 (> 2000)",
            id="depth-fails-the-worse-level-wins",
        ),
        pytest.param(
            rq("queue_depth", 12, W),
            P,
            None,
            "rq:queue_depth[emails] = 12",
            id="threshold-overrides-reported-status",
        ),
        pytest.param(
            rq("oldest_job_age", 412.5),
            F,
            "> 300",
            "rq:oldest_job_age[emails] = 412.5 (> 300)",
            id="id-specific-rule",
        ),
        pytest.param(
            rq("oldest_job_age", 412.5, queue="reports"),
            P,
            None,
            "rq:oldest_job_age[reports] = 412.5",
            id="rule-for-another-id-does-not-apply",
        ),
        pytest.param(
            rq("oldest_job_age", None, F, output="redis: connection refused"),
            F,
            None,
            "rq:oldest_job_age[emails] = null (reported fail: redis: connection refused)",
            id="no-number-falls-back-to-reported",
        ),
        pytest.param(
            rq("failed_jobs", 3, W, output="failed-job registry"),
            W,
            None,
            "rq:failed_jobs[emails] = 3 (reported warn: failed-job registry)",
            id="no-rule-reported-status-counts",
        ),
        pytest.param(
            Measurement("sql", "connection", P, observed_value="ok", time=NOW),
            P,
            None,
            'sql:connection = "ok"',
            id="entry-without-id",
        ),
    ],
)
def test_component_state(
    measurement: Measurement, state: Status, threshold: str | None, message: str
) -> None:
    reading = read_health_report(answer(measurement), RULES)
    (component,) = reading.components
    assert (component.status, component.threshold, component.message) == (state, threshold, message)
    assert reading.verdict is state


def test_components_carry_value_unit_and_keys() -> None:
    reading = read_health_report(
        answer(rq("workers", 0, F, observed_unit="workers"), rq("queue_depth", 3)), RULES
    )
    workers = reading.components[0]
    assert (workers.key, workers.check, workers.component_id) == (
        "rq:workers[emails]",
        "rq:workers",
        "emails",
    )
    assert (workers.value, workers.unit, workers.reported) == (0, "workers", F)


def test_a_503_with_a_valid_body_is_judged_by_its_components() -> None:
    reading = read_health_report(
        answer(rq("workers", 0, F), rq("queue_depth", 3), rq("queue_depth", 900, queue="bulk")),
        RULES,
    )
    assert reading.http_status == 503
    assert reading.failure is None
    assert reading.verdict is F
    assert reading.summary == "rq:workers[emails] = 0 (< 1)"
    assert reading.notes == ("answered HTTP 503",)
    assert [c.status for c in reading.components] == [F, P, W]


def test_the_monitor_takes_the_worst_component() -> None:
    reading = read_health_report(answer(rq("workers", 1), rq("queue_depth", 900)), RULES)
    assert reading.verdict is W
    assert reading.summary == "rq:queue_depth[emails] = 900 (> 500)"


def test_all_passing() -> None:
    reading = read_health_report(answer(rq("workers", 1), rq("queue_depth", 3)), RULES)
    assert (reading.verdict, reading.summary, reading.notes) == (P, "all 2 components pass", ())


@pytest.mark.parametrize(
    ("body", "verdict"),
    [
        pytest.param({"status": "pass"}, P, id="no-checks-pass"),
        pytest.param({"status": "fail", "output": "db down"}, F, id="no-checks-fail"),
        pytest.param({"status": "UP"}, P, id="spring-alias"),
        pytest.param({"status": "error"}, F, id="terminus-alias"),
        pytest.param(
            {"status": "pass", "checks": {"uptime": [{"observedValue": 3}]}},
            P,
            id="entry-without-status-passes",
        ),
    ],
)
def test_reports_without_components_use_their_own_status(
    body: dict[str, Any], verdict: Status
) -> None:
    assert read_health_report(raw(json.dumps(body)), RULES).verdict is verdict


def test_duplicate_keys_are_kept_apart() -> None:
    body = {"status": "pass", "checks": {"disk:free": [{"observedValue": 1}, {"observedValue": 2}]}}
    reading = read_health_report(raw(json.dumps(body)))
    assert [c.key for c in reading.components] == ["disk:free", "disk:free#2"]


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        pytest.param("<html>oops</html>", 200, "the body is not JSON (HTTP 200)", id="html"),
        pytest.param("[1, 2]", 200, "the body is not a JSON object (HTTP 200)", id="array"),
        pytest.param('{"error": "unauthorized"}', 401, 'no "status" field (HTTP 401)', id="401"),
        pytest.param(
            '{"status": "green"}',
            200,
            "status: unknown status 'green' (expected pass, warn, fail) (HTTP 200)",
            id="status",
        ),
        pytest.param(
            '{"status": "pass", "checks": []}',
            200,
            '"checks" is not an object (HTTP 200)',
            id="checks-list",
        ),
        pytest.param(
            '{"status": "pass", "checks": {"rq:workers": {"status": "pass"}}}',
            200,
            'checks["rq:workers"] is not a list (HTTP 200)',
            id="entries-not-list",
        ),
        pytest.param(
            '{"status": "pass", "checks": {"rq:workers": [3]}}',
            200,
            'checks["rq:workers"][0] is not an object (HTTP 200)',
            id="entry-not-object",
        ),
        pytest.param(
            '{"status": "pass", "checks": {"rq:workers": [{"status": "meh"}]}}',
            200,
            "checks[\"rq:workers\"][0].status: unknown status 'meh' (expected pass, warn, fail)"
            " (HTTP 200)",
            id="entry-status",
        ),
    ],
)
def test_a_body_that_is_not_health_json_is_a_protocol_failure(
    body: str, status: int, error: str
) -> None:
    reading = read_health_report(raw(body, status), RULES)
    assert (reading.verdict, reading.failure) == (F, FailureKind.PROTOCOL)
    assert reading.error == f"not an application/health+json report: {error}"
    assert reading.summary == f"protocol: {reading.error}"
    assert reading.components == ()


def test_a_probe_without_an_answer_fails_with_its_own_reason() -> None:
    refused = Observation(
        "http://127.0.0.1:1/healthz", NOW, failure=FailureKind.REFUSED, error="connection refused"
    )
    reading = read_health_report(refused, RULES)
    assert (reading.verdict, reading.failure, reading.summary) == (
        F,
        FailureKind.REFUSED,
        "refused: connection refused",
    )


def test_readings_round_trip_through_json() -> None:
    reading = read_health_report(answer(rq("workers", 0, F), rq("queue_depth", 900)), RULES)
    stored = json.loads(json.dumps(reading.to_json()))
    assert HealthReading.from_json(stored) == reading
    assert stored["components"][0] == {
        "key": "rq:workers[emails]",
        "check": "rq:workers",
        "component_id": "emails",
        "status": "fail",
        "value": 0,
        "unit": None,
        "reported": "fail",
        "threshold": "< 1",
        "output": "",
        "message": "rq:workers[emails] = 0 (< 1)",
    }


# --- threshold config ----------------------------------------------------------------------


def test_thresholds_parse_and_write_back() -> None:
    assert {key: rule.to_json() for key, rule in RULES.items()} == {
        "rq:queue_depth": {"warn": "> 500", "fail": "> 2000"},
        "rq:oldest_job_age[emails]": {"fail": "> 300"},
        "rq:workers": {"fail": "< 1"},
    }
    assert parse_thresholds(None) == {}


@pytest.mark.parametrize(
    ("text", "value", "breached"),
    [
        pytest.param("> 500", 501, True, id="gt"),
        pytest.param(">500", 500, False, id="gt-boundary"),
        pytest.param(">= 1", 1, True, id="ge"),
        pytest.param("< 1", 0, True, id="lt"),
        pytest.param("<= 0.5", 0.75, False, id="le-float"),
        pytest.param("== 0", 0.0, True, id="eq"),
        pytest.param("!= 0", 0, False, id="ne"),
        pytest.param("> -1", 0, True, id="negative"),
        pytest.param("> 0", True, False, id="bool-is-not-a-number"),
        pytest.param("> 0", "12", False, id="string-is-not-a-number"),
    ],
)
def test_threshold_breached(text: str, value: object, breached: bool) -> None:
    assert parse_threshold(text).breached(value) is breached


@pytest.mark.parametrize(
    ("config", "errors"),
    [
        pytest.param(
            {"workers": {"fail": "< 1"}},
            {
                "components.workers": "bad key 'workers': keys are \"component:measurement\", "
                'optionally with "[componentId]", e.g. rq:workers'
            },
            id="key-without-measurement",
        ),
        pytest.param(
            {"rq:workers[": {"fail": "< 1"}},
            {
                "components.rq:workers[": "bad key 'rq:workers[': keys are "
                '"component:measurement", optionally with "[componentId]", e.g. rq:workers'
            },
            id="unclosed-id",
        ),
        pytest.param(
            {"rq:workers": {"fail": "<< 1", "warn": 5}},
            {
                "components.rq:workers": "fail: '<< 1' is not a threshold; a threshold is an "
                'operator (>, >=, <, <=, ==, !=) and a number, e.g. "> 500"; warn: 5 is not a '
                "threshold; a threshold is an operator (>, >=, <, <=, ==, !=) and a number, "
                'e.g. "> 500"'
            },
            id="bad-thresholds",
        ),
        pytest.param(
            {"rq:workers": {"critical": "< 1"}},
            {"components.rq:workers": "unknown level 'critical' (expected warn or fail)"},
            id="unknown-level",
        ),
        pytest.param(
            {"rq:workers": {}, "rq:queue_depth": "> 5"},
            {
                "components.rq:workers": 'must give "warn" and/or "fail", e.g. {fail: "< 1"}',
                "components.rq:queue_depth": 'must give "warn" and/or "fail", e.g. {fail: "< 1"}',
            },
            id="every-problem-listed",
        ),
    ],
)
def test_threshold_config_errors(config: dict[str, Any], errors: dict[str, str]) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_thresholds(config)
    assert caught.value.fields == errors


def test_components_from_a_hostile_body_are_storable() -> None:
    body = b'{"status": "fail", "checks": {"x:y": [{"componentId": "a\\u0000", "status": "fail",'
    body += b' "observedValue": "\\ud800", "output": "boom\\u0000"}]}}'
    (component,) = read_health_report(raw(body)).components
    assert (component.key, component.value, component.output) == (
        "x:y[a\ufffd]",
        "\ufffd",
        "boom\ufffd",
    )
    json.dumps(component.to_json(), ensure_ascii=False).encode("utf-8")


def test_a_report_with_non_standard_numbers_is_a_protocol_failure() -> None:
    body = b'{"status": "pass", "checks": {"x:y": [{"observedValue": NaN}]}}'
    reading = read_health_report(raw(body))
    assert (reading.failure, reading.error) == (
        FailureKind.PROTOCOL,
        "not an application/health+json report: the body is not JSON (HTTP 200)",
    )
