"""The incidents list and an incident's page over HTTP (SQLite and PostgreSQL): incidents
made by real failures alerting a real webhook receiver."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.server.dashboard.conftest import client_for
from tests.server.dashboard.test_monitor_pages import logged_in
from tests.server.live import LiveServer, WebhookReceiver, webhook_receiver
from tocsin.server.storage.channels import get_channel
from tocsin.server.storage.deliveries import Attempt, AttemptOutcome, record_attempts
from tocsin.server.storage.incidents import (
    IncidentRecord,
    add_children,
    list_incidents,
    open_incidents,
    resolve_incidents,
)
from tocsin.server.storage.projects import default_project
from tocsin.server.storage.users import Role
from tocsin.server.web.api.paging import encode_cursor

TOKEN = "hook-token-5e1f9a"  # in the channel's URL: read-only users never see it


@pytest.fixture
async def hook(server: LiveServer) -> AsyncIterator[WebhookReceiver]:
    """A webhook receiver behind the channel ``ops``."""
    async with webhook_receiver() as receiver:
        await server.create_channel(name="ops", kind="webhook", url=receiver.url)
        yield receiver


async def fail(server: LiveServer, name: str) -> None:
    """Make heartbeat ``name`` (created if new) go down with a fail ping."""
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        found = [m for m in await server.monitors() if m.name == name]
        monitor = found[0] if found else await server.create_monitor(name=name, channels=["ops"])
        assert (await client.get(f"/ping/{monitor.uuid}/fail")).status_code == 200


async def recover(server: LiveServer, name: str) -> None:
    """A success ping for ``name``: its incident is resolved."""
    monitor = await server.monitor(name)
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        assert (await client.get(f"/ping/{monitor.uuid}")).status_code == 200


async def incidents(server: LiveServer) -> list[IncidentRecord]:
    """Every stored incident, newest first."""
    async with server.database.read() as conn:
        project = await default_project(conn)
        return await list_incidents(conn, project.id, limit=1000)


async def test_open_incidents_come_first_then_resolved_ones_with_cause_and_alerts(
    server: LiveServer, hook: WebhookReceiver
) -> None:
    await fail(server, "backup")
    await fail(server, "etl")
    await recover(server, "backup")
    await hook.wait_for(3)
    await server.settled_notifications()
    etl, backup = await incidents(server)
    async with logged_in(server, Role.READ_ONLY) as client:
        page = await client.get("/ui/incidents")
        only_open = await client.get("/ui/incidents?show=open")
        only_resolved = await client.get("/ui/incidents?show=resolved")
    assert page.status_code == 200
    html = page.text
    open_part, resolved_part = html.split('id="h-resolved"')
    assert f'href="/ui/monitors/{etl.monitor_uuid}">etl<' in open_part
    assert ">backup<" not in open_part
    assert f'href="/ui/monitors/{backup.monitor_uuid}">backup<' in resolved_part
    assert etl.cause in open_part and backup.cause in resolved_part
    assert backup.resolve_cause is not None and backup.resolve_cause in resolved_part
    assert 'class="state state-down">open<' in open_part
    assert 'class="state state-up">resolved<' in resolved_part
    assert f'href="/ui/incidents/{etl.id}"' in open_part
    # Times in UTC and relative; the channel each alert went to, and how it fared.
    assert etl.opened_at.strftime("%Y-%m-%d %H:%M:%S UTC") in open_part
    assert re.search(r'<span class="muted">(now|\d+ s ago)</span>', open_part)
    assert "so far" in open_part
    assert "ops:" in open_part and "1 delivered" in open_part
    assert "2 delivered" in resolved_part  # the down alert and the recovery
    assert ">etl<" in only_open.text and ">backup<" not in only_open.text
    assert ">backup<" in only_resolved.text and ">etl<" not in only_resolved.text
    assert 'aria-current="page">Open only<' in only_open.text
    assert 'href="/ui/incidents" aria-current="page">Incidents<' in html  # the nav


async def test_the_list_polls_a_fragment_that_shows_new_incidents(
    server: LiveServer, hook: WebhookReceiver
) -> None:
    async with logged_in(server, Role.READ_ONLY) as client:
        page = await client.get("/ui/incidents?show=open")
        before = await client.get("/ui/incidents/rows?show=open")
        await fail(server, "etl")
        after = await client.get("/ui/incidents/rows?show=open")
    assert 'hx-get="/ui/incidents/rows?show=open"' in page.text
    assert 'hx-trigger="every 5s"' in page.text
    assert before.status_code == 200 and "<html" not in before.text
    assert "No open incidents" in before.text
    assert ">etl<" in after.text and 'hx-trigger="every 5s"' in after.text
    async with client_for(server) as anonymous:
        poll = await anonymous.get("/ui/incidents/rows", headers={"HX-Request": "true"})
        page = await anonymous.get("/ui/incidents")
    assert poll.status_code == 401
    assert poll.headers["HX-Redirect"] == "/ui/login?next=/ui/incidents/rows"
    assert page.status_code == 303


async def test_resolved_incidents_are_paged_by_keyset(server: LiveServer) -> None:
    monitor = await server.create_monitor(name="flaky", period="1h")
    start = datetime.now(UTC) - timedelta(days=1)
    opened = [(monitor.id, start + timedelta(minutes=i), f"cause {i}") for i in range(53)]
    ids = await server.database.run_write(open_incidents, opened)
    async with server.database.write() as conn:
        await conn.run_sync(
            resolve_incidents, [(i, start + timedelta(hours=2), "recovered") for i in ids[:52]]
        )
    child = await server.create_monitor(name="invoice-cron", period="1h")
    await server.database.run_write(add_children, [(ids[52], child.id, start)])
    async with logged_in(server) as client:
        first = await client.get("/ui/incidents")
        open_one = await client.get(f"/ui/incidents/{ids[52]}")
        link = first.text.split('rel="next">Older resolved')[0].rsplit('href="', 1)[1]
        second = await client.get(link.split('"')[0].replace("&amp;", "&"))
        bad = await client.get("/ui/incidents?show=resolved&cursor=bm9wZQ")
        huge = await client.get(
            f"/ui/incidents?show=open&cursor={encode_cursor('incidents', 2**64)}"
        )
    assert first.text.count('href="/ui/incidents/') == 50 + 1  # 50 resolved + 1 open
    assert ">cause 52<" not in first.text.split('id="h-resolved"')[1]
    assert "cause 51" in first.text and "cause 2<" in first.text and "cause 1<" not in first.text
    assert second.status_code == 200
    assert "cause 1<" in second.text and "cause 0<" in second.text
    assert "cause 51" not in second.text and 'id="h-open"' not in second.text
    assert "First page" in second.text and "Older resolved" not in second.text
    # A parent's incident lists the monitors that went down under it (depends_on).
    assert "also affected: invoice-cron" in first.text.split('id="h-resolved"')[0]
    assert "<dt>Also affected</dt><dd>invoice-cron" in open_one.text
    assert bad.status_code == 400 and "Bad page link" in bad.text
    assert huge.status_code == 400


async def test_an_incident_page_shows_its_alerts_and_every_delivery_attempt(
    server: LiveServer, hook: WebhookReceiver
) -> None:
    await server.create_channel(
        name="pager", kind="webhook", url=f"http://127.0.0.1:9/{TOKEN}/hook"
    )
    monitor = await server.create_monitor(name="etl", channels=["ops", "pager"])
    hook.statuses = [503]  # ops answers 503 once; the retry is delivered
    await fail(server, "etl")
    [incident] = await incidents(server)
    await hook.wait_for(2, timeout=15)
    rows = await server.settled_notifications()
    async with server.database.read() as conn:
        pager_id = (await get_channel(conn, (await default_project(conn)).id, "pager")).id
    [pager] = [row for row in rows if row["channel_id"] == pager_id]
    # A receiver's error may quote the URL holding its token.
    now = datetime.now(UTC)
    attempt = Attempt(
        pager["id"], pager["channel_id"], 9, now, 5, AttemptOutcome.FAILED, None,
        f"POST http://127.0.0.1:9/{TOKEN}/hook refused", None,
    )  # fmt: skip
    await server.database.run_write(record_attempts, [attempt], now)
    async with logged_in(server, Role.READ_ONLY) as reader:
        page = await reader.get(f"/ui/incidents/{incident.id}")
        live = await reader.get(f"/ui/incidents/{incident.id}/live")
        missing = await reader.get("/ui/incidents/999999")
        beyond = await reader.get(f"/ui/incidents/{2**64}")
    html = page.text
    assert page.status_code == 200
    assert f"Incident #{incident.id}: etl" in html
    assert f'href="/ui/monitors/{monitor.uuid}"' in html
    assert incident.cause in html
    timeline = html.split('id="h-incident-timeline"')[1].split('id="h-incident-deliveries"')[0]
    assert "opened</span>" in timeline
    assert "<strong>down</strong> alert to ops" in timeline
    assert "<strong>down</strong> alert to pager" in timeline
    assert "after 2 attempts" in timeline  # ops: 503, then delivered
    deliveries = html.split('id="h-incident-deliveries"')[1]
    assert "<h3>ops" in deliveries and "<h3>pager" in deliveries
    assert ">retry<" in deliveries and ">503<" in deliveries and ">delivered<" in deliveries
    assert "HTTP 503: nope" in deliveries
    assert TOKEN not in html  # masked for a read-only user, as the API masks it
    assert "refused" in deliveries
    assert live.status_code == 200 and "<html" not in live.text
    assert f'hx-get="/ui/incidents/{incident.id}/live"' in live.text  # open: kept live
    assert missing.status_code == 404 and beyond.status_code == 404
    async with logged_in(server) as admin:
        seen = await admin.get(f"/ui/incidents/{incident.id}")
    assert TOKEN in seen.text  # admins see the error as it was


async def test_the_monitor_page_links_its_incidents_and_a_silence_form(
    server: LiveServer, hook: WebhookReceiver
) -> None:
    await fail(server, "nightly backup")
    await hook.wait_for(1)
    (incident,) = await incidents(server)
    async with logged_in(server, Role.ADMIN) as client:
        monitor_page = await client.get(f"/ui/monitors/{incident.monitor_uuid}")
        assert f'href="/ui/incidents/{incident.id}"' in monitor_page.text
        assert (await client.get(f"/ui/incidents/{incident.id}")).status_code == 200
        silence = re.search(r'href="(/ui/maintenance\?monitor=[^"]+)">Silence<', monitor_page.text)
        assert silence is not None
        form = await client.get(silence.group(1).replace("&amp;", "&"))
    assert form.status_code == 200
    assert 'value="nightly backup"' in form.text
