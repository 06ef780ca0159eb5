"""Stored probe results, on both databases: every result reads back exactly as the engine
wrote it (outcomes with texts, resolved values and messages; components; timings; the
scheduled time), passing ones stored compactly, and old results keep their own assertion
texts after the assertion list changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from tests.server.results_data import HTTP, add_monitor, add_results, reading, result
from tocsin.server.storage.database import Database
from tocsin.server.storage.probe_reads import list_results
from tocsin.server.storage.probe_writes import ProbeResultRow
from tocsin.server.storage.result_rollup import read_hour
from tocsin.server.storage.tables import probe_results, result_labels

NOW = datetime(2026, 12, 2, 10, 30, tzinfo=UTC)
CERT = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


def outcome(text: str, passed: bool, resolved: Any, message: str) -> dict[str, Any]:
    return {
        "text": text,
        "severity": "fail",
        "passed": passed,
        "resolved": resolved,
        "message": message,
    }


def timed(
    monitor_id: int, at: datetime, outcomes: list[dict[str, Any]], **changes: Any
) -> ProbeResultRow:
    row = result(monitor_id, at)._replace(
        scheduled_at=at - timedelta(milliseconds=1250),
        total_ms=84.23,
        timings={
            "dns_ms": 0.41,
            "connect_ms": 1.1,
            "tls_ms": 12.5,
            "first_byte_ms": 80.3,
            "cert_not_after": CERT.isoformat(),
        },
        outcomes=outcomes,
    )
    return row._replace(**changes)


def written(row: ProbeResultRow) -> dict[str, Any]:
    """What the engine handed over, in the shape a stored result is read back in."""
    return {
        "scheduled_at": row.scheduled_at,
        "started_at": row.started_at,
        "verdict": row.verdict,
        "status_code": row.status_code,
        "total_ms": row.total_ms,
        "timings": row.timings,
        "outcomes": row.outcomes or [],
        "components": row.components or [],
    }


async def read_back(db: Database, monitor_id: int) -> list[dict[str, Any]]:
    async with db.read() as conn:
        stored = await list_results(conn, monitor_id)
    return [
        {
            "scheduled_at": r.scheduled_at,
            "started_at": r.started_at,
            "verdict": r.verdict.value,
            "status_code": r.status_code,
            "total_ms": r.total_ms,
            "timings": dict(r.timings),
            "outcomes": [o.to_json() for o in r.outcomes],
            "components": [c.to_json() for c in r.components],
        }
        for r in reversed(stored)
    ]


async def test_every_result_reads_back_as_written(db: Database) -> None:
    monitor = await add_monitor(db, HTTP)
    texts = ("status == 200", "response_time < 800ms", 'json $.v == "x2"', "json $.a exists")
    rows = [
        timed(
            monitor.id,
            NOW + timedelta(minutes=minute),
            [
                outcome(texts[0], status == 200, status, f"status ({status}) == 200"),
                outcome(texts[1], True, ms, f"response_time ({ms}ms) < 800ms"),
                outcome(texts[2], True, "x2", 'json $.v ("x2") == "x2"'),
                outcome(texts[3], True, {"b": [1, 2]}, 'json $.a ({"b": [1, 2]}) exists'),
            ],
            status_code=status,
            verdict="pass" if status == 200 else "fail",
        )
        for minute, (status, ms) in enumerate([(200, 84.2), (200, 1.5), (503, 80.0), (200, 12)])
    ]
    missing = outcome("json $.gone not exists", True, None, "json $.gone (missing) not exists")
    rows.append(timed(monitor.id, NOW + timedelta(minutes=9), [missing], timings=None))
    workers = [reading("rq:workers", "pass", 3), reading("rq:workers[emails]", "fail", 0)]
    rows.append(timed(monitor.id, NOW + timedelta(minutes=10), [], components=workers))
    await add_results(db, rows)

    expected = [written(row) for row in rows]
    expected[-2]["timings"] = {
        "dns_ms": None,
        "connect_ms": None,
        "tls_ms": None,
        "first_byte_ms": None,
        "cert_not_after": None,
    }
    assert await read_back(db, monitor.id) == expected
    async with db.read() as conn:
        hour = await read_hour(conn, [monitor.id], NOW.replace(minute=0))
    assert [list(r.components) for r in hour][-1] == workers


async def test_passing_results_share_one_label_and_keep_only_their_values(db: Database) -> None:
    monitor = await add_monitor(db, HTTP)
    rows = [
        timed(
            monitor.id,
            NOW + timedelta(minutes=minute),
            [outcome("response_time < 800ms", True, ms, f"response_time ({ms}ms) < 800ms")],
        )
        for minute, ms in enumerate([84.2, 91.7, 100.5])
    ]
    await add_results(db, rows)
    async with db.read() as conn:
        mine = probe_results.c.monitor_id == monitor.id
        stored = (await conn.execute(select(probe_results.c.outcomes).where(mine))).scalars()
        labels = await conn.scalar(
            select(func.count(probe_results.c.labels.distinct())).where(mine)
        )
        bodies = await conn.scalar(select(func.count()).select_from(result_labels))
    assert sorted(stored.all()) == [[84.2], [91.7], [100.5]]
    assert labels == 1 and bodies is not None and bodies >= 1


async def test_old_results_keep_their_texts_after_the_assertions_change(db: Database) -> None:
    monitor = await add_monitor(db, HTTP)
    old = timed(monitor.id, NOW, [outcome("status == 200", True, 200, "status (200) == 200")])
    new = timed(
        monitor.id,
        NOW + timedelta(minutes=1),
        [outcome("status in [200, 204]", True, 200, "status (200) in [200, 204]")],
    )
    await add_results(db, [old])
    await add_results(db, [new])
    assert [r["outcomes"] for r in await read_back(db, monitor.id)] == [old.outcomes, new.outcomes]
