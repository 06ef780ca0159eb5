"""Outbox rows for tests that drive the delivery storage or worker without a server."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert

from tocsin.server.domain.spec import channel_spec, monitor_spec
from tocsin.server.storage.channels import create_channel
from tocsin.server.storage.database import Database
from tocsin.server.storage.monitors import create_monitor
from tocsin.server.storage.projects import default_project
from tocsin.server.storage.tables import notifications


async def pending_alerts(
    db: Database,
    count: int,
    due: datetime,
    url: str = "http://127.0.0.1:9/",
    channel: dict[str, Any] | None = None,
    same_monitor: bool = False,
    prefix: str = "",
) -> tuple[int, list[int]]:
    """A webhook channel to ``url`` (or the ``channel`` described) and ``count`` pending,
    unclaimed notifications to it, due at ``due``, each of its own monitor (of one
    monitor, to be sent in order, with ``same_monitor``); returns the channel id and the
    notification ids. ``prefix`` starts the monitors' names and the idempotency keys, so
    several calls can fill one database."""
    async with db.write() as conn:
        project = await default_project(conn)
        spec = channel_spec(channel or {"name": "ops", "kind": "webhook", "url": url})
        made = await create_channel(conn, project.id, spec, due)
        ids = []
        for n in range(count):
            if n == 0 or not same_monitor:
                name = f"{prefix}job" if same_monitor else f"{prefix}job-{n}"
                monitor = await create_monitor(conn, project.id, monitor_spec({"name": name}), due)
            result = await conn.execute(
                insert(notifications)
                .values(
                    monitor_id=monitor.id,
                    channel_id=made.id,
                    kind="down",
                    idempotency_key=f"{prefix}key-{n}",
                    payload={"n": n},
                    status="pending",
                    attempts=0,
                    next_attempt_at=due,
                    created_at=due,
                )
                .returning(notifications.c.id)
            )
            ids.append(result.scalar_one())
    return made.id, ids
