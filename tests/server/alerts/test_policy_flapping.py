"""Flapping in the alert path: after ``changes`` state changes within ``within`` one
``flapping`` alert, then quiet until stable, then where it settled; shown in ``MonitorOut``.
Both databases, real receivers, the clock passed in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.server.alerts.policy_rig import BASE_URL, policy_rig
from tocsin.server.storage.database import Database
from tocsin.server.storage.monitors import get_monitor
from tocsin.server.storage.shapes import monitors_out


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


async def test_a_flapping_monitor_pages_once_then_says_where_it_settled(db: Database) -> None:
    async with policy_rig(db) as rig:
        shop = await rig.monitor(
            name="shop", channels=["ops"], flapping={"changes": 3, "within": "10m"}
        )
        start = _now()
        await rig.go_down(shop, start)
        await rig.recover(shop, start + timedelta(minutes=1))
        await rig.go_down(shop, start + timedelta(minutes=2))  # the 3rd change
        assert await rig.recover(shop, start + timedelta(minutes=3)) == []
        bodies = await rig.received("ops", 3)
        assert [b["event"] for b in bodies] == ["down", "up", "flapping"]

        async with db.read() as conn:
            record = await get_monitor(conn, rig.project_id, "shop")
            (shown,) = await monitors_out(
                conn, [record], BASE_URL, now=start + timedelta(minutes=4)
            )
        assert shown.flapping is True
        assert shown.flapping_since == start + timedelta(minutes=2)

        assert (await rig.wake(start + timedelta(minutes=12))).notices == []
        settled = await rig.wake(start + timedelta(minutes=13))
        assert [n.kind.value for _, n in settled.notices] == ["up"]
        assert [b["event"] for b in await rig.received("ops", 4)][3] == "up"
