"""Probe results written straight through the probe engine's storage functions, for
tests of the read side (results, uptime, rollup, the API and ``tocsin status``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tocsin.server.domain.spec import monitor_spec
from tocsin.server.storage.database import Database
from tocsin.server.storage.monitors import create_monitor
from tocsin.server.storage.probe_writes import (
    ComponentStateRow,
    ProbedMonitorRow,
    ProbeResultRow,
    insert_probe_results,
    set_probe_states,
    upsert_component_states,
)
from tocsin.server.storage.projects import default_project
from tocsin.server.storage.rows import MonitorRecord

HTTP = {
    "name": "api",
    "kind": "http",
    "url": "http://127.0.0.1:9/ping",
    "interval": "30s",
    "headers": {"Authorization": "Bearer ${API_TOKEN}"},
    "assert": ["status == 200"],
}
APP = {
    "name": "shop-app",
    "kind": "app",
    "url": "http://127.0.0.1:9/healthz",
    "components": {"rq:workers": {"fail": "< 1"}},
}


async def add_monitor(db: Database, description: dict[str, Any]) -> MonitorRecord:
    """Create a monitor from an API-style description."""
    async with db.write() as conn:
        project = await default_project(conn)
        return await create_monitor(conn, project.id, monitor_spec(description), datetime.now(UTC))


def outcome(passed: bool, status: int | None) -> dict[str, Any]:
    """The stored outcome of ``status == 200`` that resolved to ``status``."""
    return {
        "text": "status == 200",
        "severity": "fail",
        "passed": passed,
        "resolved": status,
        "message": f"status ({status}) == 200",
    }


def reading(key: str, status: str, value: Any) -> dict[str, Any]:
    """A stored component reading (``ComponentReading.to_json()``)."""
    return {
        "key": key,
        "check": key.partition("[")[0],
        "component_id": None,
        "status": status,
        "value": value,
        "unit": None,
        "reported": None,
        "threshold": "< 1",
        "output": "",
        "message": f"{key} = {value} (< 1)",
    }


def result(
    monitor_id: int,
    started_at: datetime,
    verdict: str = "pass",
    total_ms: float | None = 100.0,
    components: list[dict[str, Any]] | None = None,
) -> ProbeResultRow:
    """A result row; ``fail`` ones answered 503."""
    status = 503 if verdict == "fail" else 200
    return ProbeResultRow(
        monitor_id=monitor_id,
        scheduled_at=started_at,
        started_at=started_at,
        verdict=verdict,
        failure=None,
        error=None,
        status_code=status,
        total_ms=total_ms,
        timings={"dns_ms": 1.0, "connect_ms": 2.0, "tls_ms": None, "first_byte_ms": 50.0},
        outcomes=[outcome(verdict != "fail", status)],
        components=components,
    )


async def add_results(db: Database, rows: list[ProbeResultRow]) -> None:
    """Store results as the probe engine does."""
    await db.run_write(insert_probe_results, rows)


async def set_state(
    db: Database, monitor: MonitorRecord, state: str, fails: int, passes: int, at: datetime
) -> None:
    """Store a monitor's state and streaks as the probe engine does."""
    verdict = "fail" if fails else "pass"
    row = ProbedMonitorRow(state, fails, passes, at, verdict, monitor.id)
    await db.run_write(set_probe_states, [row])


async def set_components(
    db: Database, monitor: MonitorRecord, values: dict[str, tuple[str, Any]], at: datetime
) -> None:
    """Store an app monitor's component states: ``key -> (status, value)``."""
    rows = [
        ComponentStateRow(monitor.id, key, status, value, None, f"{key} = {value}", at, at)
        for key, (status, value) in values.items()
    ]
    await db.run_write(upsert_component_states, rows, {monitor.id: set(values)})


def hours_ago(now: datetime, hours: float) -> datetime:
    """``now`` minus ``hours``."""
    return now - timedelta(hours=hours)
