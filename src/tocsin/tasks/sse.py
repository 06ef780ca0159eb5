"""Server-Sent Events for task streams: framing, and the blocking stream for WSGI servers.

Nothing here imports a web framework. :class:`EventCursor` holds the one rule both stream
flavours follow (send each event once, in order, and stop after a terminal state); the
asyncio flavour, fed by an event hub, lives in ``tocsin.tasks.asgi_routes``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator

from tocsin.tasks.records import TaskEvent, event_sort_key
from tocsin.tasks.store import TaskStore, TaskStoreError

logger = logging.getLogger(__name__)

#: Headers of every SSE response; ``X-Accel-Buffering`` stops nginx from buffering events.
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
SSE_MEDIA_TYPE = "text/event-stream"
KEEPALIVE = b": keep-alive\n\n"
#: Reconnect delay sent to ``EventSource`` clients (milliseconds).
RECONNECT_MS = 2000
#: The first message of every stream.
PREAMBLE = f"retry: {RECONNECT_MS}\n\n".encode()


def format_event(event: TaskEvent, privileged: bool) -> bytes:
    """One SSE message: ``id`` (for ``Last-Event-ID``), ``event: task``, the JSON snapshot.

    Rendered once per event and audience: a thousand streams fed the same event object by
    the hub share one string.
    """
    text = event.rendered.get(privileged)
    if text is None:
        data = json.dumps(event.record.public_dict(privileged=privileged), separators=(",", ":"))
        message = f"id: {event.id}\nevent: task\ndata: {data}\n\n"
        text = event.rendered[privileged] = message.encode()
    return text


class EventCursor:
    """Where one stream is: the last event sent, and whether the task has ended."""

    __slots__ = ("ended", "last", "privileged")

    def __init__(self, privileged: bool) -> None:
        self.privileged = privileged
        self.last: str | None = None
        self.ended = False

    def messages(self, events: Iterable[TaskEvent]) -> list[bytes]:
        """The SSE messages of the events not sent yet, up to a terminal state.

        An event can arrive twice (pushed by the hub and read from the log), so anything
        not after ``last`` is skipped.
        """
        out: list[bytes] = []
        for event in events:
            if self.last is not None and event_sort_key(event.id) <= event_sort_key(self.last):
                continue
            out.append(format_event(event, self.privileged))
            self.last = event.id
            if event.record.state.terminal:
                self.ended = True
                break
        return out


def sync_stream(
    store: TaskStore,
    task_id: str,
    opening: list[TaskEvent],
    *,
    privileged: bool,
    keepalive: float,
) -> Iterator[bytes]:
    """Blocking SSE generator for threaded WSGI servers: waits with ``store.wait_events``
    (``XREAD BLOCK`` on Redis, polling on SQL) and ends after a terminal state."""
    yield PREAMBLE
    cursor = EventCursor(privileged)
    try:
        yield from cursor.messages(opening)
        while not cursor.ended:
            events = store.wait_events(task_id, cursor.last, timeout=keepalive)
            if events:
                yield from cursor.messages(events)
            elif store.get(task_id) is None:
                return
            else:
                yield KEEPALIVE
    except TaskStoreError as exc:
        # End the stream; EventSource reconnects with Last-Event-ID and resumes.
        logger.warning("task stream ended task_id=%s error=%s", task_id, exc)
