"""A rig for alert-policy tests: real database, real engines and a real webhook receiver,
with every flip and policy pass driven at a time the test chooses."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update

from tests.server.alerts.receivers import Receiver, receiver
from tocsin.server.alerts.delivery import DeliveryWorker
from tocsin.server.alerts.outbox import ClaimedAlert
from tocsin.server.alerts.policy_watch import PolicyResult, PolicyWatch
from tocsin.server.domain.alert_policy import ReminderCaps
from tocsin.server.domain.spec import channel_spec, monitor_spec
from tocsin.server.domain.states import PingKind
from tocsin.server.ingest.requests import PingRequest
from tocsin.server.ingest.writer import BatchResult, PingWriter
from tocsin.server.storage.channels import create_channel
from tocsin.server.storage.database import Database
from tocsin.server.storage.monitors import create_monitor
from tocsin.server.storage.projects import default_project
from tocsin.server.storage.rows import MonitorRecord
from tocsin.server.storage.tables import monitors, notifications
from tocsin.server.watch.deadlines import DeadlineWatch

BASE_URL = "http://tocsin.test"


@dataclass
class Rig:
    """The engines around one database, and a receiver per channel name."""

    db: Database
    project_id: int
    hooks: dict[str, Receiver]
    delivery: DeliveryWorker
    writer: PingWriter
    policy: PolicyWatch
    deadlines: DeadlineWatch = field(init=False)
    queued: list[ClaimedAlert] = field(default_factory=list)

    def __post_init__(self) -> None:
        # A day's horizon: deadlines the test sets ahead of the real clock are held too.
        self.deadlines = DeadlineWatch(self.db, base_url=BASE_URL, reload_seconds=86_400)

    async def monitor(self, **config: Any) -> MonitorRecord:
        """A heartbeat monitor, created now from its ``tocsin.yaml``-like config."""
        spec = monitor_spec({"period": 60, "grace": 60, **config})
        async with self.db.write() as conn:
            return await create_monitor(conn, self.project_id, spec, datetime.now().astimezone())

    async def go_down(self, monitor: MonitorRecord, at: datetime) -> list[ClaimedAlert]:
        """Its grace runs out at ``at``: the deadline watch flips it down then."""
        async with self.db.write() as conn:
            await conn.execute(
                update(monitors)
                .where(monitors.c.id == monitor.id)
                .values(state="grace", last_ping_at=at - timedelta(minutes=2), next_deadline=at)
            )
        self.deadlines.watch(monitor.id, at)
        result = await self.deadlines.fire_due(at)
        return self._send(result.alerts)

    async def recover(self, monitor: MonitorRecord, at: datetime) -> list[ClaimedAlert]:
        """A success ping arrives at ``at``."""
        before = len(self.queued)
        await self.writer.submit(PingRequest(PingKind.SUCCESS, at, "GET", "http", monitor.uuid))
        return self.queued[before:]

    async def wake(self, at: datetime) -> PolicyResult:
        """A policy watch pass at ``at``."""
        result = await self.policy.fire_due(at)
        self._send(result.alerts)
        return result

    def after_ping_batch(self, result: BatchResult, _batch: list[PingRequest]) -> None:
        """The writer's commit hook: deliver its alerts."""
        self._send(result.alerts)

    def _send(self, alerts: list[ClaimedAlert]) -> list[ClaimedAlert]:
        self.queued += alerts
        self.delivery.send(alerts)
        return alerts

    async def received(self, name: str, count: int) -> list[dict[str, Any]]:
        """The first ``count`` alert bodies channel ``name``'s receiver got."""
        requests = await self.hooks[name].wait_for(count)
        return [json.loads(r.body) for r in requests]

    async def outbox_count(self) -> int:
        """Every notification ever queued."""
        async with self.db.read() as conn:
            return int(
                (await conn.execute(select(func.count()).select_from(notifications))).scalar_one()
            )


@asynccontextmanager
async def policy_rig(
    db: Database, channel_names: tuple[str, ...] = ("ops",), caps: ReminderCaps | None = None
) -> AsyncIterator[Rig]:
    """A rig with a webhook channel per name, each with its own receiver."""
    async with receiver() as first, receiver() as second:
        hooks = dict(zip(channel_names, (first, second), strict=False))
        async with db.write() as conn:
            project = await default_project(conn)
            for name, hook in hooks.items():
                spec = channel_spec({"name": name, "kind": "webhook", "url": hook.url})
                await create_channel(conn, project.id, spec, datetime.now().astimezone())
        delivery = DeliveryWorker(db)
        rig = Rig(
            db,
            project.id,
            hooks,
            delivery,
            PingWriter(db, base_url=BASE_URL),
            PolicyWatch(db, base_url=BASE_URL, caps=caps),
        )
        rig.writer.on_commit = rig.after_ping_batch
        delivery.start()
        rig.writer.start()
        try:
            yield rig
        finally:
            await rig.writer.stop()
            await delivery.stop()
