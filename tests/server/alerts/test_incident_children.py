"""A parent's incident lists the children (``depends_on``) that went down while it held
their alerts: in the API and ``tocsin incidents``, and in the parent's later alerts (its
reminders and its recovery: "also affected: a, b"). Both databases, real engines and
receivers, the clock passed in; the last test runs a real server on the real clock."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from click.testing import CliRunner
from sqlalchemy import update

from tests.conftest import free_port
from tests.server.alerts.policy_rig import Rig, policy_rig
from tests.server.live import live_server, webhook_receiver
from tests.server.web.api.conftest import make_key
from tocsin.cli import cli
from tocsin.server.alerts.channels.messages import message_of
from tocsin.server.domain.states import MonitorState
from tocsin.server.storage.apikeys import ApiKeyScope
from tocsin.server.storage.database import Database
from tocsin.server.storage.incidents import IncidentRecord, list_incidents
from tocsin.server.storage.rows import MonitorRecord
from tocsin.server.storage.tables import monitors


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


async def _incidents(rig: Rig) -> dict[str, IncidentRecord]:
    """Each monitor's newest incident, by monitor name."""
    async with rig.db.read() as conn:
        found = await list_incidents(conn, rig.project_id)
    return {record.monitor_name: record for record in reversed(found)}


async def test_children_down_under_a_parent_are_listed_in_its_incident(db: Database) -> None:
    async with policy_rig(db) as rig:
        shop = await rig.monitor(name="shop", channels=["ops"], remind="5m")
        early = await rig.monitor(name="early", channels=["ops"], depends_on=["shop"])
        invoices = await rig.monitor(name="invoices", channels=["ops"], depends_on=["shop"])
        reports = await rig.monitor(name="reports", channels=["ops"], depends_on=["shop"])
        start = _now()
        # Down before its parent: it pages on its own and is not the parent's child.
        assert len(await rig.go_down(early, start - timedelta(minutes=1))) == 1
        [down] = await rig.go_down(shop, start)
        assert down.payload["incident"]["children"] == []
        assert "also affected" not in down.payload["summary"]
        assert await rig.go_down(invoices, start + timedelta(minutes=1)) == []
        assert await rig.go_down(reports, start + timedelta(minutes=2)) == []

        listed = await _incidents(rig)
        assert listed["shop"].children == ("invoices", "reports")
        assert listed["invoices"].children == ()
        assert listed["early"].children == ()

        [reminder] = (await rig.wake(start + timedelta(minutes=5))).alerts
        assert reminder.payload["event"] == "reminder"
        assert reminder.payload["incident"]["children"] == ["invoices", "reports"]

        [up] = await rig.recover(shop, start + timedelta(minutes=10))
        assert up.payload["event"] == "up"
        assert up.payload["incident"]["children"] == ["invoices", "reports"]
        assert up.payload["summary"].endswith("; also affected: invoices, reports")
        assert "Also affected: invoices, reports" in message_of(up.payload).text
        assert (await _incidents(rig))["shop"].children == ("invoices", "reports")


async def test_a_child_going_down_with_its_parent_is_listed_in_the_new_incident(
    db: Database,
) -> None:
    async with policy_rig(db) as rig:
        shop = await rig.monitor(name="shop", channels=["ops"])
        invoices = await rig.monitor(name="invoices", channels=["ops"], depends_on=["shop"])
        start = _now()
        # One deadline pass flips both: the parent's incident opens in the same transaction.
        alerts = await _both_go_down(rig, [invoices, shop], start)
        assert [a.payload["monitor"]["name"] for a in alerts] == ["shop"]
        assert alerts[0].payload["incident"]["children"] == ["invoices"]
        assert (await _incidents(rig))["shop"].children == ("invoices",)


async def test_a_child_down_twice_in_one_incident_is_listed_once(db: Database) -> None:
    async with policy_rig(db) as rig:
        shop = await rig.monitor(name="shop", channels=["ops"])
        invoices = await rig.monitor(name="invoices", channels=["ops"], depends_on=["shop"])
        start = _now()
        await rig.go_down(shop, start)
        await rig.go_down(invoices, start + timedelta(minutes=1))
        assert await rig.recover(invoices, start + timedelta(minutes=2)) == []
        await rig.go_down(invoices, start + timedelta(minutes=3))
        assert (await _incidents(rig))["shop"].children == ("invoices",)


async def test_tocsin_incidents_shows_the_children(db: Database, database_url: str) -> None:
    async with policy_rig(db) as rig:
        shop = await rig.monitor(name="shop", channels=["ops"])
        invoices = await rig.monitor(name="invoices", channels=["ops"], depends_on=["shop"])
        start = _now()
        await rig.go_down(shop, start)
        await rig.go_down(invoices, start + timedelta(minutes=1))
        env = {
            "TOCSIN_DATABASE_URL": database_url,
            "TOCSIN_PORT": str(free_port()),
            "TOCSIN_URL": None,
            "TOCSIN_API_KEY": None,
        }
        shown = await asyncio.to_thread(CliRunner().invoke, cli, ["incidents", "--open"], env=env)
        assert shown.exit_code == 0, shown.output
        lines = shown.stdout.splitlines()
        shop_line = next(i for i, line in enumerate(lines) if "shop" in line.split())
        assert lines[shop_line + 1].strip() == "also affected: invoices"
        as_json = await asyncio.to_thread(
            CliRunner().invoke, cli, ["incidents", "--open", "--json"], env=env
        )
        by_name = {i["monitor"]: i for i in json.loads(as_json.stdout)}
        assert by_name["shop"]["children"] == ["invoices"]
        assert by_name["invoices"]["children"] == []


async def test_the_api_lists_children_and_the_recovery_names_them(
    database_url: str, tmp_path: Path
) -> None:
    async with webhook_receiver() as hook, live_server(database_url, tmp_path) as server:
        key = await make_key(server.database, ApiKeyScope.READ)
        await server.create_channel(name="ops", kind="webhook", url=hook.url)
        shop = await server.create_monitor(name="shop", period="1s", grace="1s", channels=["ops"])
        # Its deadline comes a second after the parent's, so it is held when it passes.
        child = await server.create_monitor(
            name="invoices", period="2s", grace="1s", channels=["ops"], depends_on=["shop"]
        )
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(base_url=server.base_url, headers=headers) as client:
            for monitor in (shop, child):
                assert (await client.get(f"/ping/{monitor.uuid}")).status_code == 200
            await _wait_down(server.monitor, child.uuid)
            page = (await client.get("/api/v1/incidents", params={"open": "true"})).json()
            by_name = {i["monitor"]: i for i in page["incidents"]}
            assert by_name["shop"]["children"] == ["invoices"]
            assert by_name["invoices"]["children"] == []

            await client.get(f"/ping/{shop.uuid}")
            bodies = [r.body for r in await hook.wait_for(2)]
            up = next(b for b in bodies if b["event"] == "up")
            assert up["monitor"]["name"] == "shop"
            assert up["incident"]["children"] == ["invoices"]
            assert "also affected: invoices" in up["summary"]
            assert ("down", "invoices") not in [(b["event"], b["monitor"]["name"]) for b in bodies]


async def _both_go_down(rig: Rig, down: list[MonitorRecord], at: datetime) -> list[Any]:
    """Their grace runs out at ``at``: one deadline pass flips them all."""
    async with rig.db.write() as conn:
        await conn.execute(
            update(monitors)
            .where(monitors.c.id.in_([m.id for m in down]))
            .values(state="grace", last_ping_at=at - timedelta(minutes=2), next_deadline=at)
        )
    for monitor in down:
        rig.deadlines.watch(monitor.id, at)
    result = await rig.deadlines.fire_due(at)
    rig.queued += result.alerts
    rig.delivery.send(result.alerts)
    return result.alerts


async def _wait_down(read: Any, uuid: str) -> None:
    async with asyncio.timeout(15):
        while (await read(uuid)).status.state is not MonitorState.DOWN:
            await asyncio.sleep(0.1)
