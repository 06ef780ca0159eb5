"""The monitor list, the monitor page and the monitor forms over HTTP (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import httpx

from tests.server.dashboard.conftest import add_user, client_for, csrf_token, log_in
from tests.server.live import LiveServer
from tocsin.server.storage.probe_reads import floor_hour
from tocsin.server.storage.probe_rows import HourRecord
from tocsin.server.storage.probe_writes import ProbeResultRow, insert_probe_results
from tocsin.server.storage.result_rollup import upsert_hours
from tocsin.server.storage.users import Role

OUTCOMES = [
    {"text": "status == 200", "severity": "fail", "passed": False, "resolved": 503,
     "message": "status (503) == 200"},
]  # fmt: skip


async def add_history(server: LiveServer, name: str) -> None:
    """24 hourly aggregates (1 failure in 60 checks each) and one failed result."""
    monitor = await server.monitor(name)
    now = datetime.now(UTC)
    top = floor_hour(now)
    hours = [
        (monitor.id, HourRecord("", top - timedelta(hours=h), 60, 1, 0, 80.0 + h, 200.0, 300.0))
        for h in range(1, 25)
    ]
    result = ProbeResultRow(
        monitor.id, now, now, "fail", "assertion", None, 503, 42.0, {}, OUTCOMES, None
    )
    await server.database.run_write(upsert_hours, hours)
    await server.database.run_write(insert_probe_results, [result])


@asynccontextmanager
async def logged_in(
    server: LiveServer, role: Role = Role.ADMIN
) -> AsyncIterator[httpx.AsyncClient]:
    """A client logged in as a new user with ``role``."""
    name = "ada" if role is Role.ADMIN else "rob"
    await add_user(server, name, role)
    async with client_for(server) as client:
        assert (await log_in(client, name)).status_code == 303
        yield client


async def test_the_list_shows_state_kind_last_check_uptime_and_a_sparkline(
    server: LiveServer,
) -> None:
    await server.create_monitor(name="nightly-backup", period="1h")
    await server.create_monitor(name="site", kind="http", url="http://127.0.0.1:9/")
    await add_history(server, "site")
    async with logged_in(server, Role.READ_ONLY) as client:
        page = await client.get("/")
    assert page.status_code == 200
    html = page.text
    assert "nightly-backup" in html and "site" in html
    assert 'class="state state-new">new<' in html
    # 24 full hours of 60 checks with one failure each: 98.33 % in every window.
    assert html.count("98.33 %") == 3
    assert '<svg class="sparkline"' in html
    assert 'hx-get="/ui/monitors/rows"' in html and 'hx-trigger="every 5s"' in html
    assert "New monitor" not in html  # read-only users see no actions


async def test_the_list_filters_searches_and_pages(server: LiveServer) -> None:
    for i in range(52):
        await server.create_monitor(name=f"job-{i:02}", tags=["batch"] if i % 2 else ["web"])
    await server.create_monitor(name="Front Page", kind="http", url="http://127.0.0.1:9/")
    async with logged_in(server) as client:
        first = await client.get("/")
        second = await client.get("/?after=job-48")
        tagged = await client.get("/?tag=web")
        http = await client.get("/?kind=http")
        search = await client.get("/?q=front")
        down = await client.get("/?state=down")
        rows = await client.get("/ui/monitors/rows?kind=http")
    assert first.text.count('href="/ui/monitors/') == 50 + 1  # 50 rows + "New monitor"
    assert "?after=job-48" in first.text
    assert ">job-49<" in second.text and ">job-48<" not in second.text
    assert ">job-00<" in tagged.text and ">job-01<" not in tagged.text
    assert ">Front Page<" in http.text and "job-" not in http.text
    assert ">Front Page<" in search.text and "job-" not in search.text
    assert "No monitor matches these filters." in down.text
    assert rows.status_code == 200 and "<html" not in rows.text
    assert ">Front Page<" in rows.text and 'hx-get="/ui/monitors/rows?kind=http"' in rows.text


async def test_the_monitor_page_shows_checks_with_assertions_flips_and_pings(
    server: LiveServer,
) -> None:
    site = await server.create_monitor(name="site", kind="http", url="http://127.0.0.1:9/")
    await add_history(server, "site")
    backup = await server.create_monitor(name="backup", period="1h")
    key = await server.ping_key()
    async with logged_in(server, Role.READ_ONLY) as client:
        await client.post(f"/ping/{key}/backup", content=b"42 files copied")
        probed = await client.get(f"/ui/monitors/{site.uuid}")
        live = await client.get(f"/ui/monitors/{site.uuid}/live")
        pinged = await client.get(f"/ui/monitors/{backup.uuid}")
        missing = await client.get("/ui/monitors/00000000-0000-4000-8000-000000000000")
        by_name = await client.get("/ui/monitors/site")
    assert probed.status_code == 200
    assert "<code>status == 200</code>" in probed.text
    assert "failed (fail)" in probed.text and "<code>503</code>" in probed.text
    assert "HTTP 503" in probed.text
    assert '<figure class="chart">' in probed.text and "p95" in probed.text
    assert 'class="timeline"' in probed.text
    assert "Edit" not in probed.text and "Pause" not in probed.text
    assert live.status_code == 200 and "<html" not in live.text
    assert 'hx-trigger="every 5s"' in live.text and "HTTP 503" in live.text
    assert "42 files copied" in pinged.text
    assert "new</span> → <span" in pinged.text and ">up</span>" in pinged.text
    assert (missing.status_code, by_name.status_code) == (404, 404)


async def test_an_admin_creates_edits_pauses_resumes_and_deletes_a_monitor(
    server: LiveServer,
) -> None:
    async with logged_in(server) as client:
        form = await client.get("/ui/monitors/new")
        token = csrf_token(form)
        created = await client.post(
            "/ui/monitors/new",
            data={
                "csrf_token": token,
                "name": "api",
                "kind": "http",
                "url": "http://127.0.0.1:9/health",
                "method": "GET",
                "interval": "30s",
                "assert": "status == 200\nresponse_time < 2s",
                "tags": "prod, web",
            },
        )
        assert created.status_code == 303
        location = created.headers["location"]
        monitor = await server.monitor("api")
        assert location == f"/ui/monitors/{monitor.uuid}"
        assert monitor.interval_seconds == 30 and monitor.tags == ("prod", "web")
        edit = await client.get(f"{location}/edit")
        assert "status == 200\nresponse_time &lt; 2s" in edit.text
        assert 'value="30s"' in edit.text
        edited = await client.post(
            f"{location}/edit",
            data={"csrf_token": token, "name": "api", "kind": "http",
                  "url": "http://127.0.0.1:9/v2", "interval": "2m", "assert": "", "tags": "prod"},
        )  # fmt: skip
        assert edited.status_code == 303
        monitor = await server.monitor("api")
        assert monitor.probe is not None and monitor.probe["url"] == "http://127.0.0.1:9/v2"
        assert monitor.interval_seconds == 120 and monitor.tags == ("prod",)
        assert (
            await client.post(f"{location}/pause", data={"csrf_token": token})
        ).status_code == 303
        assert (await server.monitor("api")).status.state.value == "paused"
        page = await client.get(location)
        assert "Resume" in page.text
        assert (
            await client.post(f"{location}/resume", data={"csrf_token": token})
        ).status_code == 303
        assert (await server.monitor("api")).status.state.value != "paused"
        confirm = await client.get(f"{location}/delete")
        assert "cannot be undone" in confirm.text
        deleted = await client.post(f"{location}/delete", data={"csrf_token": token})
        assert (deleted.status_code, deleted.headers["location"]) == (303, "/")
        assert (await client.get(location)).status_code == 404
    assert [m.name for m in await server.monitors()] == []


async def test_each_field_problem_is_shown_next_to_its_field(server: LiveServer) -> None:
    await server.create_monitor(name="taken", period="1h")
    async with logged_in(server) as client:
        token = csrf_token(await client.get("/ui/monitors/new"))
        bad = await client.post(
            "/ui/monitors/new",
            data={"csrf_token": token, "name": "x", "kind": "http", "url": "not a url",
                  "interval": "soon", "assert": "status == 200\nstatus >>> 3"},
        )  # fmt: skip
        taken = await client.post(
            "/ui/monitors/new",
            data={"csrf_token": token, "name": "taken", "kind": "heartbeat", "period": "1h"},
        )
    assert bad.status_code == 422
    assert '<p class="error" id="e-url">' in bad.text
    assert '<p class="error" id="e-interval">' in bad.text
    assert '<p class="error" id="e-assert">assert[1]:' in bad.text
    assert 'value="not a url"' in bad.text  # what was typed is kept
    assert taken.status_code == 409 and '<p class="error" id="e-name">' in taken.text
    assert [m.name for m in await server.monitors()] == ["taken"]


async def test_read_only_users_get_403_on_every_monitor_action(server: LiveServer) -> None:
    monitor = await server.create_monitor(name="backup", period="1h")
    base = f"/ui/monitors/{monitor.uuid}"
    async with logged_in(server, Role.READ_ONLY) as client:
        token = csrf_token(await client.get(base))  # the logout form's token
        answers = [
            await client.get("/ui/monitors/new"),
            await client.get(f"{base}/edit"),
            await client.get(f"{base}/delete"),
            await client.post("/ui/monitors/new", data={"csrf_token": token, "name": "x"}),
            await client.post(f"{base}/edit", data={"csrf_token": token, "name": "y"}),
            await client.post(f"{base}/pause", data={"csrf_token": token}),
            await client.post(f"{base}/resume", data={"csrf_token": token}),
            await client.post(f"{base}/delete", data={"csrf_token": token}),
        ]
    assert [answer.status_code for answer in answers] == [403] * len(answers)
    assert "Admins only" in answers[-1].text
    assert [(m.name, m.status.state.value) for m in await server.monitors()] == [("backup", "new")]


async def test_monitor_actions_need_the_csrf_token(server: LiveServer) -> None:
    monitor = await server.create_monitor(name="backup", period="1h")
    base = f"/ui/monitors/{monitor.uuid}"
    async with logged_in(server) as client:
        answers = [
            await client.post("/ui/monitors/new", data={"name": "x", "period": "1h"}),
            await client.post(f"{base}/edit", data={"name": "y", "csrf_token": "forged"}),
            await client.post(f"{base}/pause"),
            await client.post(f"{base}/delete"),
        ]
    assert [answer.status_code for answer in answers] == [403] * len(answers)
    assert all("Form expired" in answer.text for answer in answers)
    assert [(m.name, m.status.state.value) for m in await server.monitors()] == [("backup", "new")]


async def test_pages_send_the_browser_to_log_in(server: LiveServer) -> None:
    monitor = await server.create_monitor(name="backup", period="1h")
    async with client_for(server) as client:
        page = await client.get(f"/ui/monitors/{monitor.uuid}")
        poll = await client.get("/ui/monitors/rows", headers={"HX-Request": "true"})
    assert page.status_code == 303
    assert page.headers["location"] == f"/ui/login?next=/ui/monitors/{monitor.uuid}"
    assert poll.status_code == 401 and poll.headers["HX-Redirect"].startswith("/ui/login")
