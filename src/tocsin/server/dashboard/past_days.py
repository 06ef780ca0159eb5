"""Daily uptime of days that are over, kept in memory for a few minutes.

A status page's 90 bars add up to 2,160 hourly aggregates per item; all but the last two
days' no longer change (the rollup writes only finished hours, and rarely catches up a
little late), so they are read once per ``TTL`` and each request reads only the hours of
yesterday and today.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from tocsin.server.storage.probe_rows import Tally
from tocsin.server.storage.uptime_days import daily_tallies

TTL_SECONDS = 600.0
MAX_ENTRIES = 20_000  # items across all pages; past that the cache starts over
Key = tuple[int, str]


@dataclass(frozen=True)
class _Entry:
    read_at: float  # time.monotonic()
    cutoff: datetime
    days: dict[date, Tally]


class PastDays:
    """One process's cache of finished days, per ``(monitor_id, component_key)``."""

    def __init__(self) -> None:
        self._entries: dict[Key, _Entry] = {}

    async def tallies(
        self, conn: AsyncConnection, keys: Sequence[Key], since: datetime, now: datetime
    ) -> dict[Key, dict[date, Tally]]:
        """The daily tallies from ``since`` to ``now`` of each of ``keys``."""
        today = datetime.combine(now.astimezone(UTC).date(), datetime.min.time(), UTC)
        cutoff = today - timedelta(days=1)
        clock = time.monotonic()
        stale = [
            key
            for key in keys
            if (entry := self._entries.get(key)) is None
            or entry.cutoff != cutoff
            or clock - entry.read_at > TTL_SECONDS
        ]
        if stale:
            if len(self._entries) + len(stale) > MAX_ENTRIES:
                self._entries.clear()
            past = await daily_tallies(conn, stale, since, until=cutoff)
            for key in stale:
                self._entries[key] = _Entry(clock, cutoff, past.get(key, {}))
        recent = await daily_tallies(conn, keys, cutoff)
        return {key: {**self._entries[key].days, **recent.get(key, {})} for key in keys}
