"""Task states and the order they may follow each other in.

Updates reach the store from several processes (the web process that enqueues, the worker,
its pool child, a scheduler), so they can arrive late or twice. Each update is ranked by
``(attempt, rank(state))``; the store accepts it only when it moves the record forward. A
late ``started`` therefore never overwrites ``succeeded``, and a terminal state is final
(except for an explicit manual re-queue).
"""

from __future__ import annotations

from enum import StrEnum


class TaskState(StrEnum):
    """Where a task is in its life."""

    QUEUED = "queued"
    STARTED = "started"
    PROGRESS = "progress"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        """True for the states a task never leaves on its own."""
        return self in TERMINAL_STATES

    @property
    def rank(self) -> int:
        """Position within one attempt: higher ranks win over lower ones."""
        return _RANKS[self]


TERMINAL_STATES = frozenset({TaskState.SUCCEEDED, TaskState.FAILED, TaskState.CANCELLED})

_RANKS = {
    TaskState.QUEUED: 0,
    TaskState.STARTED: 1,
    TaskState.PROGRESS: 2,
    TaskState.RETRYING: 3,
    TaskState.SUCCEEDED: 4,
    TaskState.FAILED: 4,
    TaskState.CANCELLED: 4,
}
