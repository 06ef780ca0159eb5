"""Who may see a task, and the hooks an application plugs into the task endpoints.

The hooks receive the framework's own request object (Flask's ``request``, Starlette's
``Request``) untouched: tocsin never looks inside it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tocsin.tasks.records import TaskRecord

logger = logging.getLogger(__name__)

#: ``authorize(task, request)``: may this caller see a task that has an owner?
AuthorizeHook = Callable[[TaskRecord, Any], bool]
#: ``privileged(request)``: may this caller see tracebacks?
PrivilegedHook = Callable[[Any], bool]
#: ``on_cancel(task)`` / ``on_retry(task)``: act on the queue after the record changed.
ActionHook = Callable[[TaskRecord], None]


@dataclass(frozen=True, slots=True)
class TaskAccess:
    """Who sees what. A task with an owner is visible only when ``authorize(task, request)``
    returns True (without a hook: never); a task without an owner is visible to anyone who
    knows its unguessable id. ``privileged(request)`` unlocks tracebacks and the owner.

    A hook that raises is logged and counts as "no".
    """

    authorize: AuthorizeHook | None = None
    privileged: PrivilegedHook | None = None

    def can_see(self, record: TaskRecord, request: Any) -> bool:
        """True when the request may know the task exists."""
        if record.owner is None:
            return True
        if self.authorize is None:
            return False
        try:
            return bool(self.authorize(record, request))
        except Exception:
            logger.exception("task authorize hook failed task_id=%s", record.id)
            return False

    def is_privileged(self, request: Any) -> bool:
        """True when the request may see tracebacks."""
        if self.privileged is None:
            return False
        try:
            return bool(self.privileged(request))
        except Exception:
            logger.exception("task privileged hook failed")
            return False
