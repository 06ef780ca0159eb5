"""Storage on both databases: migrations match the tables, monitors round-trip."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from tocsin.errors import ConflictError, MonitorLimitError, NotFoundError, ValidationError
from tocsin.server.domain.spec import channel_spec, monitor_spec
from tocsin.server.domain.states import MonitorState
from tocsin.server.storage.channels import create_channel
from tocsin.server.storage.database import Database
from tocsin.server.storage.monitors import (
    create_monitor,
    delete_monitor,
    get_monitor,
    list_monitors,
    pause_monitor,
    resume_monitor,
    update_monitor,
)
from tocsin.server.storage.projects import default_project
from tocsin.server.storage.tables import metadata

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


async def test_migrations_match_the_tables(db: Database) -> None:
    async with db.read() as conn:
        diff = await conn.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), metadata)
        )
    assert diff == []


async def test_monitor_round_trip_with_channels(db: Database) -> None:
    async with db.write() as conn:
        project = await default_project(conn)
        await create_channel(
            conn,
            project.id,
            channel_spec({"name": "ops", "kind": "webhook", "url": "http://x/"}),
            NOW,
        )
        spec = monitor_spec(
            {
                "name": "nightly",
                "cron": "0 3 * * *",
                "timezone": "Europe/Berlin",
                "grace": "30m",
                "channels": ["ops"],
                "tags": ["db"],
            }
        )
        created = await create_monitor(conn, project.id, spec, NOW)
    async with db.read() as conn:
        loaded = await get_monitor(conn, project.id, created.uuid)
        by_name = await get_monitor(conn, project.id, "nightly")
    assert loaded == by_name == created
    assert loaded.channels == ("ops",)
    assert loaded.schedule.cron == "0 3 * * *"
    assert loaded.schedule.grace == timedelta(minutes=30)
    assert loaded.status.state is MonitorState.NEW
    assert loaded.created_at == NOW


async def test_duplicate_name_conflicts_and_unknown_channel_is_refused(db: Database) -> None:
    async with db.write() as conn:
        project = await default_project(conn)
        await create_monitor(conn, project.id, monitor_spec({"name": "a", "period": 60}), NOW)
        with pytest.raises(ConflictError):
            await create_monitor(conn, project.id, monitor_spec({"name": "a", "period": 60}), NOW)
        with pytest.raises(ValidationError) as info:
            await create_monitor(
                conn, project.id, monitor_spec({"name": "b", "channels": ["nope"]}), NOW
            )
        assert "nope" in info.value.fields["channels"]
    async with db.read() as conn:
        assert [m.name for m in await list_monitors(conn, project.id)] == ["a"]


async def test_update_pause_resume_delete(db: Database) -> None:
    async with db.write() as conn:
        project = await default_project(conn)
        created = await create_monitor(conn, project.id, monitor_spec({"name": "a"}), NOW)
        changed = await update_monitor(
            conn, project.id, created.uuid, monitor_spec({"name": "b", "period": "5m"}), NOW
        )
        assert changed.name == "b" and changed.schedule.period == timedelta(minutes=5)
        paused = await pause_monitor(conn, project.id, "b", NOW)
        assert paused.status.state is MonitorState.PAUSED
        resumed = await resume_monitor(conn, project.id, "b", NOW)
        assert resumed.status.state is MonitorState.NEW
        await delete_monitor(conn, project.id, "b")
        with pytest.raises(NotFoundError):
            await get_monitor(conn, project.id, created.uuid)


async def test_a_project_at_its_monitor_limit_gets_no_new_monitor(db: Database) -> None:
    async with db.write() as conn:
        project = await default_project(conn)
        for name in ("a", "b"):
            spec = monitor_spec({"name": name})
            await create_monitor(conn, project.id, spec, NOW, max_monitors=2)
        with pytest.raises(MonitorLimitError, match="TOCSIN_MAX_MONITORS"):
            await create_monitor(conn, project.id, monitor_spec({"name": "c"}), NOW, max_monitors=2)
    async with db.read() as conn:
        await get_monitor(conn, project.id, "b")
        with pytest.raises(NotFoundError):
            await get_monitor(conn, project.id, "c")
