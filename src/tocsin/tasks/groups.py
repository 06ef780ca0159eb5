"""Task groups: several tasks (a Celery group or chord, a list of RQ jobs) as one record.

The group is a task record of its own (its id is what the page polls or streams) whose
``members`` hold a copy of each member's state, progress, attempt and version. A member
names its group in ``group_id``. Whenever a store accepts a change of a member it also
writes the group, in the same atomic write (one Lua script on Redis, one transaction in
SQL), so the group can never miss or reorder a member's change: ``plan_update`` computes
both records and the store compare-and-sets both versions, or retries.

The group's state is derived from its members:

- ``queued`` while no member has started;
- ``started`` once one has, ``progress`` once one reported progress or finished; the
  group's progress is the mean of the members' (a finished member counts 100 %), with
  ``current``/``total`` = finished/all members;
- when every member that will still run has finished: ``failed`` if any member failed,
  else ``cancelled`` if any was cancelled, else ``succeeded``. A chord's callback (a member
  with ``callback=True``) does not run after a failed or cancelled member, so it is not
  waited for then; when it does run, the group ends with it and takes its result.

Cancelling the group (``Change(CANCELLED)`` on the group id, e.g. ``POST /tasks/<id>/cancel``)
cancels every unfinished member in the same write. A group takes no other direct change.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Generic, TypeVar

from tocsin.tasks.records import (
    Change,
    GroupMember,
    Progress,
    TaskError,
    TaskRecord,
    apply_change,
    new_record,
    new_task_id,
    utcnow,
)
from tocsin.tasks.store import TaskStore
from tocsin.tasks.task_states import TaskState

T = TypeVar("T")

#: One record to write and the version it must still have (``None``: must not exist yet).
Write = tuple[TaskRecord, int | None]

_BROKEN = (TaskState.FAILED, TaskState.CANCELLED)


@dataclass(frozen=True)
class TrackedGroup(Generic[T]):
    """A group that was sent: ``id`` is the group's task id (``GET /tasks/<id>``), ``handle``
    what the queue returned (Celery's result, RQ's jobs)."""

    id: str
    handle: T


def new_group(
    name: str,
    members: Sequence[tuple[str, str]],
    *,
    now: datetime,
    group_id: str | None = None,
    owner: str | None = None,
    callback: tuple[str, str] | None = None,
) -> tuple[TaskRecord, list[TaskRecord]]:
    """The ``queued`` group record and its members' records, from ``(task id, name)`` pairs;
    ``callback`` is a chord's callback, run after all the others."""
    pairs = [(task_id, task_name, False) for task_id, task_name in members]
    if callback is not None:
        pairs.append((callback[0], callback[1], True))
    if not members:
        raise ValueError("a task group needs at least one member")
    ids = [task_id for task_id, _name, _callback in pairs]
    if len(set(ids)) != len(ids):
        raise ValueError("the members of a task group need distinct task ids")
    group_id = group_id or new_task_id()
    entries = tuple(
        GroupMember(task_id, task_name, callback=last) for task_id, task_name, last in pairs
    )
    group = new_record(name, task_id=group_id, owner=owner, now=now, members=entries)
    records = [
        new_record(task_name, task_id=task_id, owner=owner, now=now, group_id=group_id)
        for task_id, task_name, _callback in pairs
    ]
    return group, records


def create_group(
    store: TaskStore,
    name: str,
    members: Sequence[tuple[str, str]],
    *,
    group_id: str | None = None,
    owner: str | None = None,
    callback: tuple[str, str] | None = None,
) -> TaskRecord:
    """Store a ``queued`` group and its members' records (call it before anything is sent);
    returns the group record. Existing records with those ids are kept as they are."""
    group, records = new_group(
        name, members, now=utcnow(), group_id=group_id, owner=owner, callback=callback
    )
    created = store.insert(group)
    for record in records:
        store.insert(record)
    return created


def cancelled_ids(record: TaskRecord) -> list[str]:
    """The queue jobs a cancel hook must stop for ``record``: a group's cancelled members,
    or the task itself."""
    if not record.members:
        return [record.id]
    return [member.id for member in record.members if member.state is TaskState.CANCELLED]


def plan_update(
    current: TaskRecord,
    change: Change,
    now: datetime,
    load: Callable[[str], TaskRecord | None],
) -> list[Write] | None:
    """The records a store must write, atomically, to apply ``change`` to ``current``
    (first: ``current`` itself), or ``None`` when the change is stale or not allowed.

    ``load`` reads another record (the member's group, or a cancelled group's members).
    """
    updated = apply_change(current, change, now)
    if updated is None:
        return None
    writes: list[Write] = []
    if updated.members:  # the group itself was cancelled: so are its unfinished members
        for entry in updated.members:
            member = None if entry.state.terminal else load(entry.id)
            cancelled = apply_change(member, change, now) if member else None
            if member is not None and cancelled is not None:
                writes.append((cancelled, member.version))
                updated = _with_member(updated, cancelled) or updated
    elif updated.group_id is not None:
        group = load(updated.group_id)
        advanced = absorb(group, updated, now) if group else None
        if group is not None and advanced is not None:
            writes.append((advanced, group.version))
    return [(updated, current.version), *writes]


def absorb(group: TaskRecord, member: TaskRecord, now: datetime) -> TaskRecord | None:
    """``group`` after its member's new state ``member``; ``None`` when that changes nothing
    (the group finished, the member is not in it, or the copy is not newer)."""
    if group.state.terminal:
        return None
    merged = _with_member(group, member)
    if merged is None:
        return None
    state = derive_state(merged.members)
    if state.rank < group.state.rank:  # a member re-queued by hand: do not go back
        state = group.state
    updated = replace(
        merged,
        state=state,
        progress=aggregate_progress(merged.members),
        updated_at=now,
        version=group.version + 1,
    )
    if state is not TaskState.QUEUED:
        updated = replace(updated, started_at=group.started_at or now)
    if state.terminal:
        updated = replace(updated, finished_at=now, error=_first_error(merged.members, state))
    # A chord's result is its callback's. Kept as soon as the callback succeeds: its
    # success can be recorded before a header member's (each worker process reports its
    # own tasks), and the group then ends on that member's change.
    if member.state is TaskState.SUCCEEDED:
        callback = [entry for entry in merged.members if entry.callback]
        if callback and member.id == callback[0].id:
            updated = replace(updated, result=member.result)
    return updated


def _first_error(members: Sequence[GroupMember], state: TaskState) -> TaskError | None:
    for member in members:
        if member.state is state and member.error is not None:
            return replace(member.error, message=f"{member.name}: {member.error.message}")
    return None


def _with_member(group: TaskRecord, member: TaskRecord) -> TaskRecord | None:
    entries = list(group.members)
    for index, entry in enumerate(entries):
        if entry.id == member.id:
            if member.version <= entry.version:
                return None  # stale: never let an old copy overwrite a newer one
            entries[index] = replace(
                entry,
                state=member.state,
                progress=member.progress,
                attempt=member.attempt,
                version=member.version,
                error=replace(member.error, traceback=None) if member.error else None,
            )
            return replace(group, members=tuple(entries))
    return None


def derive_state(members: Sequence[GroupMember]) -> TaskState:
    """The group's state from its members' (see the module docstring)."""
    if all(member.state is TaskState.QUEUED for member in members):
        return TaskState.QUEUED
    broken = any(m.state in _BROKEN for m in members if not m.callback)
    waiting = [m for m in members if not m.state.terminal and not (m.callback and broken)]
    if not waiting:
        finished = {m.state for m in members}
        for state in (TaskState.FAILED, TaskState.CANCELLED):
            if state in finished:
                return state
        return TaskState.SUCCEEDED
    moving = any(m.progress is not None or m.state.terminal for m in members)
    return TaskState.PROGRESS if moving else TaskState.STARTED


def aggregate_progress(members: Sequence[GroupMember]) -> Progress:
    """Mean progress of the members (finished ones count 100 %), and how many finished."""
    total = 0.0
    finished = failed = 0
    for member in members:
        if member.state.terminal:
            total += 100.0
            finished += 1
            failed += member.state is TaskState.FAILED
        elif member.progress is not None:
            total += member.progress.resolved_percent or 0.0
    message = f"{finished} of {len(members)} finished"
    if failed:
        message += f", {failed} failed"
    return Progress(
        percent=round(total / len(members), 2),
        current=finished,
        total=len(members),
        message=message,
    )
