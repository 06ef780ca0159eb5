"""Probed monitor specs: defaults, every problem named by field, placeholders kept."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tocsin.errors import ValidationError
from tocsin.server.domain.probe_spec import ProbeSpec
from tocsin.server.domain.spec import monitor_spec
from tocsin.server.domain.states import MonitorKind


def problems(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        monitor_spec(data)
    return caught.value.fields


def test_http_defaults() -> None:
    spec = monitor_spec({"name": "api", "kind": "http", "url": "https://x.test/"})
    probe = spec.probe
    assert probe is not None and spec.kind is MonitorKind.HTTP
    assert probe.interval == timedelta(seconds=60) and probe.timeout == timedelta(seconds=10)
    assert (probe.confirm.fail, probe.confirm.recover) == (2, 1)
    assert probe.max_redirects == 10 and probe.verify_tls


def test_stored_form_round_trips() -> None:
    spec = monitor_spec(
        {
            "name": "api",
            "kind": "app",
            "url": "http://x.test/healthz",
            "headers": {"Authorization": "Bearer ${TOKEN}"},
            "interval": "15s",
            "follow_redirects": 3,
            "assert": ["status == 200", {"subject": "response_time", "op": "<", "value": 800}],
            "components": {"rq:workers": {"fail": "< 1"}},
            "confirm": {"fail": 3, "recover": 2, "retry": "5s"},
        }
    )
    probe = spec.probe
    assert probe is not None
    again = ProbeSpec.from_json(MonitorKind.APP, probe.to_json(), 15.0, 5.0)
    assert again == probe
    assert again.headers == {"Authorization": "Bearer ${TOKEN}"}
    assert again.retry_interval == timedelta(seconds=5)


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        ({"kind": "http"}, "url", "is required"),
        ({"kind": "http", "url": "ftp://x"}, "url", "http:// or https://"),
        ({"kind": "http", "url": "http://x", "interval": "0.5s"}, "interval", "from 1s"),
        ({"kind": "http", "url": "http://x", "assert": ["status === 1"]}, "assert[0]", ""),
        (
            {"kind": "app", "url": "http://x", "components": {"w": {"fail": "< 1"}}},
            "components.w",
            "component:measurement",
        ),
        ({"kind": "http", "url": "http://x", "components": {}}, "components", "does not apply"),
        ({"kind": "http", "url": "http://x", "period": 60}, "period", "heartbeat"),
        ({"kind": "tcp", "host": "h"}, "port", "is required"),
        ({"kind": "tcp", "host": "h", "port": 70000}, "port", "1 to 65535"),
        ({"kind": "heartbeat", "url": "http://x"}, "url", "only to http, app and tcp"),
        (
            {"kind": "http", "url": "http://x", "headers": {"A": "${1BAD}"}},
            "headers.A",
            "valid variable",
        ),
        ({"kind": "http", "url": "http://x", "jitter": "2m"}, "jitter", "shorter"),
        ({"kind": "http", "url": "http://x", "confirm": {"fail": 0}}, "confirm.fail", "1 to 100"),
    ],
)
def test_problems_are_named_by_field(data: dict[str, Any], field: str, words: str) -> None:
    found = problems({"name": "m", **data})
    assert field in found and words in found[field]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        pytest.param("interval", "500ms", "must be from 1s to 1d", id="interval-ms"),
        pytest.param("interval", 0.5, "must be from 1s to 1d", id="interval-fraction"),
        pytest.param("interval", 0, "must be from 1s to 1d", id="interval-zero"),
        pytest.param("interval", "-1s", "must be from 1s to 1d", id="interval-negative"),
        pytest.param("interval", "2d", "must be from 1s to 1d", id="interval-too-long"),
        pytest.param("retry_interval", "500ms", "must be at least 1s", id="retry-ms"),
        pytest.param("retry_interval", 0.5, "must be at least 1s", id="retry-fraction"),
        pytest.param("retry_interval", "-500ms", "must be at least 1s", id="retry-negative-ms"),
        pytest.param("timeout", "2m", "must be at most 60s", id="timeout-too-long"),
    ],
)
def test_durations_below_the_minimum_say_the_minimum(field: str, value: Any, message: str) -> None:
    found = problems({"name": "m", "kind": "http", "url": "http://x", field: value})
    assert found == {field: message}


def test_durations_may_be_written_in_milliseconds() -> None:
    data = {"kind": "http", "url": "http://x", "interval": "1500ms", "timeout": "800ms"}
    spec = monitor_spec({"name": "m", **data})
    assert spec.probe is not None
    assert (spec.probe.interval, spec.probe.timeout) == (
        timedelta(seconds=1.5),
        timedelta(milliseconds=800),
    )


def test_every_problem_at_once() -> None:
    found = problems({"name": "m", "kind": "http", "url": "x", "interval": "0s", "method": "GO"})
    assert {"url", "interval", "method"} <= set(found)
