"""Task records, the changes applied to them, and their JSON forms.

A ``TaskRecord`` is a plain frozen value; ``apply_change`` (pure, takes ``now``) is the one
place that decides whether an update moves a record forward. Both store backends call it and
then write the result with a compare-and-set on ``version``.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from tocsin.tasks.task_states import TaskState

#: Result summaries bigger than this (as JSON) are dropped rather than stored.
RESULT_SUMMARY_MAX_BYTES = 4096


_TASK_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def valid_task_id(value: str) -> bool:
    """True for ids tocsin, RQ and Celery make (hex, uuid): letters, digits, ``-``, ``_``.

    The HTTP endpoints answer 404 for anything else before touching the store.
    """
    return _TASK_ID.fullmatch(value) is not None


def new_task_id() -> str:
    """A fresh unguessable task id: 128 random bits as 32 hex digits."""
    return secrets.token_hex(16)


def utcnow() -> datetime:
    """The current time, UTC and timezone-aware."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Progress:
    """How far a running task is: a percentage and/or ``current`` of ``total``, and a message."""

    percent: float | None = None
    current: int | None = None
    total: int | None = None
    message: str | None = None

    @property
    def resolved_percent(self) -> float | None:
        """``percent`` if given, else ``current / total`` as a percentage (0-100)."""
        if self.percent is not None:
            return max(0.0, min(100.0, float(self.percent)))
        if self.current is not None and self.total:
            return max(0.0, min(100.0, 100.0 * self.current / self.total))
        return None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (with the percentage resolved)."""
        return {
            "percent": self.resolved_percent,
            "current": self.current,
            "total": self.total,
            "message": self.message,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Progress:
        """Inverse of ``to_dict``."""
        return cls(data.get("percent"), data.get("current"), data.get("total"), data.get("message"))


@dataclass(frozen=True)
class TaskError:
    """Why an attempt failed. ``traceback`` is shown to privileged callers only."""

    type: str
    message: str
    traceback: str | None = None

    @classmethod
    def from_exception(cls, exc: BaseException, traceback: str | None = None) -> TaskError:
        """Describe ``exc`` (type name and message, plus an optional traceback text)."""
        return cls(type(exc).__name__, str(exc), traceback)

    def to_dict(self, *, privileged: bool = True) -> dict[str, Any]:
        """JSON-ready form; without ``privileged`` the traceback is left out."""
        data: dict[str, Any] = {"type": self.type, "message": self.message}
        if privileged:
            data["traceback"] = self.traceback
        return data


@dataclass(frozen=True)
class GroupMember:
    """One member as its group record shows it: a copy of the member's own state, taken in
    the same atomic write as the member's change (``version`` orders the copies)."""

    id: str
    name: str
    state: TaskState = TaskState.QUEUED
    progress: Progress | None = None
    attempt: int = 1
    version: int = 1
    #: Type and message of the member's error (never its traceback).
    error: TaskError | None = None
    #: A chord's callback: runs only after every other member succeeded.
    callback: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "id": self.id,
            "name": self.name,
            "state": self.state.value,
            "progress": self.progress.to_dict() if self.progress else None,
            "attempt": self.attempt,
            "version": self.version,
            "error": self.error.to_dict(privileged=False) if self.error else None,
            "callback": self.callback,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GroupMember:
        """Inverse of ``to_dict``."""
        progress = data.get("progress")
        error = data.get("error")
        return cls(
            id=data["id"],
            name=data["name"],
            state=TaskState(data["state"]),
            progress=Progress.from_dict(progress) if progress else None,
            attempt=int(data.get("attempt", 1)),
            version=int(data.get("version", 1)),
            error=TaskError(error["type"], error["message"]) if error else None,
            callback=bool(data.get("callback", False)),
        )


@dataclass(frozen=True)
class TaskRecord:
    """Everything the store knows about one task.

    A *group* record (``members`` not empty) stands for several tasks; its state and progress
    are derived from theirs (``tocsin.tasks.groups``). A member names its group in
    ``group_id``.
    """

    id: str
    name: str
    state: TaskState
    created_at: datetime
    updated_at: datetime
    owner: str | None = None
    progress: Progress | None = None
    result: Any = None
    error: TaskError | None = None
    attempt: int = 1
    next_retry_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    version: int = 1
    group_id: str | None = None
    members: tuple[GroupMember, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Complete JSON-ready form, as stored (owner and traceback included).

        ``group_id`` and ``members`` appear only on group members and groups."""
        data = {
            "id": self.id,
            "name": self.name,
            "state": self.state.value,
            "owner": self.owner,
            "progress": self.progress.to_dict() if self.progress else None,
            "result": self.result,
            "error": self.error.to_dict() if self.error else None,
            "attempt": self.attempt,
            "next_retry_at": _iso(self.next_retry_at),
            "created_at": _iso(self.created_at),
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "updated_at": _iso(self.updated_at),
            "version": self.version,
        }
        if self.group_id is not None:
            data["group_id"] = self.group_id
        if self.members:
            data["members"] = [member.to_dict() for member in self.members]
        return data

    def public_dict(self, *, privileged: bool = False) -> dict[str, Any]:
        """What an end user sees: no owner, and the traceback only when ``privileged``."""
        data = self.to_dict()
        data["terminal"] = self.state.terminal
        if self.error:
            data["error"] = self.error.to_dict(privileged=privileged)
        if not privileged:
            del data["owner"]
        return data

    def to_json(self) -> str:
        """``to_dict`` as compact JSON."""
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TaskRecord:
        """Inverse of ``to_dict``."""
        error = data.get("error")
        progress = data.get("progress")
        return cls(
            id=data["id"],
            name=data["name"],
            state=TaskState(data["state"]),
            owner=data.get("owner"),
            progress=Progress.from_dict(progress) if progress else None,
            result=data.get("result"),
            error=TaskError(error["type"], error["message"], error.get("traceback"))
            if error
            else None,
            attempt=int(data.get("attempt", 1)),
            next_retry_at=_parse(data.get("next_retry_at")),
            created_at=_parse(data["created_at"]) or utcnow(),
            started_at=_parse(data.get("started_at")),
            finished_at=_parse(data.get("finished_at")),
            updated_at=_parse(data["updated_at"]) or utcnow(),
            version=int(data.get("version", 1)),
            group_id=data.get("group_id"),
            members=tuple(GroupMember.from_dict(item) for item in data.get("members") or ()),
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> TaskRecord:
        """Inverse of ``to_json``."""
        return cls.from_dict(json.loads(text))


@dataclass(frozen=True)
class Change:
    """One update reported by a tracker. ``attempt=None`` means "the record's attempt"."""

    state: TaskState
    attempt: int | None = None
    progress: Progress | None = None
    result: Any = None
    error: TaskError | None = None
    next_retry_at: datetime | None = None
    #: Only with ``state=QUEUED``: re-open a finished task for a manual retry.
    requeue: bool = False


@dataclass(frozen=True)
class TaskEvent:
    """One entry of a task's event log: its id (also the SSE id) and the record after it."""

    id: str
    record: TaskRecord
    #: Rendered forms, shared by every stream that sends this event (see ``sse.format_event``).
    rendered: dict[bool, bytes] = field(default_factory=dict, compare=False, repr=False)


def new_record(
    name: str,
    *,
    task_id: str | None = None,
    owner: str | None = None,
    now: datetime,
    group_id: str | None = None,
    members: tuple[GroupMember, ...] = (),
) -> TaskRecord:
    """A fresh ``queued`` record (a group member with ``group_id``; a group with ``members``)."""
    return TaskRecord(
        id=task_id or new_task_id(),
        name=name,
        state=TaskState.QUEUED,
        owner=owner,
        created_at=now,
        updated_at=now,
        group_id=group_id,
        members=members,
    )


def apply_change(record: TaskRecord, change: Change, now: datetime) -> TaskRecord | None:
    """The record after ``change``, or ``None`` when the change is stale or not allowed.

    Order is ``(attempt, state rank)``: an update that does not move the record forward is
    dropped, except repeated ``progress`` within one attempt. Terminal states are final;
    ``cancelled`` wins over any non-terminal state; ``requeue`` re-opens a finished task.
    A group's state follows its members (``tocsin.tasks.groups``): it only takes ``cancelled``.
    """
    if record.members and change.state is not TaskState.CANCELLED:
        return None
    if record.state.terminal:
        if change.state is TaskState.QUEUED and change.requeue:
            return replace(
                record,
                state=TaskState.QUEUED,
                attempt=record.attempt + 1,
                progress=None,
                result=None,
                error=None,
                next_retry_at=None,
                finished_at=None,
                updated_at=now,
                version=record.version + 1,
            )
        return None
    attempt = change.attempt
    if attempt is None:
        attempt = record.attempt
        if change.state is TaskState.STARTED and record.state is TaskState.RETRYING:
            attempt += 1
    if change.state is not TaskState.CANCELLED:
        new_key = (attempt, change.state.rank)
        old_key = (record.attempt, record.state.rank)
        if new_key < old_key:
            return None
        if new_key == old_key and change.state is not TaskState.PROGRESS:
            return None
    return _advance(record, change, max(attempt, record.attempt), now)


def _advance(record: TaskRecord, change: Change, attempt: int, now: datetime) -> TaskRecord:
    new_attempt = attempt > record.attempt
    updated = replace(
        record,
        state=change.state,
        attempt=attempt,
        updated_at=now,
        version=record.version + 1,
    )
    state = change.state
    if state in (TaskState.STARTED, TaskState.PROGRESS):
        fresh = new_attempt or record.state in (TaskState.QUEUED, TaskState.RETRYING)
        updated = replace(
            updated,
            started_at=record.started_at or now,
            next_retry_at=None,
            error=None if fresh else record.error,
            progress=change.progress or (None if fresh else record.progress),
        )
    elif state is TaskState.RETRYING:
        updated = replace(updated, error=change.error, next_retry_at=change.next_retry_at)
    elif state is TaskState.SUCCEEDED:
        updated = replace(
            updated,
            result=summarize_result(change.result),
            finished_at=now,
            next_retry_at=None,
            error=None,
        )
    elif state in (TaskState.FAILED, TaskState.CANCELLED):
        updated = replace(
            updated, error=change.error or record.error, finished_at=now, next_retry_at=None
        )
    return updated


def summarize_result(value: Any) -> Any:
    """``value`` if it is small JSON, else ``None`` (the store keeps summaries, not payloads)."""
    if value is None:
        return None
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        return None
    if len(text.encode()) > RESULT_SUMMARY_MAX_BYTES:
        return None
    return json.loads(text)


def event_sort_key(event_id: str) -> tuple[int, int]:
    """Order of event ids from either backend (Redis ``ms-seq`` or SQL integers)."""
    head, _, tail = event_id.partition("-")
    return int(head), int(tail or 0)


def parse_event_id(value: str | None) -> str | None:
    """A client's ``Last-Event-ID`` when it is well-formed, else ``None``."""
    if not value:
        return None
    try:
        event_sort_key(value.strip())
    except ValueError:
        return None
    return value.strip()


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _parse(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
