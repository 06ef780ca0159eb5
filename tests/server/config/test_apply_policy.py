"""Alert policy in ``tocsin.yaml``: ``defaults:`` merged into each monitor, policy-only
changes applied, escalation channels and ``depends_on`` checked, ``maintenance:`` windows
validated with their lines; through the local backend on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from tocsin.errors import ConfigError
from tocsin.server.config.apply import apply_document
from tocsin.server.config.backends import LocalBackend
from tocsin.server.config.loader import load_text
from tocsin.server.storage.database import Database
from tocsin.server.storage.monitors import list_monitors
from tocsin.server.storage.projects import default_project
from tocsin.server.storage.shapes import MonitorOut, as_json

BASE = "http://tocsin.test"
ENV = {"HOOK_URL": "http://127.0.0.1:9999/hook"}
CHANNELS = """\
channels:
  - {name: ops, kind: webhook, url: "${HOOK_URL}"}
  - {name: pager, kind: webhook, url: "${HOOK_URL}"}
"""


async def apply(db: Database, text: str) -> list[str]:
    result = await apply_document(LocalBackend(db, BASE), load_text(text, ENV))
    return [change.describe() for change in result.plan.changes]


async def policies(db: Database) -> dict[str, dict[str, object]]:
    async with db.read() as conn:
        project = await default_project(conn)
        found = await list_monitors(conn, project.id)
    return {m.name: as_json(MonitorOut.of(m, BASE))["alert_policy"] for m in found}


async def test_a_policy_only_change_is_applied_once(db: Database) -> None:
    first = CHANNELS + "monitors:\n  - {name: app, period: 1h, channels: [ops], remind: 2h}\n"
    await apply(db, first)
    assert (await policies(db))["app"]["remind"] == {"every": "2h"}

    second = first.replace("remind: 2h", "remind: 3h, escalate: {after: 1h, channels: [pager]}")
    changes = await apply(db, second)
    assert len(changes) == 1 and changes[0].startswith("~ monitor app: "), changes
    shown = (await policies(db))["app"]
    assert shown["remind"] == {"every": "3h"}
    assert shown["escalate"] == {"after": "1h", "channels": ["pager"]}
    assert await apply(db, second) == []  # idempotent


async def test_defaults_apply_to_every_monitor_unless_it_sets_the_key(db: Database) -> None:
    text = (
        CHANNELS
        + "defaults: {channels: [ops], remind: 2h, notify_on_recovery: false}\n"
        + "monitors:\n"
        + "  - {name: a, period: 1h}\n"
        + "  - {name: b, period: 1h, remind: off, channels: [pager]}\n"
    )
    await apply(db, text)
    shown = await policies(db)
    assert shown["a"]["remind"] == {"every": "2h"}
    assert shown["a"]["notify_on_recovery"] is False
    assert shown["b"]["remind"] == "off"
    async with db.read() as conn:
        project = await default_project(conn)
        channels = {m.name: m.channels for m in await list_monitors(conn, project.id)}
    assert channels == {"a": ("ops",), "b": ("pager",)}
    assert await apply(db, text) == []


async def test_bad_policy_sections_are_listed_with_their_lines(db: Database) -> None:
    text = (
        CHANNELS  # lines 1-3
        + "defaults: {remind: soon}\n"  # 4
        + "monitors:\n"  # 5
        + "  - {name: a, period: 1h, escalate: {after: 1h, channels: [nobody]}}\n"  # 6
        + "  - {name: b, period: 1h, depends_on: [c]}\n"  # 7
        + "  - {name: c, period: 1h, depends_on: [b, ghost]}\n"  # 8
        + "maintenance:\n"  # 9
        + "  - {name: feb, cron: '0 0 31 2 *', duration: 1h, monitors: [a]}\n"  # 10
        + "  - {name: w, cron: '0 2 * * 0', duration: soon, monitors: [a]}\n"  # 11
        + "  - {name: x, cron: '0 2 * * 0', duration: 1h, monitors: [a, zzz]}\n"  # 12
    )
    with pytest.raises(ConfigError) as caught:
        await apply(db, text)
    problems = "\n".join(caught.value.problems)
    for expected in (
        "tocsin.yaml:4: defaults.remind:",
        "tocsin.yaml:6: monitors[0] (a).escalate.channels[0]: no channel named 'nobody'",
        "tocsin.yaml:7: monitors[1] (b).depends_on[0]: depends_on cycle: b -> c -> b",
        "tocsin.yaml:8: monitors[2] (c).depends_on[1]: no monitor named 'ghost'",
        "tocsin.yaml:10: maintenance[0] (feb).cron: '0 0 31 2 *' never fires",
        "tocsin.yaml:11: maintenance[1] (w).duration:",
        "tocsin.yaml:12: maintenance[2] (x).monitors[1]: no monitor named 'zzz'",
    ):
        assert expected in problems, problems
    assert await policies(db) == {}  # nothing applied


async def test_maintenance_windows_are_applied_idempotently(db: Database) -> None:
    text = (
        CHANNELS
        + "monitors:\n  - {name: shop, period: 1h}\n"
        + "maintenance:\n"
        + "  - {name: sunday-deploys, cron: '0 2 * * 0', duration: 1h, monitors: [shop]}\n"
    )
    changes = await apply(db, text)
    assert "+ maintenance sunday-deploys (cron '0 2 * * 0' for 1h: shop)" in changes
    assert await apply(db, text) == []
    longer = text.replace("duration: 1h", "duration: 2h")
    assert await apply(db, longer) == ["~ maintenance sunday-deploys: duration 1h → 2h"]
