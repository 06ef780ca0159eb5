"""``tocsin apply --url``: the alert policy, ``defaults:`` and ``maintenance:`` reach a
running server through the REST API and a second apply changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from tests.server.live import live_server
from tocsin.server.config.apply import apply_document
from tocsin.server.config.backends import LocalBackend, RemoteBackend
from tocsin.server.config.loader import load_text
from tocsin.server.storage.apikeys import ApiKeyScope, create_api_key

FILE = """\
channels:
  - {name: ops, kind: webhook, url: "http://127.0.0.1:9/hook"}
  - {name: pager, kind: webhook, url: "http://127.0.0.1:9/page"}
defaults: {channels: [ops], remind: 2h}
monitors:
  - {name: shop, period: 1h}
  - {name: invoices, period: 1d, escalate: {after: 1h, channels: [pager]}, depends_on: [shop]}
maintenance:
  - {name: sunday-deploys, cron: "0 2 * * 0", duration: 1h, monitors: [shop, invoices]}
"""


async def test_remote_apply_carries_policy_and_maintenance(
    database_url: str, tmp_path: Path
) -> None:
    async with live_server(database_url, tmp_path) as server:
        async with server.database.write() as conn:
            made = await create_api_key(conn, "t", ApiKeyScope.WRITE, datetime.now(UTC))
        remote = RemoteBackend(server.base_url, made.key)
        first = await apply_document(remote, load_text(FILE, {}))
        assert len(first.plan.changes) == 5
        again = await apply_document(remote, load_text(FILE, {}))
        assert again.plan.changes == ()

        local = LocalBackend(server.database, server.settings.base_url)
        async with local.session(write=False) as session:
            monitors = {m["name"]: m for m in await session.list_monitors()}
            windows = await session.list_maintenance()
        invoices = monitors["invoices"]
        assert invoices["channels"] == ["ops"]
        assert invoices["alert_policy"]["remind"] == {"every": "2h"}
        assert invoices["alert_policy"]["escalate"] == {"after": "1h", "channels": ["pager"]}
        assert invoices["alert_policy"]["depends_on"] == ["shop"]
        assert [w["name"] for w in windows] == ["sunday-deploys"]

        fewer = FILE.replace(
            "duration: 1h, monitors: [shop, invoices]", "duration: 2h, monitors: [shop]"
        )
        changed = await apply_document(remote, load_text(fewer, {}))
        assert [c.describe() for c in changed.plan.changes] == [
            "~ maintenance sunday-deploys: duration 1h → 2h, monitors [shop, invoices] → [shop]"
        ]
        gone = await apply_document(
            remote, load_text(FILE.split("maintenance:")[0], {}), prune=True
        )
        assert [c.describe() for c in gone.plan.changes] == ["- maintenance sunday-deploys"]
        async with local.session(write=False) as session:
            assert await session.list_maintenance() == []
