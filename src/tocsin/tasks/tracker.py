"""``Tracker``: reports one task's changes to a store, and which tracker is running here.

The queue integrations (``tocsin.tasks.rq``, ``tocsin.tasks.celery``) build trackers and
make them current; ``tocsin.tasks.tracking`` (``track``, ``report_progress``) uses them.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from tocsin.errors import TocsinError
from tocsin.tasks.records import Change, Progress, TaskError, TaskRecord
from tocsin.tasks.store import TaskStore
from tocsin.tasks.task_states import TaskState

logger = logging.getLogger(__name__)

_current: ContextVar[Tracker | None] = ContextVar("tocsin_task_tracker", default=None)


class TaskCancelled(TocsinError):
    """Raised by ``report_progress`` when someone cancelled the task: stop working."""


class Tracker:
    """Reports one task's changes to a store. Errors talking to the store are logged, never
    raised into the task (status reporting must not break the work)."""

    #: Progress reports closer together than this (seconds) are dropped, except the last
    #: step (percent 100 or current == total): a tight loop must not flood the store and
    #: every open stream. Set to 0 to send each one.
    min_interval: float = 0.1

    def __init__(self, store: TaskStore, task_id: str, *, attempt: int | None = None) -> None:
        self.store = store
        self.task_id = task_id
        self.attempt = attempt
        #: Set by task code to store a result summary on success (small JSON).
        self.result: Any = None
        self._last_progress = -float("inf")

    def _send(self, change: Change) -> TaskRecord | None:
        try:
            return self.store.update(self.task_id, change)
        except Exception as exc:
            logger.warning(
                "task status update failed task_id=%s state=%s error=%s",
                self.task_id,
                change.state,
                exc,
            )
            return None

    def started(self) -> TaskRecord | None:
        """Record that an attempt started."""
        return self._send(Change(TaskState.STARTED, attempt=self.attempt))

    def progress(
        self,
        percent: float | None = None,
        *,
        current: int | None = None,
        total: int | None = None,
        message: str | None = None,
    ) -> TaskRecord | None:
        """Record progress; raises ``TaskCancelled`` when the task was cancelled meanwhile.

        Returns ``None`` when the report was dropped (too soon after the previous one).
        """
        progress = Progress(percent, current, total, message)
        now = time.monotonic()
        last_step = progress.resolved_percent == 100.0
        if now - self._last_progress < self.min_interval and not last_step:
            return None
        self._last_progress = now
        record = self._send(Change(TaskState.PROGRESS, attempt=self.attempt, progress=progress))
        if record is None:
            self._raise_if_cancelled()
        return record

    def _raise_if_cancelled(self) -> None:
        try:
            record = self.store.get(self.task_id)
        except Exception:
            return
        if record is not None and record.state is TaskState.CANCELLED:
            raise TaskCancelled(f"task {self.task_id} was cancelled")

    def succeeded(self, result: Any = None) -> TaskRecord | None:
        """Record success with an optional small JSON result summary."""
        value = self.result if result is None else result
        return self._send(Change(TaskState.SUCCEEDED, attempt=self.attempt, result=value))

    def failed(self, exc: BaseException, tb: str | None = None) -> TaskRecord | None:
        """Record a final failure caused by ``exc``."""
        error = TaskError.from_exception(exc, tb if tb is not None else _format(exc))
        return self._send(Change(TaskState.FAILED, attempt=self.attempt, error=error))

    def retrying(
        self, exc: BaseException | None, next_retry_at: datetime | None, tb: str | None = None
    ) -> TaskRecord | None:
        """Record that this attempt failed and another one is scheduled at ``next_retry_at``."""
        error = (
            TaskError.from_exception(exc, tb if tb is not None else _format(exc)) if exc else None
        )
        return self._send(
            Change(
                TaskState.RETRYING,
                attempt=self.attempt,
                error=error,
                next_retry_at=next_retry_at,
            )
        )


def _format(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


@contextmanager
def activate(tracker: Tracker) -> Iterator[Tracker]:
    """Make ``tracker`` the one ``report_progress`` uses inside the block."""
    token = _current.set(tracker)
    try:
        yield tracker
    finally:
        _current.reset(token)


def set_current(tracker: Tracker | None) -> None:
    """Set the current tracker without a block (worker signal handlers use this)."""
    _current.set(tracker)


def active_tracker() -> Tracker | None:
    """The tracker set by ``activate`` or ``set_current`` in this context, if any."""
    return _current.get()
