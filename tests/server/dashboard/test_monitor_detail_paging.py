"""Paging the monitor page's checks, pings and state changes by keyset cursor, over HTTP
(SQLite and PostgreSQL): Older / Newer walk every row once, the htmx poll keeps the page
the user chose, and a broken cursor is refused."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx

from tests.server.dashboard.test_monitor_pages import logged_in
from tests.server.live import LiveServer
from tocsin.server.domain.states import MonitorState
from tocsin.server.domain.transitions import Flip
from tocsin.server.storage.flips import insert_flips
from tocsin.server.storage.probe_writes import ProbeResultRow, insert_probe_results
from tocsin.server.storage.users import Role
from tocsin.server.web.api.paging import encode_cursor

_LINK = r'hx-get="(/ui/monitors/[^"]+/{section}(?:\?{section}=[A-Za-z0-9_-]+)?)"[^>]*>{label}<'


def link(page: httpx.Response, section: str, label: str) -> str | None:
    """The fragment URL of the section's ``label`` link (Older, Newer, Newest), if shown."""
    found = re.search(_LINK.format(section=section, label=label), page.text)
    return found.group(1) if found else None


def shown_ms(page: httpx.Response) -> list[int]:
    """The response times of the checks a page lists, in order."""
    return [int(ms) for ms in re.findall(r"· (\d+) ms", page.text)]


async def add_results(server: LiveServer, name: str, count: int) -> None:
    """``count`` checks a minute apart, the newest taking 1 ms, the oldest ``count`` ms;
    checks 20 and 21 started in the same microsecond, across the first page's end (their
    ids break the tie)."""
    monitor = await server.monitor(name)
    now = datetime.now(UTC).replace(microsecond=0)
    rows = []
    for ms in range(1, count + 1):
        at = now - timedelta(minutes=20 if ms == 21 else ms)
        rows.append(
            ProbeResultRow(monitor.id, at, at, "pass", None, None, 200, float(ms), {}, [], None)
        )
    # Older rows first, as the probe engine writes them; 21 is written before 20, so 20 has
    # the higher id and comes first, newest first.
    rows.sort(key=lambda row: (row.started_at, -row.total_ms if row.total_ms else 0))
    await server.database.run_write(insert_probe_results, rows)


async def test_older_and_newer_walk_every_check_once(server: LiveServer) -> None:
    await server.create_monitor(name="site", kind="http", url="http://127.0.0.1:9/")
    await add_results(server, "site", 45)
    monitor = await server.monitor("site")
    async with logged_in(server, Role.READ_ONLY) as client:
        first = await client.get(f"/ui/monitors/{monitor.uuid}")
        older_url = link(first, "results", "Older")
        assert older_url is not None and link(first, "results", "Newer") is None
        second = await client.get(older_url)
        third_url = link(second, "results", "Older")
        assert third_url is not None
        third = await client.get(third_url)
        back_url = link(third, "results", "Newer")
        assert back_url is not None
        back = await client.get(back_url)
        newest_url = link(back, "results", "Newer")
        assert newest_url is not None
        newest = await client.get(newest_url)
        # The whole page and the htmx poll show the page the cursor names.
        cursor = older_url.partition("?")[2]
        full = await client.get(f"/ui/monitors/{monitor.uuid}?{cursor}")
        poll = await client.get(f"/ui/monitors/{monitor.uuid}/live?{cursor}&flips=")
    assert shown_ms(first) == list(range(1, 21))
    # Checks 20 and 21 share a start time: the first page ends at 20, the next starts at 21.
    assert shown_ms(second) == list(range(21, 41))
    assert shown_ms(third) == list(range(41, 46))
    assert link(third, "results", "Older") is None
    assert "<html" not in second.text and 'id="history-results"' in second.text
    assert shown_ms(back) == shown_ms(second)
    assert shown_ms(newest) == shown_ms(first) and link(newest, "results", "Newer") is None
    assert f'name="results" value="{cursor.partition("=")[2]}"' in second.text
    assert shown_ms(full) == shown_ms(second)
    assert shown_ms(poll) == shown_ms(second) and 'hx-trigger="every 5s"' in poll.text
    assert link(third, "results", "Newest") is not None
    assert f'href="/ui/monitors/{monitor.uuid}?{cursor}"' in first.text  # works without htmx


async def test_ties_in_start_time_are_kept_apart_by_id(server: LiveServer) -> None:
    await server.create_monitor(name="site", kind="http", url="http://127.0.0.1:9/")
    await add_results(server, "site", 45)
    monitor = await server.monitor("site")
    seen: list[int] = []
    async with logged_in(server) as client:
        url: str | None = f"/ui/monitors/{monitor.uuid}/results"
        while url is not None:
            page = await client.get(url)
            seen += shown_ms(page)
            url = link(page, "results", "Older")
    assert sorted(seen) == list(range(1, 46)) and len(seen) == 45


async def test_pings_page_by_number(server: LiveServer) -> None:
    monitor = await server.create_monitor(name="backup", period="1h")
    key = await server.ping_key()
    async with logged_in(server, Role.READ_ONLY) as client:
        for n in range(25):
            assert (await client.post(f"/ping/{key}/backup", content=f"run {n}")).text == "OK"
        first = await client.get(f"/ui/monitors/{monitor.uuid}")
        older_url = link(first, "pings", "Older")
        assert older_url is not None
        older = await client.get(older_url)
        newer_url = link(older, "pings", "Newer")
        assert newer_url is not None
        newer = await client.get(newer_url)
    numbers = [int(n) for n in re.findall(r"<summary>#(\d+) ", first.text)]
    assert numbers == list(range(25, 5, -1))
    assert [int(n) for n in re.findall(r"<summary>#(\d+) ", older.text)] == list(range(5, 0, -1))
    assert link(older, "pings", "Older") is None
    assert [int(n) for n in re.findall(r"<summary>#(\d+) ", newer.text)] == numbers


async def test_state_changes_page_by_time(server: LiveServer) -> None:
    monitor = await server.create_monitor(name="backup", period="1h")
    start = datetime.now(UTC) - timedelta(days=2)
    flips = [
        (
            monitor.id,
            Flip(MonitorState.UP, MonitorState.DOWN, f"cause-{i:02}"),
            start + timedelta(minutes=i),
        )
        for i in range(30)
    ]
    await server.database.run_write(insert_flips, flips)
    async with logged_in(server) as client:
        first = await client.get(f"/ui/monitors/{monitor.uuid}")
        older_url = link(first, "flips", "Older")
        assert older_url is not None
        older = await client.get(older_url)
    causes = re.findall(r"cause-(\d\d)", first.text)
    assert causes == [f"{i:02}" for i in range(29, 9, -1)]
    assert re.findall(r"cause-(\d\d)", older.text) == [f"{i:02}" for i in range(9, -1, -1)]
    assert 'aria-label="Pages of state changes"' in older.text


async def test_a_broken_cursor_is_refused(server: LiveServer) -> None:
    await server.create_monitor(name="site", kind="http", url="http://127.0.0.1:9/")
    await add_results(server, "site", 25)
    monitor = await server.monitor("site")
    async with logged_in(server) as client:
        first = await client.get(f"/ui/monitors/{monitor.uuid}")
        older_url = link(first, "results", "Older")
        assert older_url is not None
        cursor = older_url.partition("=")[2]
        garbage = await client.get(f"/ui/monitors/{monitor.uuid}?results=not-a-cursor")
        other_list = await client.get(f"/ui/monitors/{monitor.uuid}/flips?flips={cursor}")
    assert garbage.status_code == 400 and "broken" in garbage.text
    assert other_list.status_code == 400


async def test_a_forged_cursor_past_what_the_database_takes_is_refused(
    server: LiveServer,
) -> None:
    await server.create_monitor(name="site", kind="http", url="http://127.0.0.1:9/")
    monitor = await server.monitor("site")
    forged = {
        "results": encode_cursor("results.older", "0001-01-01T00:00:00+05:00/3"),
        "flips": encode_cursor("flips.older", f"2026-01-01T00:00:00+00:00/{2**64}"),
        "pings": encode_cursor("pings.older", 2**64),
    }
    async with logged_in(server) as client:
        for section, cursor in forged.items():
            page = await client.get(f"/ui/monitors/{monitor.uuid}/{section}?{section}={cursor}")
            assert page.status_code == 400, section
            assert "broken" in page.text
