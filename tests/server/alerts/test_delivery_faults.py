"""Fault tests for alert delivery (issue 10): a receiver down for a while, then back, and
a server killed with ``kill -9`` mid-delivery. Every alert arrives, each monitor's in
order, duplicates only with the same ``Idempotency-Key`` (both databases, real servers
and receivers)."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

from tests.server.alerts.receivers import Receiver, receiver
from tests.server.conftest import empty_database
from tests.server.live import live_server
from tests.server_process import ServerProcess
from tocsin.server.domain.spec import channel_spec
from tocsin.server.storage.channels import create_channel
from tocsin.server.storage.database import Database
from tocsin.server.storage.projects import default_project
from tocsin.server.storage.tables import notifications


@dataclass(frozen=True)
class Seen:
    """A request the receiver got: which alert, and what it answered (None: nothing)."""

    key: str
    monitor: str
    event: str
    status: int | None


@dataclass
class Outage:
    """A receiver that answers 503 while ``down`` (or, ``hang``ing, never answers), then
    200; ``log`` lists every request in the order the answers were decided."""

    down: bool = True
    hang: bool = False
    log: list[Seen] = field(default_factory=list)

    async def answer(self, _receiver: Receiver, request: web.Request) -> web.StreamResponse:
        """The answer handler for ``receivers.receiver``."""
        body = json.loads(await request.read())
        key = request.headers["Idempotency-Key"]
        assert body["idempotency_key"] == key
        monitor, event = body["monitor"]["name"], body["event"]
        if self.down and self.hang:
            self.log.append(Seen(key, monitor, event, None))
            await asyncio.Event().wait()  # accepts and never answers
        status = 503 if self.down else 200
        self.log.append(Seen(key, monitor, event, status))
        return web.Response(status=status, text="busy" if self.down else "ok")

    def delivered(self) -> set[str]:
        """Keys of the alerts answered 200."""
        return {seen.key for seen in self.log if seen.status == 200}


def assert_in_order(log: list[Seen], keys_by_monitor: dict[str, list[str]]) -> None:
    """Each monitor's alerts (``keys`` oldest first) arrived in order: no request for an
    alert before the previous alert of its monitor was answered 200."""
    for monitor, keys in keys_by_monitor.items():
        for earlier, later in itertools.pairwise(keys):
            answered = next(
                i for i, seen in enumerate(log) if (seen.key, seen.status) == (earlier, 200)
            )
            first_sent = min(i for i, seen in enumerate(log) if seen.key == later)
            assert first_sent > answered, f"{monitor}: {later} was sent before {earlier} arrived"


async def wait_until(check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    """Poll ``check`` until it holds; fail saying ``what`` did not happen."""
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.05)
    assert await check(), what


async def outbox(database: Database) -> list[dict[str, Any]]:
    """Every notification row, oldest first."""
    async with database.read() as conn:
        rows = await conn.execute(notifications.select().order_by(notifications.c.id))
        return [dict(row) for row in rows.mappings().all()]


async def keys_by_monitor(database: Database) -> dict[str, list[str]]:
    """Each monitor's notification keys, oldest first."""
    found: dict[str, list[str]] = {}
    for row in await outbox(database):
        name = row["payload"]["monitor"]["name"]
        found.setdefault(name, []).append(row["idempotency_key"])
    return found


async def test_a_receiver_down_for_a_while_gets_every_alert_in_order_once_back(
    database_url: str, tmp_path: Path
) -> None:
    outage = Outage()
    async with (
        receiver(outage.answer) as hook,
        live_server(database_url, tmp_path) as server,
        httpx.AsyncClient(base_url=server.base_url) as client,
    ):
        await server.create_channel(name="hook", kind="webhook", url=hook.url)
        made = {name: await server.create_monitor(name=name, channels=["hook"]) for name in "abcd"}

        async def ping(name: str, suffix: str = "") -> None:
            assert (await client.get(f"/ping/{made[name].uuid}{suffix}")).status_code == 200

        # The receiver is down: a, b and c go down, a comes back up.
        for name in "abc":
            await ping(name, "/fail")
        await ping("a")

        async def downs_in_backoff() -> bool:
            rows = [r for r in await outbox(server.database) if r["kind"] == "down"]
            return len(rows) == 3 and all(r["last_error"] and not r["claimed_until"] for r in rows)

        await wait_until(downs_in_backoff, 15, "the down alerts were not tried and retried")

        # The receiver is back: b recovers while its down alert waits for its retry; d
        # goes down and up.
        outage.down = False
        await ping("b")
        await ping("d", "/fail")
        await ping("d")

        async def all_delivered() -> bool:
            rows = await outbox(server.database)
            return len(rows) == 7 and all(r["status"] == "delivered" for r in rows)

        await wait_until(all_delivered, 30, "not every alert was delivered")
        expected = await keys_by_monitor(server.database)

    assert {m: len(keys) for m, keys in expected.items()} == {"a": 2, "b": 2, "c": 1, "d": 2}
    assert outage.delivered() == {key for keys in expected.values() for key in keys}
    assert_in_order(outage.log, expected)
    assert [seen.event for seen in outage.log if seen.status == 200 and seen.monitor == "b"] == [
        "down",
        "up",
    ]


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_alerts_in_flight_at_kill_9_are_delivered_after_restart(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    database_url = request.getfixturevalue("postgres_url") if backend == "postgresql" else None
    outage = Outage(down=True, hang=True)
    server = ServerProcess(tmp_path, database_url, TOCSIN_ALERT_CLAIM_SECONDS="2")
    database = Database(server.database_url)
    try:
        async with receiver(outage.answer) as hook, httpx.AsyncClient() as client:
            await asyncio.to_thread(server.start)
            async with database.write() as conn:
                project = await default_project(conn)
                spec = channel_spec({"name": "hook", "kind": "webhook", "url": hook.url})
                await create_channel(conn, project.id, spec, datetime.now(UTC))
            urls = [
                await asyncio.to_thread(
                    server.create_heartbeat_monitor, f"job-{n}", 60, 60, channels=["hook"]
                )
                for n in range(5)
            ]
            for url in urls:
                assert (await client.get(f"{url}/fail")).status_code == 200
            await hook.wait_for(5)  # every down alert is in flight, unanswered
            assert (await client.get(urls[0])).status_code == 200  # job-0's up, queued

            async def taken_over() -> bool:
                # Written with the outbox's first claim (60 s), then taken over by the
                # delivery worker with the configured 2 s: only then is it "in flight".
                rows = await outbox(database)
                return len(rows) == 6 and rows[5]["claimed_until"] < rows[5][
                    "created_at"
                ] + timedelta(seconds=30)

            await wait_until(taken_over, 10, "the up alert was not written and taken over")
            await asyncio.to_thread(server.kill)

            outage.down = False
            await asyncio.to_thread(server.start)

            async def all_delivered() -> bool:
                rows = await outbox(database)
                return all(r["status"] == "delivered" for r in rows)

            await wait_until(all_delivered, 30, "not every alert was delivered after restart")
            rows = await outbox(database)
            expected = await keys_by_monitor(database)
    finally:
        await asyncio.to_thread(server.kill)
        await database.dispose()
        if database_url is not None:  # the session's database is shared with other tests
            await empty_database(database_url)

    keys = {row["idempotency_key"] for row in rows}
    assert outage.delivered() == keys
    # Duplicates (the alerts cut off by the kill, sent again) carry the same key.
    assert {seen.key for seen in outage.log} == keys
    assert expected["job-0"] == [rows[0]["idempotency_key"], rows[5]["idempotency_key"]]
    assert_in_order(outage.log, expected)
