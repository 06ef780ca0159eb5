"""Invariants of the report and its renderings, over generated measurements."""

from __future__ import annotations

import json
import re

from hypothesis import given
from hypothesis import strategies as st

from tocsin.health import HealthReport, Measurement, Status
from tocsin.health.prometheus import render

statuses = st.sampled_from(list(Status))
text = st.text(max_size=20)
measurements = st.builds(
    Measurement,
    component=st.sampled_from(["rq", "redis", "celery"]),
    name=st.sampled_from(["queue_depth", "workers", "latency"]),
    status=statuses,
    component_id=st.none() | text,
    observed_value=st.none() | st.integers(-(10**6), 10**6) | st.floats(0, 1e6) | text,
    observed_unit=st.none() | text,
    output=text,
)
SAMPLE = re.compile(r'^[a-z_]+(\{([a-z_]+="([^"\\\n]|\\["\\n])*",?)*\})? \S+$')


@given(st.lists(measurements, max_size=8))
def test_status_is_the_worst_and_the_code_follows_it(items: list[Measurement]) -> None:
    report = HealthReport(tuple(items), duration=0.01)
    worst = max((m.status.rank for m in items), default=0)
    assert report.status.rank == worst
    assert report.http_status == (503 if report.status is Status.FAIL else 200)
    body = json.loads(json.dumps(report.to_json(), default=str))
    assert body["status"] == report.status.value
    assert sum(len(v) for v in body["checks"].values()) == len(items)
    for key, entries in body["checks"].items():
        assert ":" in key
        for entry in entries:
            assert set(entry) == {
                "componentId",
                "componentType",
                "observedValue",
                "observedUnit",
                "status",
                "time",
                "output",
            }
            assert entry["time"].endswith("Z")


@given(st.lists(measurements, max_size=8))
def test_prometheus_text_is_well_formed_whatever_the_labels(items: list[Measurement]) -> None:
    report = HealthReport(tuple(items), duration=0.01)
    text = render(report)
    assert text.endswith("\n")
    for line in text[:-1].split("\n"):  # only "\n" separates lines in the exposition format
        assert line.startswith("# ") or SAMPLE.match(line), line
