"""Redis key names shared by the worker heartbeats (writers) and the health checks (readers).

Per queue, tocsin keeps two keys about the workers that consume it:

- ``tocsin:<kind>:alive:<queue>`` — a sorted set; member = worker identity
  (``host:pid`` or a configured name), score = the Unix time its liveness expires;
- ``tocsin:<kind>:beats:<queue>`` — a hash; worker identity → Unix time of its last beat.

``kind`` is ``rq`` or ``celery``. Failed Celery tasks are counted per queue in one hash per
minute (:func:`failures_key`). A tocsin RQ worker also writes its identity into RQ's
own worker hash (:data:`RQ_IDENTITY_FIELD`). Standard library only: the health checks
import this.
"""

from __future__ import annotations

import os
import socket

PREFIX = "tocsin"
KEY_TTL_SECONDS = 86_400
"""How long the per-queue keys outlive the last beat of any worker."""


def alive_key(kind: str, queue: str) -> str:
    """The sorted set of live workers of ``queue``."""
    return f"{PREFIX}:{kind}:alive:{queue}"


def beats_key(kind: str, queue: str) -> str:
    """The hash of last-beat times of ``queue``'s workers."""
    return f"{PREFIX}:{kind}:beats:{queue}"


def default_identity() -> str:
    """``hostname:pid``: stable for a process, unlike RQ's random pool worker names."""
    return f"{socket.gethostname()}:{os.getpid()}"


RQ_IDENTITY_FIELD = "tocsin_identity"
"""The field a tocsin RQ worker adds to RQ's own worker hash: its liveness identity.

The RQ health check reads it to tell tocsin workers (judged by their liveness beat) from
plain RQ workers (judged by RQ's heartbeat) in a mixed fleet, and counts each once.
"""

SENT_AT_HEADER = "tocsin_sent_at"
"""The Celery message header holding the Unix time the task was published."""


def beat_key(name: str) -> str:
    """The hash a Celery beat's liveness writes (last tick, next wake-up, identity)."""
    return f"{PREFIX}:celery:beat:{name}"


FAILURE_BUCKET_SECONDS = 60
"""Failed Celery tasks are counted in one Redis hash per queue per this many seconds."""


def failures_key(kind: str, queue: str, bucket: int) -> str:
    """The hash of failure counts (task name → count) of ``queue`` in time bucket ``bucket``.

    ``bucket`` is the Unix time divided by :data:`FAILURE_BUCKET_SECONDS`, rounded down.
    """
    return f"{PREFIX}:{kind}:failures:{queue}:{bucket}"
