"""Task status for end users: queued -> started -> progress -> succeeded / failed / retrying.

The core (records, states, the store interface, ``track``, ``report_progress``) imports
nothing heavy. Backends and integrations live in their own modules and pull in their
dependencies only when imported:

- ``tocsin.tasks.redis_store.RedisTaskStore`` (redis), ``tocsin.tasks.sql_store.SqlTaskStore``
  (SQLAlchemy);
- ``tocsin.tasks.rq`` and ``tocsin.tasks.celery`` (trackers);
- ``tocsin.tasks.flask_blueprint.task_blueprint`` and ``tocsin.tasks.asgi_routes.task_app``
  (HTTP + SSE), thin adapters over ``tocsin.tasks.task_endpoint.TaskEndpoint``.

See docs/tasks.md.
"""

from tocsin.tasks.records import (
    Change,
    Progress,
    TaskError,
    TaskEvent,
    TaskRecord,
    apply_change,
    new_task_id,
)
from tocsin.tasks.store import (
    EventHub,
    TaskStore,
    TaskStoreError,
    get_default_store,
    set_default_store,
)
from tocsin.tasks.task_states import TERMINAL_STATES, TaskState
from tocsin.tasks.tracker import TaskCancelled, Tracker
from tocsin.tasks.tracking import current_tracker, report_progress, track

__all__ = [
    "TERMINAL_STATES",
    "Change",
    "EventHub",
    "Progress",
    "TaskCancelled",
    "TaskError",
    "TaskEvent",
    "TaskRecord",
    "TaskState",
    "TaskStore",
    "TaskStoreError",
    "Tracker",
    "apply_change",
    "current_tracker",
    "get_default_store",
    "new_task_id",
    "report_progress",
    "set_default_store",
    "track",
]
