"""The order of each channel and monitor's alerts inside one delivery worker.

Alerts of the same channel and monitor (a *pair*) must reach the receiver in the order
they were written: a monitor's ``up`` never before its ``down``. The database keeps
that order between processes (only the oldest pending notification of a pair is ever
claimed); this keeps it inside a process. The alerts of a pair handed over together
form a ``Chain``, sent one after the other; a chain starts only when the pair's previous
chain here has ended, and only if that one left nothing pending: after a retry, the
later alerts are given back unsent, to be claimed once the earlier one is delivered or
given up.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from tocsin.server.storage.claimed import ClaimedAlert

Pair = tuple[int, int]
# How long an alert whose last attempt was recorded here is remembered as done: longer
# than the transaction that writes a later alert of its pair and hands it over.
FINISHED_MEMORY_SECONDS = 60.0


@dataclass
class Chain:
    """A pair's alerts handed over together, oldest first. ``after`` resolves when the
    pair's previous chain here has ended (true: it left nothing pending); this chain
    resolves ``done`` the same way."""

    pair: Pair
    alerts: list[ClaimedAlert]
    after: asyncio.Future[bool] | None
    done: asyncio.Future[bool]


@dataclass
class _Line:
    """What this process holds of one pair: its alerts' ids and its last chain."""

    ids: set[int] = field(default_factory=set)
    last: asyncio.Future[bool] | None = None


class PairOrder:
    """The pairs this process holds alerts of, from hand-over until their attempts are
    recorded."""

    def __init__(self) -> None:
        self._lines: dict[Pair, _Line] = {}
        self._held: set[int] = set()
        # id -> when its last attempt (delivered or failed for good) was recorded here.
        self._finished: dict[int, float] = {}

    def holds(self, notification_id: int) -> bool:
        """Whether this process holds the notification (queued, in flight or recording)."""
        return notification_id in self._held

    def known(self, alerts: Iterable[ClaimedAlert]) -> set[int]:
        """The ids of ``alerts``, of every alert this process holds of their pairs, and of
        their ``older_pending`` ones that this process has finished since."""
        known: set[int] = set()
        for alert in alerts:
            known.add(alert.id)
            known.update(older for older in alert.older_pending if older in self._finished)
            line = self._lines.get(alert.pair)
            if line is not None:
                known |= line.ids
        return known

    def finish(self, ids: Iterable[int]) -> None:
        """These alerts' last attempts are recorded (delivered, or failed for good): a
        later alert of their pair written while they were pending need not wait."""
        now = time.monotonic()
        for notification_id in ids:
            self._finished[notification_id] = now
        cutoff = now - FINISHED_MEMORY_SECONDS
        while self._finished:  # oldest first: insertion order
            oldest = next(iter(self._finished))
            if self._finished[oldest] >= cutoff:
                break
            del self._finished[oldest]

    def chains(self, alerts: Sequence[ClaimedAlert]) -> list[Chain]:
        """Group ``alerts`` into chains, each behind its pair's previous chain here."""
        by_pair: dict[Pair, list[ClaimedAlert]] = {}
        for alert in sorted(alerts, key=lambda a: a.id):
            by_pair.setdefault(alert.pair, []).append(alert)
        loop = asyncio.get_running_loop()
        chains = []
        for pair, queued in by_pair.items():
            line = self._lines.setdefault(pair, _Line())
            chain = Chain(pair, queued, line.last, loop.create_future())
            line.last = chain.done
            ids = {alert.id for alert in queued}
            line.ids |= ids
            self._held |= ids
            chains.append(chain)
        return chains

    def forget(self, chains: Iterable[Chain]) -> None:
        """The chains' attempts are recorded: hold their alerts no longer."""
        for chain in chains:
            ids = {alert.id for alert in chain.alerts}
            self._held -= ids
            line = self._lines.get(chain.pair)
            if line is None:
                continue
            line.ids -= ids
            if not line.ids:
                del self._lines[chain.pair]


def blocked(
    alerts: Sequence[ClaimedAlert], older: Iterable[tuple[int, int]], known: set[int]
) -> frozenset[int]:
    """The alerts that must not be sent now: each with an older pending alert of its
    pair (``older``: ``(id, older_id)``) that is not ``known`` here (so it is in backoff,
    or with another process), and every later alert of the same pair."""
    waiting = {alert_id for alert_id, older_id in older if older_id not in known}
    stopped: set[Pair] = set()
    found = set()
    for alert in sorted(alerts, key=lambda a: a.id):
        if alert.id in waiting or alert.pair in stopped:
            stopped.add(alert.pair)
            found.add(alert.id)
    return frozenset(found)


__all__ = ["Chain", "Pair", "PairOrder", "blocked"]
