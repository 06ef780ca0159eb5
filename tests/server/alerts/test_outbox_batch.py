"""Many monitors flipping in one transaction: each gets its own alert, idempotency key,
incident and notice log, although the outbox shares the work of equal logs and times."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from tests.server.alerts.policy_rig import Rig, policy_rig
from tocsin.server.alerts.outbox import uuid4_text
from tocsin.server.domain.notify_decision import NoticeLog, Told
from tocsin.server.storage.database import Database
from tocsin.server.storage.policy_state import load_states
from tocsin.server.storage.rows import MonitorRecord
from tocsin.server.storage.tables import monitors

COUNT = 6


@pytest.mark.parametrize(
    "raw",
    [bytes(16), b"\xff" * 16, bytes(range(16)), bytes(range(240, 256))],
    ids=["zeros", "ones", "ascending", "high"],
)
def test_an_idempotency_key_is_the_text_of_a_version_4_uuid(raw: bytes) -> None:
    assert uuid4_text(raw) == str(uuid.UUID(bytes=raw, version=4))


async def _all_go_down(rig: Rig, records: list[MonitorRecord], at: datetime) -> None:
    """Their grace runs out together: one deadline pass flips them all down at ``at``."""
    ids = [record.id for record in records]
    async with rig.db.write() as conn:
        await conn.execute(
            update(monitors)
            .where(monitors.c.id.in_(ids))
            .values(state="grace", last_ping_at=at - timedelta(minutes=2), next_deadline=at)
        )
    for monitor_id in ids:
        rig.deadlines.watch(monitor_id, at)
    result = await rig.deadlines.fire_due(at)
    assert len(result.alerts) == len(ids)
    rig.delivery.send(result.alerts)


async def test_monitors_flipping_together_keep_their_own_alerts_and_logs(db: Database) -> None:
    async with policy_rig(db) as rig:
        records = [await rig.monitor(name=f"job-{n}", channels=["ops"]) for n in range(COUNT)]
        ids = [record.id for record in records]
        start = datetime.now(UTC).replace(microsecond=0) + timedelta(microseconds=250)
        await _all_go_down(rig, records, start)

        downs = await rig.received("ops", COUNT)
        keys = [body["idempotency_key"] for body in downs]
        assert len(set(keys)) == COUNT
        assert all(uuid.UUID(key).version == 4 for key in keys)
        assert {body["monitor"]["name"] for body in downs} == {r.name for r in records}
        assert len({body["incident"]["id"] for body in downs}) == COUNT
        assert {body["flip"]["at"] for body in downs} == {start.isoformat()}

        # Half recover; the others stay down, each with the log of its own story.
        back = start + timedelta(minutes=3)
        for record in records[: COUNT // 2]:
            await rig.recover(record, back)
        await rig.received("ops", COUNT + COUNT // 2)
        states = await db.run_write(load_states, ids)
        assert [states[i].log for i in ids] == [NoticeLog(Told.UP)] * (COUNT // 2) + [
            NoticeLog(Told.DOWN, start)
        ] * (COUNT - COUNT // 2)
        assert [states[i].incident is None for i in ids] == [True] * (COUNT // 2) + [False] * (
            COUNT - COUNT // 2
        )

        # The recovered ones, told "up" alike, go down together again: each is paged anew.
        again = start + timedelta(minutes=10)
        await _all_go_down(rig, records[: COUNT // 2], again)
        later = (await rig.received("ops", 2 * COUNT))[COUNT + COUNT // 2 :]
        assert [body["event"] for body in later] == ["down"] * (COUNT // 2)
        assert {body["monitor"]["name"] for body in later} == {
            r.name for r in records[: COUNT // 2]
        }
        states = await db.run_write(load_states, ids)
        assert [states[i].log for i in ids] == [NoticeLog(Told.DOWN, again)] * (COUNT // 2) + [
            NoticeLog(Told.DOWN, start)
        ] * (COUNT - COUNT // 2)
