"""A monitor's policy keys are validated with its other fields and stored with it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tocsin.errors import ValidationError
from tocsin.server.domain.spec import monitor_spec
from tocsin.server.storage.database import Database
from tocsin.server.storage.monitors import create_monitor
from tocsin.server.storage.policy_state import load_states
from tocsin.server.storage.projects import default_project
from tocsin.server.storage.tables import monitors


def test_policy_problems_are_listed_by_field() -> None:
    with pytest.raises(ValidationError) as caught:
        monitor_spec({"name": "job", "remind": "10s", "escalate": {"after": "1h"}})
    assert caught.value.fields["remind"].startswith("must be at least 5m")
    assert caught.value.fields["escalate.channels"].startswith("is required")


def test_a_monitor_without_policy_keys_keeps_the_defaults() -> None:
    assert monitor_spec({"name": "job"}).policy is None


async def test_the_policy_is_stored_and_read_back_with_its_channels(db: Database) -> None:
    spec = monitor_spec(
        {"name": "job", "remind": {"every": "2h", "max": 3}, "notify_on_recovery": False}
    )
    async with db.write() as conn:
        project = await default_project(conn)
        record = await create_monitor(conn, project.id, spec, datetime.now(UTC))
        stored = (
            await conn.execute(select(monitors.c.alert_policy).where(monitors.c.id == record.id))
        ).scalar_one()
        states = await conn.run_sync(load_states, [record.id])
    assert "channels" not in stored
    policy = states[record.id].policy
    assert policy.remind is not None and policy.remind.every == timedelta(hours=2)
    assert policy.remind.max_count == 3
    assert policy.notify_on_recovery is False
