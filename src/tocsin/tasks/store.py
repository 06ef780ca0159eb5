"""The task store interface, shared by the Redis and SQL backends, and the default store.

Workers and web processes each build a store pointing at the same Redis or database; the
record never lives in one process's memory. ``set_default_store`` lets trackers
(``track()``, RQ, Celery) find the store without passing it around.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import timedelta
from typing import Final, ParamSpec, Protocol, TypeVar, runtime_checkable

from tocsin.errors import ConfigError, TocsinError
from tocsin.tasks.records import Change, TaskEvent, TaskRecord

#: How long a finished task stays readable.
DEFAULT_TTL = timedelta(hours=24)
#: How long an unfinished task may stay silent before it is forgotten.
DEFAULT_PENDING_TTL = timedelta(days=7)
#: What ``Subscription.get`` returns after ``nudge()``: time for a keep-alive comment.
KEEPALIVE_TICK: Final = "keepalive"


P = ParamSpec("P")
R = TypeVar("R")


class TaskStoreError(TocsinError):
    """The store's backend failed (Redis unreachable, a database error). The web endpoints
    answer 503; trackers log it and let the task go on."""


def translate_errors(
    *kinds: type[BaseException],
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorator for store methods: the backend's ``kinds`` of errors become ``TaskStoreError``
    (the one place each backend's exceptions are translated)."""

    def decorate(method: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(method)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return method(*args, **kwargs)
            except kinds as exc:
                raise TaskStoreError(f"task store failed: {exc}") from exc

        return wrapper

    return decorate


class EventHub(Protocol):
    """Pushes new events of any task to asyncio subscribers (one shared feed per process)."""

    def subscribe(self, task_id: str) -> Subscription:
        """Start receiving ``task_id``'s events; close the subscription when done."""
        ...

    async def ready(self) -> None:
        """Wait until the feed is live, so events published from now on are delivered."""
        ...

    async def aclose(self) -> None:
        """Stop the shared feed."""
        ...


class Subscription(Protocol):
    """One subscriber's queue of events, filled by an ``EventHub``."""

    async def get(self) -> TaskEvent | str | None:
        """The next item: an event; ``KEEPALIVE_TICK`` after ``nudge()``; ``None`` when the
        feed reconnected and events may have been missed (re-read the log)."""
        ...

    def nudge(self) -> None:
        """Wake the subscriber with ``KEEPALIVE_TICK``."""
        ...

    def close(self) -> None:
        """Stop receiving."""
        ...


@runtime_checkable
class TaskStore(Protocol):
    """Persistent, shared task records with an ordered per-task event log."""

    ttl: timedelta

    def create(
        self, name: str, *, task_id: str | None = None, owner: str | None = None
    ) -> TaskRecord:
        """Insert a ``queued`` record, or return the existing one with that id unchanged."""
        ...

    def insert(self, record: TaskRecord) -> TaskRecord:
        """Store ``record`` as it is, or return the existing one with its id unchanged."""
        ...

    def get(self, task_id: str) -> TaskRecord | None:
        """The record, or ``None`` when unknown or expired."""
        ...

    def update(self, task_id: str, change: Change) -> TaskRecord | None:
        """Apply ``change`` atomically; ``None`` when the task is unknown or the change stale."""
        ...

    def events_after(self, task_id: str, after: str | None, limit: int = 100) -> list[TaskEvent]:
        """Logged events newer than event id ``after`` (all retained ones for ``None``)."""
        ...

    def latest_event(self, task_id: str) -> TaskEvent | None:
        """The newest logged event."""
        ...

    def wait_events(self, task_id: str, after: str | None, timeout: float) -> list[TaskEvent]:
        """Like ``events_after`` but blocks up to ``timeout`` s until there is one."""
        ...

    def event_hub(self) -> EventHub | None:
        """A push feed for asyncio servers, or ``None`` when the backend must be polled."""
        ...

    def delete(self, task_id: str) -> None:
        """Forget the task and its events."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


_default_store: TaskStore | None = None


def set_default_store(store: TaskStore | None) -> None:
    """Make ``store`` the one trackers use when none is given (``None`` clears it)."""
    global _default_store
    _default_store = store


def get_default_store() -> TaskStore:
    """The store set by ``set_default_store``; a ``ConfigError`` says how to set one."""
    if _default_store is None:
        raise ConfigError(
            "no task store configured: call tocsin.tasks.set_default_store("
            "RedisTaskStore.from_url(...)) in the worker, or pass store= explicitly"
        )
    return _default_store


def default_store_or_none() -> TaskStore | None:
    """The default store, or ``None`` when none was set."""
    return _default_store
