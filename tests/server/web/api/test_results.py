"""Result endpoints on both databases: results pages, uptime, latency series, components,
and what a monitor's own answer shows of its probes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.server.results_data import (
    APP,
    HTTP,
    add_monitor,
    add_results,
    reading,
    result,
    set_components,
    set_state,
)
from tocsin.server.storage.database import Database
from tocsin.server.storage.probe_reads import floor_hour
from tocsin.server.storage.probe_rows import HourRecord
from tocsin.server.storage.result_rollup import upsert_hours

API = "/api/v1"
NOW = datetime.now(UTC)


async def test_results_are_paged_newest_first(client: httpx.AsyncClient, db: Database) -> None:
    monitor = await add_monitor(db, HTTP)
    times = [NOW - timedelta(minutes=m) for m in range(1, 6)]
    await add_results(
        db, [result(monitor.id, at, "fail" if at == times[0] else "pass") for at in times]
    )

    first = await client.get(f"{API}/monitors/api/results", params={"limit": 2})
    assert first.status_code == 200, first.text
    page = first.json()
    assert [r["started_at"] for r in page["results"]] == [t.isoformat() for t in times[:2]]
    newest = page["results"][0]
    assert newest["verdict"] == "fail"
    assert newest["status_code"] == 503
    assert newest["outcomes"] == [
        {
            "text": "status == 200",
            "severity": "fail",
            "passed": False,
            "resolved": 503,
            "message": "status (503) == 200",
        }
    ]
    assert first.headers["Link"] == f'<{page["next"]}>; rel="next"'
    rest = (await client.get(page["next"])).json()
    shown = page["results"] + rest["results"]
    while rest["next"]:
        rest = (await client.get(rest["next"])).json()
        shown += rest["results"]
    assert [r["started_at"] for r in shown] == [t.isoformat() for t in times]


async def test_uptime_of_the_monitor_and_its_components(
    client: httpx.AsyncClient, db: Database
) -> None:
    monitor = await add_monitor(db, APP)
    hour = floor_hour(NOW) - timedelta(hours=3)
    await db.run_write(
        upsert_hours,
        [
            (monitor.id, HourRecord("", hour, 100, 1, 5)),
            (monitor.id, HourRecord("rq:workers", hour, 100, 50, 0)),
        ],
    )
    answer = await client.get(f"{API}/monitors/shop-app/uptime")
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["windows"][0] == {
        "window": "24h",
        "uptime_percent": 99.0,
        "checks": 100,
        "failures": 1,
        "warnings": 5,
    }
    assert [w["window"] for w in report["windows"]] == ["24h", "7d", "30d"]
    assert report["components"] == [
        {
            "key": "rq:workers",
            "windows": [
                {"window": w, "uptime_percent": 50.0, "checks": 100, "failures": 50, "warnings": 0}
                for w in ("24h", "7d", "30d")
            ],
        }
    ]


async def test_latency_series_and_component_values(client: httpx.AsyncClient, db: Database) -> None:
    monitor = await add_monitor(db, APP)
    top = floor_hour(NOW)
    await db.run_write(
        upsert_hours,
        [
            (monitor.id, HourRecord("", top - timedelta(hours=2), 60, 0, 0, 40.0, 90.0, 120.0)),
            (monitor.id, HourRecord("", top - timedelta(days=3), 60, 0, 0, 41.0, 91.0, 121.0)),
            (
                monitor.id,
                HourRecord(
                    "rq:workers", top - timedelta(hours=2), 60, 0, 0, None, None, None, 1, 4, 2
                ),
            ),
        ],
    )
    day = (await client.get(f"{API}/monitors/shop-app/latency")).json()
    assert day["range"] == "24h"
    assert [(h["p50_ms"], h["p95_ms"], h["max_ms"]) for h in day["hours"]] == [(40.0, 90.0, 120.0)]
    week = (await client.get(f"{API}/monitors/shop-app/latency", params={"range": "7d"})).json()
    assert [h["p50_ms"] for h in week["hours"]] == [41.0, 40.0]
    workers = (
        await client.get(f"{API}/monitors/shop-app/latency", params={"component": "rq:workers"})
    ).json()
    assert [(h["value_min"], h["value_max"], h["value_last"]) for h in workers["hours"]] == [
        (1.0, 4.0, 2.0)
    ]


@pytest.mark.parametrize("path", ["results", "uptime", "latency", "components"])
async def test_an_unknown_monitor_is_404(client: httpx.AsyncClient, path: str) -> None:
    answer = await client.get(f"{API}/monitors/nope/{path}")
    assert answer.status_code == 404
    assert answer.json() == {"error": "no monitor 'nope'"}


@pytest.mark.parametrize(
    ("params", "field"),
    [({"range": "1y"}, "range"), ({"component": ""}, "component")],
)
async def test_a_bad_series_request_is_422(
    client: httpx.AsyncClient, db: Database, params: dict[str, str], field: str
) -> None:
    await add_monitor(db, HTTP)
    answer = await client.get(f"{API}/monitors/api/latency", params=params)
    assert answer.status_code == 422
    assert field in answer.json()["fields"]


async def test_a_foreign_cursor_is_422(client: httpx.AsyncClient, db: Database) -> None:
    await add_monitor(db, HTTP)
    answer = await client.get(f"{API}/monitors/api/results", params={"cursor": "abc"})
    assert answer.status_code == 422
    assert "cursor" in answer.json()["fields"]


async def test_components_of_an_app_monitor(client: httpx.AsyncClient, db: Database) -> None:
    monitor = await add_monitor(db, APP)
    await set_components(db, monitor, {"rq:workers": ("fail", 0)}, NOW)
    answer = (await client.get(f"{API}/monitors/shop-app/components")).json()
    assert [(c["key"], c["status"], c["value"]) for c in answer["components"]] == [
        ("rq:workers", "fail", 0)
    ]


async def test_a_monitor_shows_its_last_result_confirmation_and_components(
    client: httpx.AsyncClient, reader: httpx.AsyncClient, db: Database
) -> None:
    api = await add_monitor(db, HTTP)
    shop = await add_monitor(db, APP)
    await add_results(db, [result(api.id, NOW, "fail")])
    await set_state(db, api, "up", 1, 0, NOW)
    await add_results(
        db, [result(shop.id, NOW, "fail", components=[reading("rq:workers", "fail", 0)])]
    )
    await set_components(db, shop, {"rq:workers": ("fail", 0)}, NOW)

    shown = (await client.get(f"{API}/monitors/api")).json()
    assert shown["confirmation"] == "failing 1/2"
    assert shown["consecutive_failures"] == 1
    assert shown["interval"] == "30s"
    assert shown["probe"]["headers"] == {"Authorization": "Bearer ${API_TOKEN}"}
    assert shown["last_result"]["outcomes"][0]["message"] == "status (503) == 200"
    assert shown["components"] is None

    masked = (await reader.get(f"{API}/monitors/api")).json()
    assert masked["probe"]["headers"] == {"Authorization": "********"}

    listed = {m["name"]: m for m in (await reader.get(f"{API}/monitors")).json()["monitors"]}
    assert listed["api"]["probe"]["headers"] == {"Authorization": "********"}
    assert listed["api"]["probe"]["url"] == "http://127.0.0.1:9/ping"
    assert [(c["key"], c["value"]) for c in listed["shop-app"]["components"]] == [("rq:workers", 0)]
    assert listed["shop-app"]["last_result"]["components"][0]["message"] == "rq:workers = 0 (< 1)"


async def test_readers_see_no_password_query_value_or_body_of_a_probe(
    client: httpx.AsyncClient, reader: httpx.AsyncClient, db: Database
) -> None:
    await add_monitor(
        db,
        HTTP
        | {
            "url": "http://ops:hunter2@127.0.0.1:9/login?token=t0k3n-q9&debug",
            "method": "POST",
            "body": '{"password": "hunter2"}',
        },
    )
    full = (await client.get(f"{API}/monitors/api")).json()["probe"]
    assert full["url"] == "http://ops:hunter2@127.0.0.1:9/login?token=t0k3n-q9&debug"
    assert full["body"] == '{"password": "hunter2"}'

    answer = await reader.get(f"{API}/monitors/api")
    shown = answer.json()["probe"]
    assert shown["url"] == "http://ops:********@127.0.0.1:9/login?token=********&debug"
    assert shown["body"] == "********"
    assert "hunter2" not in answer.text and "t0k3n-q9" not in answer.text
