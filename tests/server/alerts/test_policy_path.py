"""Flips go through the monitor's alert policy: incidents, reminders, escalation, silences
and maintenance windows, on both databases, with real webhook receivers and the clock
passed in."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from tests.server.alerts.policy_rig import policy_rig
from tocsin.server.domain.maintenance import maintenance_window
from tocsin.server.storage.database import Database
from tocsin.server.storage.holds import create_silence, put_window
from tocsin.server.storage.incidents import list_incidents


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


async def test_an_incident_opens_on_down_and_resolves_with_its_duration(db: Database) -> None:
    async with policy_rig(db) as rig:
        monitor = await rig.monitor(name="invoice", channels=["ops"])
        start = _now()
        await rig.go_down(monitor, start)
        await rig.recover(monitor, start + timedelta(minutes=10))

        down, up = await rig.received("ops", 2)
        assert down["event"] == "down"
        assert "grace" in down["summary"]
        assert down["monitor"]["url"] == f"http://tocsin.test/api/v1/monitors/{monitor.uuid}"
        assert down["incident"]["resolved_at"] is None
        assert up["event"] == "up"
        assert up["incident"]["id"] == down["incident"]["id"]
        assert up["incident"]["duration_seconds"] == 600
        assert "after 10 min down" in up["summary"]
        async with db.read() as conn:
            [incident] = await list_incidents(conn, rig.project_id)
        assert incident.resolved_at == start + timedelta(minutes=10)
        assert incident.duration_seconds(start) == 600
        assert "grace" in incident.cause
        assert incident.alerts == 2


async def test_reminders_repeat_while_down_up_to_their_cap(db: Database) -> None:
    async with policy_rig(db) as rig:
        monitor = await rig.monitor(
            name="backup", channels=["ops"], remind={"every": "1h", "max": 2}
        )
        start = _now()
        await rig.go_down(monitor, start)
        assert (await rig.wake(start + timedelta(minutes=59))).notices == []
        first = await rig.wake(start + timedelta(hours=1))
        assert [n.number for _, n in first.notices] == [1]
        assert (await rig.wake(start + timedelta(hours=1, minutes=5))).notices == []
        second = await rig.wake(start + timedelta(hours=2))
        assert [n.number for _, n in second.notices] == [2]
        assert (await rig.wake(start + timedelta(hours=9))).notices == []

        bodies = await rig.received("ops", 3)
        assert [b["event"] for b in bodies] == ["down", "reminder", "reminder"]
        assert bodies[1]["summary"].startswith("backup is still DOWN (reminder 1)")
        assert bodies[2]["notice"]["number"] == 2
        assert bodies[1]["incident"]["id"] == bodies[0]["incident"]["id"]
        assert await rig.outbox_count() == 3


async def test_escalation_alerts_extra_channels_after_its_delay(db: Database) -> None:
    async with policy_rig(db, ("ops", "pager")) as rig:
        monitor = await rig.monitor(
            name="shop", channels=["ops"], escalate={"after": "30m", "channels": ["pager"]}
        )
        start = _now()
        await rig.go_down(monitor, start)
        assert (await rig.wake(start + timedelta(minutes=29))).notices == []
        escalated = await rig.wake(start + timedelta(minutes=30))
        assert [n.kind.value for _, n in escalated.notices] == ["escalation"]
        [escalation] = await rig.received("pager", 1)
        assert escalation["event"] == "escalation"
        await rig.recover(monitor, start + timedelta(minutes=40))
        pager = await rig.received("pager", 2)
        ops = await rig.received("ops", 2)
        assert [b["event"] for b in pager] == ["escalation", "up"]
        assert [b["event"] for b in ops] == ["down", "up"]


async def test_a_silence_holds_the_down_alert_and_releases_it_at_its_end(db: Database) -> None:
    async with policy_rig(db) as rig:
        monitor = await rig.monitor(name="etl", channels=["ops"])
        start = _now()
        async with db.write() as conn:
            await create_silence(
                conn, rig.project_id, monitor.id, start, start + timedelta(hours=1)
            )
        assert await rig.go_down(monitor, start + timedelta(minutes=1)) == []
        assert (await rig.wake(start + timedelta(minutes=59))).notices == []
        released = await rig.wake(start + timedelta(hours=1))
        assert [n.kind.value for _, n in released.notices] == ["held_release"]
        [body] = await rig.received("ops", 1)
        assert body["event"] == "held_release"
        assert body["notice"]["held_by"] == "silence"
        assert "grace" in body["flip"]["cause"]


async def test_recovery_during_a_silence_sends_nothing(db: Database) -> None:
    async with policy_rig(db) as rig:
        monitor = await rig.monitor(name="etl", channels=["ops"])
        start = _now()
        async with db.write() as conn:
            await create_silence(
                conn, rig.project_id, monitor.id, start, start + timedelta(hours=1)
            )
        await rig.go_down(monitor, start + timedelta(minutes=1))
        assert await rig.recover(monitor, start + timedelta(minutes=10)) == []
        assert (await rig.wake(start + timedelta(hours=2))).notices == []
        assert await rig.outbox_count() == 0
        async with db.read() as conn:
            [incident] = await list_incidents(conn, rig.project_id)
        assert incident.resolved_at == start + timedelta(minutes=10)
        await asyncio.sleep(0.2)
        assert rig.hooks["ops"].requests == []


async def test_a_maintenance_window_holds_alerts_until_it_ends_if_still_down(
    db: Database,
) -> None:
    async with policy_rig(db) as rig:
        monitor = await rig.monitor(name="shop-app", channels=["ops"])
        other = await rig.monitor(name="billing", channels=["ops"])
        start = _now()
        window = maintenance_window(
            {
                "name": "deploys",
                "monitors": ["shop-app"],
                "start": start.isoformat(),
                "end": (start + timedelta(hours=1)).isoformat(),
            }
        )
        async with db.write() as conn:
            await put_window(conn, rig.project_id, window, start)
        assert await rig.go_down(monitor, start + timedelta(minutes=5)) == []
        assert len(await rig.go_down(other, start + timedelta(minutes=5))) == 1  # not in it
        assert (await rig.wake(start + timedelta(minutes=59))).notices == []
        ended = await rig.wake(start + timedelta(hours=1))
        assert [(m, n.kind.value) for m, n in ended.notices] == [(monitor.id, "held_release")]
        bodies = await rig.received("ops", 2)
        assert sorted(b["monitor"]["name"] for b in bodies) == ["billing", "shop-app"]
        released = next(b for b in bodies if b["monitor"]["name"] == "shop-app")
        assert released["notice"]["held_by"] == "maintenance"
