"""What the status page and badge tests share: monitors holding private strings, history
written through the engines' storage functions, and clean tables."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, update

from tests.server.live import LiveServer
from tests.server.results_data import add_results, result, set_components, set_state
from tocsin.server.domain.states import MonitorState
from tocsin.server.domain.transitions import Flip
from tocsin.server.storage.database import Database
from tocsin.server.storage.flips import insert_flips
from tocsin.server.storage.incidents import open_incidents
from tocsin.server.storage.probe_rows import HourRecord
from tocsin.server.storage.result_rollup import upsert_hours
from tocsin.server.storage.rows import MonitorRecord
from tocsin.server.storage.tables import badges, monitors, status_pages

# Strings that live in monitors' settings, results and incidents: none may reach the public.
SECRET_PATH = "/private-path-7f3a"
SECRET_HEADER = "Bearer header-secret-91c2"
SECRET_BODY = "body-secret-55de"
SECRET_ERROR = "error-secret-0b7e"
SECRET_CAUSE = "cause-secret-c4d1"
INTERNAL_NAME = "internal-api-name"
UNPICKED_NAME = "unpicked-secret-monitor"
PRIVATE = [
    SECRET_PATH,
    SECRET_HEADER,
    SECRET_BODY,
    SECRET_ERROR,
    SECRET_CAUSE,
    INTERNAL_NAME,
    UNPICKED_NAME,
    "127.0.0.1:9",
    "shop-internal",
    "rq:workers",  # the component's key: the page shows its chosen name only
]


@pytest.fixture(autouse=True)
async def no_pages_or_badges(database_url: str) -> AsyncIterator[None]:
    """Start and end with no status page and no badge."""
    await _clear(database_url)
    yield
    await _clear(database_url)


async def _clear(url: str) -> None:
    database = Database(url)
    try:
        async with database.write() as conn:
            for table in (status_pages, badges):
                await conn.execute(delete(table))
    finally:
        await database.dispose()


def http_monitor(name: str, **extra: object) -> dict[str, object]:
    """An http monitor checked hourly (so the server's own probe hardly ever runs in a test)
    whose URL, header and body assertion are private."""
    return {
        "name": name,
        "kind": "http",
        "url": f"http://127.0.0.1:9{SECRET_PATH}",
        "interval": "1h",
        "headers": {"X-Token": SECRET_HEADER},
        "assert": [f'body contains "{SECRET_BODY}"'],
        **extra,
    }


async def make_history(server: LiveServer, now: datetime) -> dict[str, MonitorRecord]:
    """An http monitor up now that failed 10 % of yesterday's checks (and had an error), an
    app monitor whose ``rq:workers`` component fails, a heartbeat monitor down 6 hours
    yesterday, and a monitor no page shows; the http one has an open incident."""
    api = await server.create_monitor(**http_monitor(INTERNAL_NAME, tags=["public"]))
    shop = await server.create_monitor(
        name="shop-internal",
        kind="app",
        url="http://127.0.0.1:9/healthz",
        interval="1h",
        components={"rq:workers": {"fail": "< 1"}},
    )
    beat = await server.create_monitor(name="nightly-internal", period="1h", grace="5m")
    await server.create_monitor(**http_monitor(UNPICKED_NAME))
    db = server.database
    yesterday = datetime.combine(now.date() - timedelta(days=1), datetime.min.time(), UTC)
    hours = [
        (api.id, HourRecord("", yesterday + timedelta(hours=3), 100, 10, 0)),
        (api.id, HourRecord("", now.replace(minute=0, second=0, microsecond=0), 60, 0, 0)),
        (shop.id, HourRecord("rq:workers", yesterday, 60, 60, 0)),
        (shop.id, HourRecord("", yesterday, 60, 0, 0)),
    ]
    await db.run_write(upsert_hours, hours)
    failed = result(api.id, now - timedelta(minutes=3), "fail")._replace(error=SECRET_ERROR)
    await add_results(db, [failed, result(api.id, now - timedelta(minutes=1))])
    await set_state(db, api, "up", 0, 3, now - timedelta(minutes=1))
    await set_state(db, shop, "up", 0, 3, now - timedelta(minutes=1))
    await set_components(db, shop, {"rq:workers": ("fail", 0)}, now - timedelta(minutes=1))
    down_at = yesterday + timedelta(hours=12)
    flips = [
        (beat.id, Flip(MonitorState.UP, MonitorState.DOWN, "no ping"), down_at),
        (beat.id, Flip(MonitorState.DOWN, MonitorState.UP, "ping"), down_at + timedelta(hours=6)),
    ]
    await db.run_write(insert_flips, flips)
    async with db.write() as conn:  # as if it had been watched, and pinged, for 3 days
        await conn.execute(
            update(monitors)
            .where(monitors.c.id == beat.id)
            .values(state="up", created_at=now - timedelta(days=3), last_ping_at=now)
        )
    await db.run_write(open_incidents, [(api.id, now - timedelta(minutes=3), SECRET_CAUSE)])
    return {"api": api, "shop": shop, "beat": beat}
