"""Who may probe now: a global cap and a per-host cap, with waiting lines instead of locks.

A run first takes a place of its host, then a global place. One that finds its host full
waits in the host's line holding nothing, so it never keeps a global place from runs of
other hosts; one that holds its host place but finds no global place waits in the global
line. Freeing a place hands it to the next in line, first in first out.

No asyncio here and no task per waiting run: thousands of runs can wait for a few
hundred places at the cost of a deque entry each (``asyncio.Semaphore`` wakes its waiters
by scanning them, which grows with the line).
"""

from __future__ import annotations

from collections import deque
from typing import Generic, TypeVar


class Ticket:
    """One run asking for a place; subclass it to carry the run."""

    __slots__ = ("cancelled", "host", "queued")

    def __init__(self, host: str) -> None:
        self.host = host
        self.queued = False  # waiting in a line
        self.cancelled = False  # given up while waiting: skipped when its turn comes


T = TypeVar("T", bound=Ticket)


class Admission(Generic[T]):
    """Places for ``concurrency`` runs at once, at most ``per_host`` per host
    (``None``: no per-host cap)."""

    def __init__(self, concurrency: int, per_host: int | None) -> None:
        if concurrency < 1 or (per_host is not None and per_host < 1):
            raise ValueError("concurrency and per_host must be at least 1")
        self.concurrency = concurrency
        self.per_host = per_host
        self.active = 0  # runs holding a global place
        self.waiting = 0  # tickets in a line, not cancelled
        self._ready: deque[T] = deque()  # hold their host place, wait for a global one
        self._hosts: dict[str, int] = {}  # host -> places held (only hosts holding any)
        self._host_lines: dict[str, deque[T]] = {}  # host -> tickets waiting for it

    def offer(self, ticket: T) -> bool:
        """Whether ``ticket`` may start now; if not, it waits in line (see ``release``)."""
        if self.per_host is not None:
            held = self._hosts.get(ticket.host, 0)
            if held >= self.per_host:
                self._enqueue(self._host_lines.setdefault(ticket.host, deque()), ticket)
                return False
            self._hosts[ticket.host] = held + 1
        if self.active < self.concurrency:
            self.active += 1
            return True
        self._enqueue(self._ready, ticket)
        return False

    def release(self, ticket: T) -> list[T]:
        """``ticket``'s run finished: free its places; return the tickets that start now."""
        self.active -= 1
        self._free_host(ticket.host)
        started: list[T] = []
        while self.active < self.concurrency and self._ready:
            waiting = self._ready.popleft()
            if waiting.cancelled:
                self._free_host(waiting.host)
                continue
            self._dequeued(waiting)
            self.active += 1
            started.append(waiting)
        return started

    def cancel(self, ticket: T) -> None:
        """Give up a waiting ticket (a running one is cancelled by its owner instead)."""
        if ticket.queued and not ticket.cancelled:
            ticket.cancelled = True
            self.waiting -= 1

    def _free_host(self, host: str) -> None:
        """Pass a host place to the next in the host's line, or give it back."""
        if self.per_host is None:
            return
        line = self._host_lines.get(host)
        while line:
            waiting = line.popleft()
            if waiting.cancelled:
                continue
            self._ready.append(waiting)  # keeps the place: the host count is unchanged
            break
        else:
            held = self._hosts[host] - 1
            if held:
                self._hosts[host] = held
            else:
                del self._hosts[host]
        if line is not None and not line:
            del self._host_lines[host]

    def _enqueue(self, line: deque[T], ticket: T) -> None:
        ticket.queued = True
        self.waiting += 1
        line.append(ticket)

    def _dequeued(self, ticket: T) -> None:
        ticket.queued = False
        self.waiting -= 1
