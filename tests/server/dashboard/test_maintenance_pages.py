"""The maintenance page over HTTP (SQLite and PostgreSQL): windows and silences listed,
added, deleted and ended by admins, refused to read-only users and to forms without the
session's CSRF token."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx

from tests.server.dashboard.conftest import csrf_token
from tests.server.dashboard.test_monitor_pages import logged_in
from tests.server.live import LiveServer
from tocsin.server.domain.maintenance import maintenance_window
from tocsin.server.domain.states import ManagedBy
from tocsin.server.storage.holds import HoldKind, HoldRecord, create_silence, list_holds, put_window
from tocsin.server.storage.projects import default_project
from tocsin.server.storage.users import Role

PAGE = "/ui/maintenance"


async def holds(server: LiveServer, kind: HoldKind) -> list[HoldRecord]:
    """The stored windows or silences not over yet."""
    async with server.database.read() as conn:
        project = await default_project(conn)
        return await list_holds(conn, project.id, datetime.now(UTC), kind)


async def add_window(server: LiveServer, owner: ManagedBy, **fields: object) -> None:
    """Store a window as ``tocsin apply`` (config) or the API would."""
    async with server.database.write() as conn:
        project = await default_project(conn)
        window = maintenance_window(fields)
        await put_window(conn, project.id, window, datetime.now(UTC), owner)


async def post(client: httpx.AsyncClient, path: str, **fields: str) -> httpx.Response:
    """Post a form of the page with the session's CSRF token."""
    token = csrf_token(await client.get(PAGE))
    return await client.post(path, data={"csrf_token": token, **fields})


def error_of(page: httpx.Response, field_id: str) -> str:
    """The error shown next to the field ``field_id``."""
    match = re.search(rf'<p class="error" id="{field_id}-error">([^<]*)</p>', page.text)
    assert match, page.text
    return match.group(1)


def rows_by_name(html: str) -> dict[str, str]:
    """Each table row's HTML by the name in its row header."""
    rows = {}
    for row in html.split("<tr>")[1:]:
        found = re.search(r'<th scope="row">(?:<a [^>]*>)?([^<]+)<', row)
        if found:
            rows[found.group(1)] = row
    return rows


async def test_windows_and_silences_are_listed_with_owner_and_when(server: LiveServer) -> None:
    etl = await server.create_monitor(name="etl", period="1h")
    await server.create_monitor(name="shop", period="1h")
    now = datetime.now(UTC)
    await add_window(
        server, ManagedBy.CONFIG, name="sunday-deploys", monitors=["shop"],
        cron="0 2 * * 0", duration="1h", timezone="Europe/Berlin",
    )  # fmt: skip
    await add_window(
        server, ManagedBy.API, name="db-upgrade", monitors=["*"],
        start=(now - timedelta(minutes=5)).isoformat(), duration="2h",
    )  # fmt: skip
    await add_window(
        server, ManagedBy.API, name="later", monitors=["etl"],
        start=(now + timedelta(days=2, minutes=30)).isoformat(), duration="1h",
    )  # fmt: skip
    async with server.database.write() as conn:
        project = await default_project(conn)
        await create_silence(conn, project.id, etl.id, now, now + timedelta(hours=2))
    async with logged_in(server, Role.READ_ONLY) as client:
        page = await client.get(PAGE)
    assert page.status_code == 200
    rows = rows_by_name(page.text)
    recurring = rows["sunday-deploys"]
    assert "every <code>0 2 * * 0</code> (Europe/Berlin) for 1h" in recurring
    assert "<code>tocsin.yaml</code>" in recurring and ">shop</a>" in recurring
    assert ">waiting</span> starts" in recurring
    running = rows["db-upgrade"]
    assert "all monitors" in running and "API or dashboard" in running
    assert ">active</span> until" in running and re.search(r"\(in 1 h 5\d min\)", running)
    assert "one-off: " in rows["later"] and "(in 2 d)" in rows["later"]
    silenced = rows["etl"]
    assert f'href="/ui/monitors/{etl.uuid}">etl<' in silenced
    assert "(in 2 h)" in silenced or "(in 1 h 59 min)" in silenced
    # Read-only users see everything but no form.
    assert "Add window" not in page.text and "Silence a monitor" not in page.text
    assert "/ui/maintenance/windows" not in page.text and "End now" not in page.text
    assert 'href="/ui/maintenance" aria-current="page">Maintenance<' in page.text


async def test_an_admin_adds_and_deletes_a_one_off_window(server: LiveServer) -> None:
    await server.create_monitor(name="etl", period="1h")
    await server.create_monitor(name="shop", period="1h")
    async with logged_in(server) as client:
        page = await client.get(PAGE)
        made = await post(
            client, PAGE + "/windows", name="move", monitors="etl, shop",
            start="2030-01-05T22:00", duration="2h", timezone="Europe/Berlin",
        )  # fmt: skip
        listed = await client.get(PAGE)
        [window] = await holds(server, HoldKind.MAINTENANCE)
        deleted = await post(client, PAGE + "/windows/delete", name="move")
        gone = await post(client, PAGE + "/windows/delete", name="move")
    assert "Add a one-off window" in page.text and 'list="monitor-names"' in page.text
    assert '<option value="shop">' in page.text
    assert made.status_code == 303 and made.headers["location"] == PAGE
    assert window.name == "move" and window.managed_by == "api"
    assert window.window is not None and window.window["monitors"] == ["etl", "shop"]
    # 22:00 in Berlin in January is 21:00 UTC.
    assert window.starts_at == datetime(2030, 1, 5, 21, tzinfo=UTC)
    assert window.ends_at == datetime(2030, 1, 5, 23, tzinfo=UTC)
    assert "2030-01-05 21:00:00 UTC to 2030-01-05 23:00:00 UTC" in listed.text
    assert deleted.status_code == 303
    assert await holds(server, HoldKind.MAINTENANCE) == []
    assert gone.status_code == 404


async def test_window_problems_are_shown_next_to_their_fields(server: LiveServer) -> None:
    await server.create_monitor(name="etl", period="1h")
    await add_window(
        server, ManagedBy.CONFIG, name="taken", monitors=["etl"], cron="0 2 * * 0", duration="1h"
    )
    async with logged_in(server) as client:
        backwards = await post(
            client, PAGE + "/windows", name="w", monitors="etl",
            start="2030-01-05T22:00", end="2030-01-05T21:00",
        )  # fmt: skip
        several = await post(
            client, PAGE + "/windows", name="taken", monitors="etl, nope",
            start="soon", duration="forever", timezone="Mars/Olympus",
        )  # fmt: skip
        blank = await post(client, PAGE + "/windows", name=" ", monitors="", start="")
    assert backwards.status_code == 422
    assert error_of(backwards, "window-end") == "must be after start"
    assert 'value="2030-01-05T21:00"' in backwards.text  # what was typed is kept
    assert several.status_code == 422
    assert "a window with this name exists" in error_of(several, "window-name")
    assert error_of(several, "window-monitors") == "no monitor named &#39;nope&#39; on the server"
    assert "must be a date and time" in error_of(several, "window-start")
    assert error_of(several, "window-timezone").startswith("&#39;Mars/Olympus&#39; is not a known")
    assert error_of(several, "window-duration") != ""
    assert blank.status_code == 422
    assert error_of(blank, "window-name") == "is required: a non-empty string"
    assert error_of(blank, "window-monitors").startswith("is required")
    assert error_of(blank, "window-start").startswith("is required")
    [still] = await holds(server, HoldKind.MAINTENANCE)
    assert still.name == "taken" and still.managed_by == "config"


async def test_a_window_name_longer_than_100_characters_is_refused(server: LiveServer) -> None:
    # Regression: the name went unchecked to a 100-character column (500 on PostgreSQL).
    await server.create_monitor(name="etl", period="1h")
    async with logged_in(server) as client:
        long = await post(
            client, PAGE + "/windows", name="x" * 101, monitors="etl",
            start="2030-01-05T22:00", duration="1h",
        )  # fmt: skip
    assert long.status_code == 422
    assert error_of(long, "window-name") == "must be at most 100 characters"
    assert await holds(server, HoldKind.MAINTENANCE) == []


async def test_an_admin_silences_a_monitor_then_ends_the_silence(server: LiveServer) -> None:
    etl = await server.create_monitor(name="etl", period="1h")
    async with logged_in(server) as client:
        prefilled = await client.get(PAGE + "?monitor=etl")
        made = await post(client, PAGE + "/silences", monitor="etl", **{"for": "2h"})
        until = await post(client, PAGE + "/silences", monitor="etl", until="2099-12-24T08:00")
        listed = await client.get(PAGE)
        silences = await holds(server, HoldKind.SILENCE)
        ended = await post(client, PAGE + "/silences/end", monitor=etl.uuid)
        again = await post(client, PAGE + "/silences/end", monitor=etl.uuid)
    assert 'id="silence-monitor" name="monitor" type="text" value="etl"' in prefilled.text
    assert made.status_code == 303 and until.status_code == 303
    assert [s.monitor for s in silences] == ["etl", "etl"]
    ends = sorted(s.ends_at for s in silences if s.ends_at)
    assert ends[1] == datetime(2099, 12, 24, 8, tzinfo=UTC)  # a time without offset is UTC
    assert timedelta(hours=1, minutes=59) < ends[0] - datetime.now(UTC) <= timedelta(hours=2)
    assert listed.text.count("End now") == 2
    assert ended.status_code == 303
    assert await holds(server, HoldKind.SILENCE) == []
    assert again.status_code == 404 and "etl is not silenced" in again.text


async def test_silence_problems_are_shown_next_to_their_fields(server: LiveServer) -> None:
    await server.create_monitor(name="etl", period="1h")
    async with logged_in(server) as client:
        bad_for = await post(client, PAGE + "/silences", monitor="etl", **{"for": "soon"})
        both = await post(
            client, PAGE + "/silences", monitor="nope", until="2099-01-01T00:00", **{"for": "2h"}
        )
        past = await post(client, PAGE + "/silences", monitor="etl", until="2001-01-01T00:00")
        junk = await post(client, PAGE + "/silences", monitor="", until="tomorrow")
    assert bad_for.status_code == 422
    assert "soon" in error_of(bad_for, "silence-for")
    assert 'value="soon"' in bad_for.text
    assert error_of(both, "silence-for") == "give either for or until"
    assert error_of(both, "silence-monitor") == "there is no monitor named &#39;nope&#39;"
    assert error_of(past, "silence-until") == "must be in the future"
    assert error_of(junk, "silence-until").startswith("must be a date and time")
    assert error_of(junk, "silence-monitor") == "is required"
    assert await holds(server, HoldKind.SILENCE) == []


async def test_read_only_users_and_forms_without_a_token_are_refused(server: LiveServer) -> None:
    await server.create_monitor(name="etl", period="1h")
    await add_window(
        server, ManagedBy.API, name="keep", monitors=["etl"], cron="0 2 * * 0", duration="1h"
    )
    actions = {
        PAGE + "/windows": {"name": "w", "monitors": "etl", "start": "2030-01-01T00:00",
                            "duration": "1h"},
        PAGE + "/windows/delete": {"name": "keep"},
        PAGE + "/silences": {"monitor": "etl", "for": "1h"},
        PAGE + "/silences/end": {"monitor": "etl"},
    }  # fmt: skip
    async with logged_in(server, Role.READ_ONLY) as reader:
        token = csrf_token(await reader.get(PAGE))
        for path, fields in actions.items():
            refused = await reader.post(path, data={"csrf_token": token, **fields})
            assert refused.status_code == 403, path
            assert "Admins only" in refused.text
    async with logged_in(server) as admin:
        for path, fields in actions.items():
            expired = await admin.post(path, data=fields)
            assert expired.status_code == 403, path
            assert "Form expired" in expired.text
    [window] = await holds(server, HoldKind.MAINTENANCE)
    assert window.name == "keep"
    assert await holds(server, HoldKind.SILENCE) == []
