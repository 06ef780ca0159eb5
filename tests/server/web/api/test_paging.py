"""Every list is paged: a limit with a maximum, a keyset cursor, ``next`` and ``Link``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tocsin.server.domain.spec import channel_spec, monitor_spec
from tocsin.server.domain.states import MonitorState
from tocsin.server.domain.transitions import Flip
from tocsin.server.storage.channels import create_channel
from tocsin.server.storage.database import Database
from tocsin.server.storage.flips import record_flip
from tocsin.server.storage.monitors import create_monitor, get_monitor, pause_monitor
from tocsin.server.web.state import ServerState

API = "/api/v1"


async def _monitors(db: Database, state: ServerState, names: list[str], **extra: Any) -> None:
    async with db.write() as conn:
        for name in names:
            spec = monitor_spec({"name": name, "period": 60, **extra})
            await create_monitor(conn, state.project.id, spec, datetime.now(UTC))


async def _walk(client: httpx.AsyncClient, url: str, section: str) -> list[dict[str, Any]]:
    """Every item of a list, following ``next`` (and checking ``Link`` says the same)."""
    items: list[dict[str, Any]] = []
    pages = 0
    next_url: str | None = url
    while next_url is not None:
        answer = await client.get(next_url)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        items += page[section]
        next_url = page["next"]
        if next_url is None:
            assert "link" not in answer.headers
        else:
            assert answer.headers["link"] == f'<{next_url}>; rel="next"'
        pages += 1
        assert pages < 100, "paging does not end"
    return items


async def test_monitor_pages_walk_every_monitor_once(
    client: httpx.AsyncClient, db: Database, server_state: ServerState
) -> None:
    names = [f"m{i:02}" for i in range(23)]
    await _monitors(db, server_state, names)
    first = await client.get(f"{API}/monitors", params={"limit": 5})
    assert [m["name"] for m in first.json()["monitors"]] == names[:5]
    walked = await _walk(client, f"{API}/monitors?limit=5", "monitors")
    assert [m["name"] for m in walked] == names
    everything = (await client.get(f"{API}/monitors")).json()
    assert len(everything["monitors"]) == 23
    assert everything["next"] is None


async def test_a_cursor_is_stable_while_monitors_come_and_go(
    client: httpx.AsyncClient, db: Database, server_state: ServerState
) -> None:
    await _monitors(db, server_state, ["b", "d", "f", "h"])
    page = (await client.get(f"{API}/monitors", params={"limit": 2})).json()
    assert [m["name"] for m in page["monitors"]] == ["b", "d"]
    # New monitors before and after the cursor: the ones already seen are not repeated.
    await _monitors(db, server_state, ["a", "c", "e"])
    rest = await _walk(client, page["next"], "monitors")
    assert [m["name"] for m in rest] == ["e", "f", "h"]


async def test_monitors_are_filtered_by_tag_state_and_kind(
    client: httpx.AsyncClient, db: Database, server_state: ServerState
) -> None:
    await _monitors(db, server_state, [f"db{i}" for i in range(5)], tags=["db", "nightly"])
    await _monitors(db, server_state, ["web", "www"], tags=["web", "dbx"])
    async with db.write() as conn:
        await pause_monitor(conn, server_state.project.id, "db3", datetime.now(UTC))
    tagged = await _walk(client, f"{API}/monitors?tag=db&limit=2", "monitors")
    assert [m["name"] for m in tagged] == ["db0", "db1", "db2", "db3", "db4"]
    paused = await client.get(f"{API}/monitors", params={"state": "paused"})
    assert [m["name"] for m in paused.json()["monitors"]] == ["db3"]
    both = await client.get(f"{API}/monitors", params={"state": "new", "tag": "web"})
    assert [m["name"] for m in both.json()["monitors"]] == ["web", "www"]
    kind = await client.get(f"{API}/monitors", params={"kind": "heartbeat", "limit": 1000})
    assert len(kind.json()["monitors"]) == 7
    assert (await client.get(f"{API}/monitors", params={"tag": "none"})).json() == {
        "monitors": [],
        "next": None,
    }


async def test_channel_pages(
    client: httpx.AsyncClient, db: Database, server_state: ServerState
) -> None:
    async with db.write() as conn:
        for i in range(7):
            spec = channel_spec({"name": f"c{i}", "kind": "webhook", "url": "http://x.test/"})
            await create_channel(conn, server_state.project.id, spec, datetime.now(UTC))
    walked = await _walk(client, f"{API}/channels?limit=3", "channels")
    assert [c["name"] for c in walked] == [f"c{i}" for i in range(7)]


async def test_ping_and_flip_pages_go_back_in_time(
    client: httpx.AsyncClient, db: Database, server_state: ServerState
) -> None:
    await _monitors(db, server_state, ["w"])
    async with db.write() as conn:
        monitor = await get_monitor(conn, server_state.project.id, "w")
        for i in range(9):
            flip = Flip(MonitorState.UP, MonitorState.DOWN, f"cause {i}")
            await record_flip(conn, monitor.id, flip, datetime.now(UTC))
    flips = await _walk(client, f"{API}/monitors/w/flips?limit=4", "flips")
    assert [f["cause"] for f in flips] == [f"cause {i}" for i in reversed(range(9))]
    pings = await client.get(f"{API}/monitors/w/pings", params={"limit": 4})
    assert pings.json() == {"pings": [], "next": None}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        pytest.param({"limit": 0}, "limit", id="limit-zero"),
        pytest.param({"limit": 1001}, "limit", id="limit-over-max"),
        pytest.param({"limit": "x"}, "limit", id="limit-not-a-number"),
        pytest.param({"cursor": "nonsense"}, "cursor", id="cursor-garbage"),
        pytest.param({"cursor": "W10"}, "cursor", id="cursor-wrong-shape"),
        pytest.param({"state": "sleepy"}, "state", id="unknown-state"),
        pytest.param({"kind": "pigeon"}, "kind", id="unknown-kind"),
    ],
)
async def test_bad_paging_parameters_are_422(
    client: httpx.AsyncClient, query: dict[str, Any], field: str
) -> None:
    answer = await client.get(f"{API}/monitors", params=query)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"] == "invalid request"
    assert field in answer.json()["fields"]


async def test_a_cursor_of_one_list_is_refused_by_another(
    client: httpx.AsyncClient, db: Database, server_state: ServerState
) -> None:
    await _monitors(db, server_state, ["a", "b"])
    page = (await client.get(f"{API}/monitors", params={"limit": 1})).json()
    cursor = httpx.URL(page["next"]).params["cursor"]
    answer = await client.get(f"{API}/monitors/a/flips", params={"cursor": cursor})
    assert answer.status_code == 422
    assert set(answer.json()["fields"]) == {"cursor"}


async def test_a_tag_with_nul_is_refused_not_a_500(client: httpx.AsyncClient) -> None:
    answer = await client.get(f"{API}/monitors", params={"tag": "a\u0000b"})
    assert answer.status_code == 422
    assert set(answer.json()["fields"]) == {"tag"}
