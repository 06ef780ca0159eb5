"""The policy watch: sends what is owed without a new flip — reminders, escalations, and
the alerts held back by a silence or a maintenance window that has ended.

Every alert decision stores when it must be made again (``alert_states.wake_at``). The
watch keeps the nearest of those times in a heap and sleeps until the first (or until a
nearer one is announced, or ``poke``\\ d after a hold changed); every ``reload_seconds`` it
re-reads them from the database, which picks up other processes' decisions. Each due
monitor is re-read (locked on PostgreSQL) in the transaction that decides for it, and
``decide`` is level-triggered, so two processes never send the same reminder twice.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Connection

from tocsin.server.alerts.outbox import (
    ClaimedAlert,
    Event,
    OutboxWriter,
    flap_policies,
    incident_json,
)
from tocsin.server.background import cancel_and_wait, run_due_loop
from tocsin.server.domain.alert_policy import ReminderCaps
from tocsin.server.domain.flapping import FlapStatus
from tocsin.server.domain.notify_decision import Notice, Situation, decide
from tocsin.server.storage.database import Database
from tocsin.server.storage.dependency_state import parents_down
from tocsin.server.storage.flap_state import flap_statuses
from tocsin.server.storage.holds import MonitorRef, holds_for
from tocsin.server.storage.hot_sql import statements_for
from tocsin.server.storage.policy_state import (
    StateUpdate,
    due_wakeups,
    load_states,
    project_channels,
    save_states,
)

logger = logging.getLogger(__name__)

CHUNK = 100


@dataclass(frozen=True)
class PolicyResult:
    """What one pass sent."""

    notices: list[tuple[int, Notice]]
    alerts: list[ClaimedAlert]


class PolicyWatch:
    """Wakes at each monitor's next decision time and sends what is due."""

    def __init__(
        self,
        database: Database,
        *,
        base_url: str,
        caps: ReminderCaps | None = None,
        reload_seconds: float = 5.0,
        on_sent: Callable[[PolicyResult], None] | None = None,
    ) -> None:
        self.database = database
        self.base_url = base_url
        self.caps = caps or ReminderCaps()
        self.reload_seconds = reload_seconds
        self.on_sent = on_sent
        self._heap: list[tuple[datetime, int]] = []
        self._wake = asyncio.Event()
        self._reload_now = False
        # The wake-ups the last decision stored (set in its transaction, read after it).
        self._next: list[tuple[datetime, int]] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the watch task."""
        self._task = asyncio.create_task(self._run(), name="tocsin-policy-watch")

    @property
    def running(self) -> bool:
        """Whether the watch task is alive."""
        return self._task is not None and not self._task.done()

    async def stop(self) -> None:
        """Stop the watch task."""
        await cancel_and_wait(self._task)
        self._task = None

    def poke(self) -> None:
        """Re-read the wake-up times now (a silence or a window was added or removed, or
        a flip stored a new time)."""
        self._reload_now = True
        self._wake.set()

    async def reload(self) -> None:
        """Re-read the wake-up times due before the next reload (and a margin)."""
        horizon = datetime.now(UTC) + timedelta(seconds=self.reload_seconds * 2 + 1)
        rows = await self._due(horizon)
        self._heap = [(at, monitor_id) for monitor_id, at in rows]
        heapq.heapify(self._heap)

    async def _run(self) -> None:
        await run_due_loop(
            "policy watch",
            reload=self.reload,
            fire_due=self.fire_due,
            first_due=lambda: self._heap[0][0] if self._heap else None,
            wake=self._wake,
            reload_seconds=self.reload_seconds,
            reload_requested=self._take_reload_request,
            logger=logger,
        )

    def _take_reload_request(self) -> bool:
        asked, self._reload_now = self._reload_now, False
        return asked

    async def fire_due(self, now: datetime) -> PolicyResult:
        """Decide again for every monitor whose wake-up time passed by ``now``; with no
        heap loaded (tests, a pass right after start), read the due ones first."""
        if not self._heap:
            self._heap = [(at, monitor_id) for monitor_id, at in await self._due(now)]
            heapq.heapify(self._heap)
        due: list[int] = []
        while self._heap and self._heap[0][0] <= now:
            due.append(heapq.heappop(self._heap)[1])
        due = sorted(set(due))
        notices: list[tuple[int, Notice]] = []
        alerts: list[ClaimedAlert] = []
        for start in range(0, len(due), CHUNK):
            chunk = due[start : start + CHUNK]
            sent, claimed = await self.database.run_write(self._decide, chunk, now)
            for entry in self._next:  # the next reminder may come before the next reload
                heapq.heappush(self._heap, entry)
            result = PolicyResult(sent, claimed)
            if self.on_sent is not None:
                self.on_sent(result)
            notices += sent
            alerts += claimed
        return PolicyResult(notices, alerts)

    async def _due(self, until: datetime) -> list[tuple[int, datetime]]:
        async with self.database.read() as conn:
            return await conn.run_sync(due_wakeups, until)

    def _decide(
        self, conn: Connection, ids: Iterable[int], now: datetime
    ) -> tuple[list[tuple[int, Notice]], list[ClaimedAlert]]:
        records = {r.id: r for r in statements_for(conn).monitors_by_id(conn, sorted(ids))}
        due = {m for m, at in due_wakeups(conn, now) if m in records}
        states = load_states(conn, due)
        refs = [MonitorRef(s.monitor_id, s.project_id, s.name) for s in states.values()]
        held = holds_for(conn, refs, now)
        blocked = parents_down(conn, states)
        flapping = flap_statuses(conn, flap_policies(states), now)
        outbox = OutboxWriter(
            self.base_url, project_channels(conn, {s.project_id for s in states.values()})
        )
        updates: list[StateUpdate] = []
        sent: list[tuple[int, Notice]] = []
        for monitor_id, state in states.items():
            record = records[monitor_id]
            situation = Situation(
                record.status.state,
                held.get(monitor_id),
                flapping.get(monitor_id, FlapStatus()),
                blocked.get(monitor_id, ()),
            )
            decision = decide(situation, state.policy, state.log, now, self.caps)
            incident = state.incident
            cause = incident.cause if incident else ""
            outbox.add(
                record,
                decision,
                Event(record.status.state, cause, now),
                None,
                incident_json(incident, None, incident.children if incident else ()),
                incident.id if incident else None,
            )
            sent += [(monitor_id, notice) for notice in decision.notices]
            updates.append(
                StateUpdate(
                    monitor_id, decision.log, incident.id if incident else None, decision.wake_at
                )
            )
        save_states(conn, updates)
        self._next = [(u.wake_at, u.monitor_id) for u in updates if u.wake_at is not None]
        return sent, outbox.write(conn)
