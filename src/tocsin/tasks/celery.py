"""Celery tracker: status records written by Celery's own signals.

    tracker = CeleryTracker(store_factory=lambda: RedisTaskStore.from_url(REDIS_URL))
    tracker.install()                     # in the module that builds the Celery app
    result = send_tracked(build_report, 42, owner=user_id)

- ``before_task_publish``: creates the ``queued`` record *before* the message leaves, so
  "unknown id" and "queued" can be told apart (Celery itself reports both as PENDING). Only
  tasks sent with ``send_tracked`` (header ``tocsin_track``) or listed in ``names`` are
  tracked; a retry re-publishes the message and leaves the record alone;
- ``after_task_publish``: logs the publish; ``task_prerun``: ``started`` (attempt =
  ``request.retries + 1``) and makes ``report_progress()`` work inside the task;
- ``task_retry``: ``retrying`` with the next attempt time from ``self.retry(countdown=...)``
  or ``eta=``; ``task_failure``: ``failed`` with the traceback; ``task_postrun``:
  ``succeeded`` with a small result summary.

The worker-side signals fire in the pool *child* under prefork, so the store is built
lazily once per process from ``store_factory`` (connections must not cross a fork).

``send_tracked_group(group(...))`` / ``send_tracked_group(chord(...))`` gives each member a
fresh id, stores the group record and its members' records, then sends the canvas; the
same signals report each member, and the store updates the group with it
(``tocsin.tasks.groups``). Celery's own group id is the group record's id.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from celery import signals

from tocsin.tasks.groups import TrackedGroup, cancelled_ids, create_group
from tocsin.tasks.records import new_task_id, utcnow
from tocsin.tasks.store import TaskStore, get_default_store
from tocsin.tasks.tracker import Tracker, set_current

logger = logging.getLogger(__name__)

TRACK_HEADER = "tocsin_track"
OWNER_HEADER = "tocsin_owner"
_SIGNALS = (
    "before_task_publish",
    "after_task_publish",
    "task_prerun",
    "task_postrun",
    "task_retry",
    "task_failure",
)


class CeleryTracker:
    """Connects Celery's signals to a task store (``install`` / ``uninstall``)."""

    def __init__(
        self,
        store_factory: Callable[[], TaskStore] | None = None,
        *,
        names: Iterable[str] = (),
    ) -> None:
        self._factory = store_factory or get_default_store
        self.names = frozenset(names)
        self._store: TaskStore | None = None
        self._pid = 0
        self._uid = f"tocsin-tasks-{id(self)}"

    @property
    def store(self) -> TaskStore:
        """This process's store (rebuilt after a fork)."""
        if self._store is None or self._pid != os.getpid():
            self._store = self._factory()
            self._pid = os.getpid()
        return self._store

    def install(self) -> CeleryTracker:
        """Connect the signal handlers (idempotent)."""
        for name in _SIGNALS:
            handler = getattr(self, f"_on_{name}")
            getattr(signals, name).connect(handler, weak=False, dispatch_uid=self._uid)
        return self

    def uninstall(self) -> None:
        """Disconnect the signal handlers."""
        for name in _SIGNALS:
            getattr(signals, name).disconnect(dispatch_uid=self._uid)

    def _tracked(self, name: str | None, headers: dict[str, Any]) -> bool:
        return bool(headers.get(TRACK_HEADER)) or (name in self.names)

    def _on_before_task_publish(
        self, sender: str | None = None, headers: dict[str, Any] | None = None, **_: Any
    ) -> None:
        headers = headers or {}
        task_id = headers.get("id")
        if not task_id or not self._tracked(sender, headers):
            return
        try:
            self.store.create(sender or "task", task_id=task_id, owner=headers.get(OWNER_HEADER))
        except Exception as exc:
            logger.warning("task status create failed task_id=%s error=%s", task_id, exc)

    def _on_after_task_publish(
        self, sender: str | None = None, headers: dict[str, Any] | None = None, **_: Any
    ) -> None:
        headers = headers or {}
        if self._tracked(sender, headers):
            logger.debug("task published task_id=%s name=%s", headers.get("id"), sender)

    def _tracker(self, task: Any, task_id: str | None = None) -> Tracker:
        request: Any = getattr(task, "request", None)
        retries = int(getattr(request, "retries", 0) or 0)
        return Tracker(self.store, task_id or request.id, attempt=retries + 1)

    def _on_task_prerun(self, task_id: str, task: Any, **_: Any) -> None:
        tracker = self._tracker(task, task_id)
        tracker.started()
        set_current(tracker)

    def _on_task_postrun(
        self, task_id: str, task: Any, retval: Any = None, state: str | None = None, **_: Any
    ) -> None:
        set_current(None)
        if state == "SUCCESS":
            self._tracker(task, task_id).succeeded(retval)

    def _on_task_retry(
        self,
        sender: Any = None,
        request: Any = None,
        reason: Any = None,
        einfo: Any = None,
        **_: Any,
    ) -> None:
        retries = int(getattr(request, "retries", 0) or 0)
        tracker = Tracker(self.store, request.id, attempt=retries + 1)
        exc = getattr(reason, "exc", None) or reason
        tb = getattr(einfo, "traceback", None)
        tracker.retrying(exc, next_attempt_at(getattr(reason, "when", None)), tb)

    def _on_task_failure(
        self,
        sender: Any = None,
        task_id: str | None = None,
        exception: BaseException | None = None,
        einfo: Any = None,
        **_: Any,
    ) -> None:
        tracker = self._tracker(sender, task_id)
        tracker.failed(exception or RuntimeError("task failed"), getattr(einfo, "traceback", None))


def next_attempt_at(when: Any, now: datetime | None = None) -> datetime | None:
    """The time of the next attempt from ``Retry.when`` (a countdown in s, or an eta)."""
    now = now or utcnow()
    if isinstance(when, int | float):
        return now + timedelta(seconds=float(when))
    if isinstance(when, datetime):
        return when if when.tzinfo else when.replace(tzinfo=UTC)
    if isinstance(when, str):
        try:
            return next_attempt_at(datetime.fromisoformat(when), now)
        except ValueError:
            return None
    return None


def send_tracked(task: Any, *args: Any, owner: str | None = None, **kwargs: Any) -> Any:
    """``task.apply_async(args, kwargs)`` with a 128-bit random id and a status record.

    Extra ``apply_async`` options go in ``options=`` (e.g. ``options={"countdown": 5}``).
    """
    options: dict[str, Any] = dict(kwargs.pop("options", None) or {})
    headers = dict(options.pop("headers", None) or {})
    headers[TRACK_HEADER] = "1"
    if owner is not None:
        headers[OWNER_HEADER] = owner
    options.setdefault("task_id", new_task_id())
    return task.apply_async(args=args, kwargs=kwargs, headers=headers, **options)


def send_tracked_group(
    canvas: Any,
    *,
    owner: str | None = None,
    name: str | None = None,
    store: TaskStore | None = None,
    **options: Any,
) -> TrackedGroup[Any]:
    """Send a Celery ``group(...)`` or ``chord(...)`` as one tracked task group.

    Members must be plain task signatures (no nested groups or chains); those without a
    ``task_id`` get a fresh 128-bit one. The group record and every member's record are
    stored (in ``store``, default: the default store) *before* anything is sent. A chord's
    callback is the group's last member: the group ends with it. ``options`` go to
    ``apply_async``. Returns the group's id (``GET /tasks/<id>``) and Celery's result.
    """
    from celery.canvas import Signature, _chord, group

    if isinstance(canvas, _chord):
        header_group = canvas.tasks if isinstance(canvas.tasks, group) else None
        header = list(canvas.tasks.tasks if header_group is not None else canvas.tasks)
        callback = canvas.body
    elif isinstance(canvas, group):
        header_group, header, callback = canvas, list(canvas.tasks), None
    else:
        raise TypeError("send_tracked_group takes a celery group(...) or chord(...)")
    for member in [*header, callback] if callback is not None else header:
        if type(member) is not Signature:
            raise TypeError(f"group members must be plain task signatures, not {member!r}")
        member.set(task_id=member.options.get("task_id") or new_task_id())
    holder = header_group if header_group is not None else canvas
    group_id = holder.options.get("task_id") or new_task_id()
    holder.set(task_id=group_id)
    create_group(
        store or get_default_store(),
        name or ("chord" if callback is not None else "group"),
        [(member.options["task_id"], member.task) for member in header],
        group_id=group_id,
        owner=owner,
        callback=(callback.options["task_id"], callback.task) if callback is not None else None,
    )
    return TrackedGroup(group_id, canvas.apply_async(**options))


def cancel_hook(app: Any, *, terminate: bool = False) -> Callable[[Any], None]:
    """An ``on_cancel`` hook: revoke the Celery task, or every member of a group
    (``terminate`` kills a running one; otherwise a running task stops at its next
    ``report_progress()``)."""

    def cancel(record: Any) -> None:
        app.control.revoke(cancelled_ids(record), terminate=terminate)

    return cancel
