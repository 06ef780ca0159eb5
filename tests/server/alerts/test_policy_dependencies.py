"""``depends_on`` in the alert path: while a parent is down its child's down alert is held;
when the parent recovers, a child still down alerts then. Both databases, real receivers,
the clock passed in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.server.alerts.policy_rig import policy_rig
from tocsin.server.storage.database import Database


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


async def test_a_child_is_quiet_while_its_parent_is_down(db: Database) -> None:
    async with policy_rig(db) as rig:
        shop = await rig.monitor(name="shop", channels=["ops"])
        invoices = await rig.monitor(name="invoices", channels=["ops"], depends_on=["shop"])
        start = _now()
        assert len(await rig.go_down(shop, start)) == 1
        assert await rig.go_down(invoices, start + timedelta(minutes=1)) == []
        [body] = await rig.received("ops", 1)
        assert (body["event"], body["monitor"]["name"]) == ("down", "shop")

        # The parent recovers, the child is still down: its held alert goes out now.
        assert len(await rig.recover(shop, start + timedelta(minutes=5))) == 1
        released = await rig.wake(start + timedelta(minutes=5))
        assert [(m, n.kind.value) for m, n in released.notices] == [(invoices.id, "held_release")]
        # Alerts of different monitors go out side by side, in no set order.
        later = {body["monitor"]["name"]: body for body in (await rig.received("ops", 3))[1:]}
        assert later["shop"]["event"] == "up"
        assert later["invoices"]["notice"]["held_by"] == "dependency"


async def test_a_child_that_recovers_first_sends_nothing(db: Database) -> None:
    async with policy_rig(db) as rig:
        shop = await rig.monitor(name="shop", channels=["ops"])
        invoices = await rig.monitor(name="invoices", channels=["ops"], depends_on=["shop"])
        start = _now()
        await rig.go_down(shop, start)
        assert await rig.go_down(invoices, start + timedelta(minutes=1)) == []
        assert await rig.recover(invoices, start + timedelta(minutes=2)) == []
        await rig.recover(shop, start + timedelta(minutes=3))
        assert (await rig.wake(start + timedelta(minutes=3))).notices == []
        bodies = await rig.received("ops", 2)
        assert [(b["event"], b["monitor"]["name"]) for b in bodies] == [
            ("down", "shop"),
            ("up", "shop"),
        ]
