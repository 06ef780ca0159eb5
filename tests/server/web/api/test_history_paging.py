"""Paging a monitor's results, state changes and pings through the API of a live server
(SQLite and PostgreSQL): every row once across several pages, ties in time kept apart by
id across a page's end, and cursors that are not this list's refused with a 422, never a
500."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Connection

from tests.server.live import LiveServer, live_server
from tests.server.web.api.conftest import make_key
from tocsin.server.domain.states import MonitorState
from tocsin.server.domain.transitions import Flip
from tocsin.server.storage.apikeys import ApiKeyScope
from tocsin.server.storage.flips import insert_flips
from tocsin.server.storage.hot_rows import PingedMonitorRow, PingRow
from tocsin.server.storage.hot_sql import statements_for
from tocsin.server.storage.probe_writes import ProbeResultRow, insert_probe_results

API = "/api/v1/monitors"
COUNT = 45
PAGE = 20
# Rows PAGE and PAGE + 1 (counting from the newest) share one time, so the first page
# ends between them and only their ids say which comes first.
TIED = PAGE + 1
START = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)


@pytest.fixture
async def server(database_url: str, tmp_path: Path) -> AsyncIterator[LiveServer]:
    """A live tocsin server on the parametrized database."""
    async with live_server(database_url, tmp_path) as running:
        yield running


@pytest.fixture
async def client(server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the live server with a read-only key."""
    key = await make_key(server.database, ApiKeyScope.READ)
    async with httpx.AsyncClient(
        base_url=server.base_url, headers={"X-Api-Key": key}, timeout=10
    ) as client:
        yield client


def made_at(rank: int) -> datetime:
    """When the ``rank``-th newest row (from 1) was made: a minute apart, except that
    ``TIED`` shares the time of the row before it."""
    return START - timedelta(minutes=rank - 1 if rank == TIED else rank)


def oldest_first(ranks: range) -> list[int]:
    """``ranks`` in the order a writer stores them: oldest first, and of the tied pair
    ``TIED`` first, so the newer one (``TIED - 1``) gets the higher id."""
    return sorted(ranks, key=lambda rank: (made_at(rank), -rank))


async def walk(client: httpx.AsyncClient, url: str, section: str) -> list[list[dict[str, Any]]]:
    """Every page of a list, following ``next`` and checking ``Link`` says the same."""
    pages: list[list[dict[str, Any]]] = []
    next_url: str | None = url
    while next_url is not None:
        answer = await client.get(next_url)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert set(body) == {section, "next"}
        pages.append(body[section])
        next_url = body["next"]
        if next_url is None:
            assert "link" not in answer.headers
        else:
            assert answer.headers["link"] == f'<{next_url}>; rel="next"'
            assert f"limit={PAGE}" in next_url
        assert len(pages) < 10, "paging does not end"
    return pages


def cursor(listing: str, key: object) -> str:
    """A cursor as the API encodes one, holding any ``key``."""
    raw = json.dumps([listing, key], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


async def test_results_walk_every_page_once_across_a_tie(
    server: LiveServer, client: httpx.AsyncClient
) -> None:
    monitor = await server.create_monitor(name="site", kind="http", url="http://127.0.0.1:9/")
    rows = [
        ProbeResultRow(
            monitor.id, made_at(r), made_at(r), "pass", None, None, 200, float(r), {}, [], None
        )
        for r in oldest_first(range(1, COUNT + 1))
    ]
    await server.database.run_write(insert_probe_results, rows)

    pages = await walk(client, f"{API}/site/results?limit={PAGE}", "results")

    assert [len(page) for page in pages] == [20, 20, 5]
    shown = [int(result["total_ms"]) for page in pages for result in page]
    assert shown == list(range(1, COUNT + 1))
    assert pages[0][-1]["started_at"] == pages[1][0]["started_at"] == made_at(TIED).isoformat()


async def test_flips_walk_every_page_once_across_a_tie(
    server: LiveServer, client: httpx.AsyncClient
) -> None:
    monitor = await server.create_monitor(name="backup", period="1h")
    flips = [
        (monitor.id, Flip(MonitorState.UP, MonitorState.DOWN, f"cause {r}"), made_at(r))
        for r in oldest_first(range(1, COUNT + 1))
    ]
    await server.database.run_write(insert_flips, flips)

    first = await client.get(f"{API}/backup/flips", params={"limit": PAGE})
    # A state change after the first page was read: the walk goes on where it was.
    newest = Flip(MonitorState.DOWN, MonitorState.UP, "cause 0")
    await server.database.run_write(insert_flips, [(monitor.id, newest, datetime.now(UTC))])
    pages = [first.json()["flips"], *await walk(client, first.json()["next"], "flips")]

    assert [len(page) for page in pages] == [20, 20, 5]
    shown = [flip["cause"] for page in pages for flip in page]
    assert shown == [f"cause {r}" for r in range(1, COUNT + 1)]
    assert pages[0][-1]["created_at"] == pages[1][0]["created_at"] == made_at(TIED).isoformat()
    assert set(pages[0][0]) == {"created_at", "old_state", "new_state", "cause"}


async def test_flips_come_newest_first_by_time_whatever_order_they_were_stored(
    server: LiveServer, client: httpx.AsyncClient
) -> None:
    # Two writers (the ping writer, the deadline watch, another node) can commit the
    # older change last; the list goes by when each change happened.
    monitor = await server.create_monitor(name="backup", period="1h")
    ranks = [3, 1, 4, 2]
    flips = [
        (monitor.id, Flip(MonitorState.UP, MonitorState.DOWN, f"cause {r}"), made_at(r))
        for r in ranks
    ]
    await server.database.run_write(insert_flips, flips)

    pages = await walk(client, f"{API}/backup/flips?limit={PAGE}", "flips")

    assert [flip["cause"] for flip in pages[0]] == [f"cause {r}" for r in range(1, 5)]


def _pings(monitor_id: int, ranks: list[int]) -> Callable[[Connection], None]:
    """A write of pings through the ping writer's own statement, numbered newest
    ``COUNT`` down to oldest 1."""
    rows = [
        PingRow(
            monitor_id=monitor_id,
            n=COUNT + 1 - r,
            created_at=made_at(r),
            kind="success",
            exit_status=None,
            rid=None,
            duration_seconds=None,
            method="GET",
            scheme="http",
            remote_addr="127.0.0.1",
            user_agent="test",
            body=f"ping {r}",
            body_size=6,
        )
        for r in ranks
    ]
    update = PingedMonitorRow("up", made_at(1), None, None, None, None, COUNT, monitor_id)

    def write(conn: Connection) -> None:
        statements_for(conn).write_ping_batch(conn, rows, [update])

    return write


async def test_pings_walk_every_page_once_by_number(
    server: LiveServer, client: httpx.AsyncClient
) -> None:
    monitor = await server.create_monitor(name="backup", period="1h")
    await server.database.run_write(_pings(monitor.id, oldest_first(range(1, COUNT + 1))))

    pages = await walk(client, f"{API}/backup/pings?limit={PAGE}", "pings")

    assert [len(page) for page in pages] == [20, 20, 5]
    shown = [ping["n"] for page in pages for ping in page]
    assert shown == list(range(COUNT, 0, -1))
    assert [ping["body"] for ping in pages[1][:1]] == [f"ping {TIED}"]
    assert pages[0][-1]["created_at"] == pages[1][0]["created_at"]


_WHAT = "take it from the previous page's next URL"
_OLDER = "it may come from an older version of tocsin; start again from the first page"
_TIME = "2026-01-02T03:04:05+00:00"


@pytest.mark.parametrize(
    ("section", "query", "message"),
    [
        pytest.param("flips", {"cursor": cursor("flips", 17)}, _OLDER, id="flips-id-cursor"),
        pytest.param("results", {"cursor": cursor("results", 17)}, _OLDER, id="results-int"),
        pytest.param("flips", {"cursor": cursor("results", f"{_TIME}/1")}, _WHAT, id="foreign"),
        pytest.param("pings", {"cursor": cursor("flips", f"{_TIME}/1")}, _WHAT, id="pings-time"),
        pytest.param("flips", {"cursor": cursor("flips", _TIME)}, _WHAT, id="no-id"),
        pytest.param("results", {"cursor": cursor("results", "yesterday/3")}, _WHAT, id="time"),
        pytest.param(
            "results", {"cursor": cursor("results", "2026-01-02T03:04:05/3")}, _WHAT, id="naive"
        ),
        pytest.param(
            "results",
            {"cursor": cursor("results", "0001-01-01T00:00:00+05:00/3")},
            _WHAT,
            id="before-year-1-in-utc",
        ),
        pytest.param(
            "results",
            {"cursor": cursor("results", f"{_TIME}/99999999999999999999")},
            _WHAT,
            id="id-past-64-bits",
        ),
        pytest.param("flips", {"cursor": cursor("flips", f"{_TIME}/-4")}, _WHAT, id="neg-id"),
        pytest.param("pings", {"cursor": cursor("pings", "4")}, _WHAT, id="ping-number-text"),
        pytest.param("results", {"cursor": "!!"}, None, id="not-base64"),
        pytest.param("results", {"limit": 0}, None, id="limit-zero"),
        pytest.param("flips", {"limit": 1001}, None, id="limit-over-max"),
        pytest.param("pings", {"limit": "many"}, None, id="limit-not-a-number"),
    ],
)
async def test_a_cursor_or_limit_the_list_cannot_use_is_422(
    server: LiveServer,
    client: httpx.AsyncClient,
    section: str,
    query: dict[str, Any],
    message: str | None,
) -> None:
    await server.create_monitor(name="backup", period="1h")
    answer = await client.get(f"{API}/backup/{section}", params=query)
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert body["error"] == "invalid request"
    (field,) = query
    assert set(body["fields"]) == {field}
    if message is not None:
        assert body["fields"][field] == f"is not a cursor of this list: {message}"
