"""Daily uptime of days that are over, kept in memory for a few minutes.

A status page's 90 bars add up to 2,160 hourly aggregates per probed item, and up to
hundreds of flips per heartbeat item; all but the last two days' no longer change (the
rollup writes only finished hours, and rarely catches up a little late; flips are only
ever added at the present), so they are read once per ``TTL`` and each request reads only
yesterday's and today's hours and flips.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from tocsin.server.dashboard.public_state import (
    Share,
    heartbeat_spans,
    share_of,
    share_since,
    shares_by_day,
)
from tocsin.server.storage.probe_reads import floor_hour
from tocsin.server.storage.rows import MonitorRecord
from tocsin.server.storage.uptime_days import daily_tallies, flips_since, recent_tallies

TTL_SECONDS = 600.0
MAX_ENTRIES = 20_000  # items across all pages; past that the cache starts over
_DAY = timedelta(days=1)
Key = tuple[int, str]  # (monitor_id, component_key): component_key "" for the monitor
K = TypeVar("K")


@dataclass(frozen=True)
class Figures:
    """An item's uptime per UTC day of the window, and over the last 24 hours."""

    by_day: dict[date, Share]
    last_24h: Share


@dataclass(frozen=True)
class _Entry:
    read_at: float  # time.monotonic()
    cutoff: datetime
    days: dict[date, Share]


def _cutoff(now: datetime) -> datetime:
    """Yesterday's midnight: the days before it are over for good."""
    return datetime.combine(now.astimezone(UTC).date(), datetime.min.time(), UTC) - _DAY


class PastDays:
    """One process's cache of finished days: of probed items per ``(monitor_id,
    component_key)``, of heartbeat monitors per id."""

    def __init__(self) -> None:
        self._probed: dict[Key, _Entry] = {}
        self._beats: dict[int, _Entry] = {}

    def _stale(self, entries: dict[K, _Entry], keys: Iterable[K], cutoff: datetime) -> list[K]:
        """The ``keys`` to read again: not kept, kept from another day, or for too long."""
        clock = time.monotonic()
        stale = [
            key
            for key in keys
            if (entry := entries.get(key)) is None
            or entry.cutoff != cutoff
            or clock - entry.read_at > TTL_SECONDS
        ]
        if stale and len(self._probed) + len(self._beats) + len(stale) > MAX_ENTRIES:
            self._probed.clear()
            self._beats.clear()
            return list(keys)
        return stale

    async def probed(
        self, conn: AsyncConnection, keys: Sequence[Key], since: datetime, now: datetime
    ) -> dict[Key, Figures]:
        """The daily checks from ``since`` to ``now`` of each of ``keys`` (probed monitors
        and components), and of their last 24 hours (from the hourly aggregates)."""
        cutoff = _cutoff(now)
        stale = self._stale(self._probed, keys, cutoff)
        if stale:
            past = await daily_tallies(conn, stale, since, until=cutoff)
            clock = time.monotonic()
            for key in stale:
                days = {day: share_of(tally) for day, tally in past.get(key, {}).items()}
                self._probed[key] = _Entry(clock, cutoff, days)
        recent, last = await recent_tallies(conn, keys, cutoff, floor_hour(now - _DAY))
        return {
            key: Figures(
                {
                    **self._probed[key].days,
                    **{day: share_of(t) for day, t in recent.get(key, {}).items()},
                },
                share_of(last[key]) if key in last else Share(),
            )
            for key in keys
        }

    async def heartbeats(
        self,
        conn: AsyncConnection,
        monitors: Sequence[MonitorRecord],
        since: datetime,
        now: datetime,
    ) -> dict[int, Figures]:
        """The daily time watched and down from ``since`` to ``now`` of each heartbeat
        monitor of ``monitors``, and of its last 24 hours (from its flips)."""
        cutoff = _cutoff(now)
        by_id = {monitor.id: monitor for monitor in monitors}
        stale = self._stale(self._beats, by_id, cutoff)
        if stale:
            history = await flips_since(conn, stale, since)
            clock = time.monotonic()
            for monitor_id in stale:
                monitor = by_id[monitor_id]
                spans = heartbeat_spans(
                    monitor.created_at, monitor.status.state, history.get(monitor_id, []),
                    since, cutoff,
                )  # fmt: skip
                self._beats[monitor_id] = _Entry(clock, cutoff, shares_by_day(spans))
        recent = await flips_since(conn, list(by_id), cutoff)
        found = {}
        for monitor_id, monitor in by_id.items():
            spans = heartbeat_spans(
                monitor.created_at, monitor.status.state, recent.get(monitor_id, []), cutoff, now
            )
            days = {**self._beats[monitor_id].days, **shares_by_day(spans)}
            found[monitor_id] = Figures(days, share_since(spans, now - _DAY))
        return found
