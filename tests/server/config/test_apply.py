"""``apply_document`` end to end on SQLite and PostgreSQL through the local backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tocsin.errors import ConfigError, NotFoundError
from tocsin.server.config.apply import apply_document
from tocsin.server.config.backends import LocalBackend
from tocsin.server.config.loader import load_text
from tocsin.server.domain.spec import channel_spec, monitor_spec
from tocsin.server.domain.states import ManagedBy
from tocsin.server.storage.channels import create_channel, list_channels
from tocsin.server.storage.database import Database
from tocsin.server.storage.monitors import create_monitor, list_monitors
from tocsin.server.storage.projects import default_project
from tocsin.server.storage.shapes import MonitorOut, as_json

BASE = "http://tocsin.test"
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)

FILE = """\
channels:
  - name: ops
    kind: webhook
    url: ${HOOK_URL}
monitors:
  - name: nightly-backup
    kind: heartbeat
    period: 1d
    grace: 1h
    channels: [ops]
  - name: invoice-cron
    kind: heartbeat
    cron: "0 3 * * *"
    timezone: Europe/Berlin
    grace: 30m
    channels: [ops]
"""
ENV = {"HOOK_URL": "http://127.0.0.1:9999/hook"}


async def apply(
    db: Database, text: str = FILE, *, prune: bool = False, dry_run: bool = False
) -> list[str]:
    result = await apply_document(
        LocalBackend(db, BASE), load_text(text, ENV), prune=prune, dry_run=dry_run
    )
    return [change.describe() for change in result.plan.changes]


async def snapshot(db: Database) -> tuple[list[str], dict[str, dict[str, object]]]:
    async with db.read() as conn:
        project = await default_project(conn)
        channels = [c.name for c in await list_channels(conn, project.id)]
        found = await list_monitors(conn, project.id)
        monitors = {m.name: as_json(MonitorOut.of(m, BASE)) for m in found}
    return channels, monitors


async def test_create_then_nothing_then_change(db: Database) -> None:
    assert await apply(db) == [
        "+ channel ops (webhook)",
        "+ monitor nightly-backup (heartbeat, period 1d, grace 1h, channels [ops])",
        "+ monitor invoice-cron (heartbeat, cron '0 3 * * *' Europe/Berlin, grace 30m, "
        "channels [ops])",
    ]
    channels, monitors = await snapshot(db)
    assert channels == ["ops"]
    backup = monitors["nightly-backup"]
    assert (backup["period_seconds"], backup["grace_seconds"]) == (86400.0, 3600.0)
    assert backup["channels"] == ["ops"]
    assert backup["managed_by"] == "config"
    assert str(backup["ping_url"]).startswith(f"{BASE}/ping/")
    assert monitors["invoice-cron"]["timezone"] == "Europe/Berlin"

    assert await apply(db) == []  # idempotent

    changed = FILE.replace("period: 1d", "period: 2h").replace("grace: 30m", "grace: 1s")
    assert await apply(db, changed) == [
        "~ monitor nightly-backup: period 1d → 2h",
        "~ monitor invoice-cron: grace 30m → 1s",
    ]
    _, after = await snapshot(db)
    assert after["nightly-backup"]["period_seconds"] == timedelta(hours=2).total_seconds()
    assert after["nightly-backup"]["uuid"] == backup["uuid"]  # same monitor, same ping URL
    assert after["invoice-cron"]["grace_seconds"] == 1.0
    assert await apply(db, changed) == []


async def test_prune_deletes_only_when_asked(db: Database) -> None:
    async with db.write() as conn:
        project = await default_project(conn)
        await create_channel(
            conn,
            project.id,
            channel_spec({"name": "old-hook", "kind": "webhook", "url": "http://o/"}),
            NOW,
        )
        await create_monitor(
            conn,
            project.id,
            monitor_spec({"name": "by-hand", "channels": ["old-hook"]}),
            NOW,
            ManagedBy.API,
        )
    await apply(db)
    channels, monitors = await snapshot(db)
    assert channels == ["old-hook", "ops"]
    assert sorted(monitors) == ["by-hand", "invoice-cron", "nightly-backup"]

    assert await apply(db, prune=True, dry_run=True) == ["- monitor by-hand", "- channel old-hook"]
    assert await snapshot(db) == (channels, monitors)

    assert await apply(db, prune=True) == ["- monitor by-hand", "- channel old-hook"]
    channels, monitors = await snapshot(db)
    assert channels == ["ops"]
    assert sorted(monitors) == ["invoice-cron", "nightly-backup"]


async def test_dry_run_changes_nothing(db: Database) -> None:
    result = await apply_document(LocalBackend(db, BASE), load_text(FILE, ENV), dry_run=True)
    assert len(result.plan.changes) == 3
    assert not result.applied
    assert await snapshot(db) == ([], {})


async def test_a_broken_file_applies_nothing(db: Database) -> None:
    broken = FILE + "  - name: third\n    period: soon\n  - name: fourth\n    channels: [pager]\n"
    with pytest.raises(ConfigError) as info:
        await apply(db, broken)
    assert info.value.problems == [
        "tocsin.yaml:18: monitors[2] (third).period: 'soon' is not a duration; "
        "use seconds or 30s, 5m, 2h, 1d, 1w",
        "tocsin.yaml:20: monitors[3] (fourth).channels[0]: no channel named 'pager' in this "
        "file or on the server",
    ]
    assert await snapshot(db) == ([], {})


async def test_unknown_channel_is_refused_and_server_channels_are_allowed(db: Database) -> None:
    text = "monitors:\n  - name: a\n    channels: [team]\n"
    with pytest.raises(ConfigError) as info:
        await apply(db, text)
    assert info.value.problems == [
        "tocsin.yaml:3: monitors[0] (a).channels[0]: no channel named 'team' in this file "
        "or on the server"
    ]
    async with db.write() as conn:
        project = await default_project(conn)
        await create_channel(
            conn,
            project.id,
            channel_spec({"name": "team", "kind": "webhook", "url": "http://t/"}),
            NOW,
        )
    assert await apply(db, text) == [
        "+ monitor a (heartbeat, period 1d, grace 1h, channels [team])"
    ]
    with pytest.raises(ConfigError, match="--prune deletes channels"):
        await apply(db, text, prune=True)


async def test_a_failing_session_rolls_everything_back(db: Database) -> None:
    backend = LocalBackend(db, BASE)

    async def create_then_fail() -> None:
        async with backend.session(write=True) as session:
            await session.create_channel(
                channel_spec({"name": "ops", "kind": "webhook", "url": "http://o/"})
            )
            await session.delete_monitor("no-such-monitor")

    with pytest.raises(NotFoundError):
        await create_then_fail()
    assert await snapshot(db) == ([], {})
