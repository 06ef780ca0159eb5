"""The Redis task store (the default backend).

Layout, under a configurable prefix (default ``tocsin:task``):

- ``<prefix>:<id>``: a hash with ``data`` (the record as JSON) and ``version``;
- ``<prefix>:<id>:events``: a Redis Stream, one entry per accepted change, capped at
  ``max_events``. Stream ids increase monotonically, so they double as SSE ids and as the
  replay buffer for ``Last-Event-ID``;
- ``<prefix>:events``: the pub/sub channel every change is published on (one channel for
  all tasks, so an asyncio server shares one subscription per process).

A change is computed in Python by ``apply_change`` and written by one Lua script that checks
the version first (compare-and-set), then writes the hash, appends to the stream, sets both
TTLs and publishes -- atomically. On a version conflict the change is recomputed. A group
member's change and its group's (``tocsin.tasks.groups.plan_update``) go through the same
script together: both versions are checked before either record is written.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import redis

from tocsin.tasks.groups import Write, plan_update
from tocsin.tasks.records import (
    Change,
    TaskEvent,
    TaskRecord,
    new_record,
    parse_event_id,
    utcnow,
)
from tocsin.tasks.store import DEFAULT_PENDING_TTL, DEFAULT_TTL, translate_errors

if TYPE_CHECKING:
    from tocsin.tasks.redis_hub import RedisEventHub

logger = logging.getLogger(__name__)

# Writes N records, all or none. KEYS: record 1, stream 1, record 2, stream 2, ...
# ARGV: max events, channel, then per record: expected version ("" = must not exist), new
# version, data, ttl ms, task id. Returns the event ids, or false on a version conflict.
_WRITE = """
local n = #KEYS / 2
for i = 1, n do
  local b = 2 + (i - 1) * 5
  local current = redis.call('HGET', KEYS[2 * i - 1], 'version')
  if ARGV[b + 1] == '' then
    if current then return false end
  elseif current ~= ARGV[b + 1] then
    return false
  end
end
local ids = {}
for i = 1, n do
  local b = 2 + (i - 1) * 5
  local record, stream = KEYS[2 * i - 1], KEYS[2 * i]
  redis.call('HSET', record, 'version', ARGV[b + 2], 'data', ARGV[b + 3])
  local id = redis.call('XADD', stream, 'MAXLEN', ARGV[1], '*', 'data', ARGV[b + 3])
  redis.call('PEXPIRE', record, ARGV[b + 4])
  redis.call('PEXPIRE', stream, ARGV[b + 4])
  redis.call('PUBLISH', ARGV[2], ARGV[b + 5] .. ' ' .. id .. ' ' .. ARGV[b + 3])
  ids[i] = id
end
return ids
"""

_MAX_CAS_ATTEMPTS = 50
_translate = translate_errors(redis.RedisError)


class RedisTaskStore:
    """Task records in Redis: a hash per task, a stream per task, one pub/sub channel."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        prefix: str = "tocsin:task",
        ttl: timedelta = DEFAULT_TTL,
        pending_ttl: timedelta = DEFAULT_PENDING_TTL,
        max_events: int = 100,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.channel = f"{prefix}:events"
        self.ttl = ttl
        self.pending_ttl = pending_ttl
        self.max_events = max_events
        #: The URL given to ``from_url``; the asyncio event hub connects with it.
        self.url: str | None = None
        self._write = client.register_script(_WRITE)

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> RedisTaskStore:
        """A store on the Redis at ``url`` (``redis://host:port/db``, ``rediss://``, ...)."""
        store = cls(redis.Redis.from_url(url), **kwargs)
        store.url = url
        return store

    def _key(self, task_id: str) -> str:
        return f"{self.prefix}:{task_id}"

    def _stream(self, task_id: str) -> str:
        return f"{self.prefix}:{task_id}:events"

    @_translate
    def create(
        self, name: str, *, task_id: str | None = None, owner: str | None = None
    ) -> TaskRecord:
        """Insert a ``queued`` record, or return the existing one with that id unchanged."""
        return self.insert(new_record(name, task_id=task_id, owner=owner, now=utcnow()))

    @_translate
    def insert(self, record: TaskRecord) -> TaskRecord:
        """Store ``record`` as it is, or return the existing one with its id unchanged."""
        if not self._write_all([(record, None)]):
            existing = self.get(record.id)
            if existing is not None:
                return existing
            raise RuntimeError(f"could not create task {record.id}")
        logger.debug("task created task_id=%s name=%s", record.id, record.name)
        return record

    @_translate
    def get(self, task_id: str) -> TaskRecord | None:
        """The record, or ``None`` when unknown or expired."""
        data = self.client.hget(self._key(task_id), "data")
        return TaskRecord.from_json(data) if data else None

    @_translate
    def update(self, task_id: str, change: Change) -> TaskRecord | None:
        """Apply ``change`` atomically; ``None`` when the task is unknown or the change stale."""
        for _ in range(_MAX_CAS_ATTEMPTS):
            current = self.get(task_id)
            if current is None:
                logger.debug("task update for unknown task task_id=%s", task_id)
                return None
            writes = plan_update(current, change, utcnow(), self.get)
            if writes is None:
                logger.debug(
                    "task update dropped task_id=%s state=%s current=%s",
                    task_id,
                    change.state,
                    current.state,
                )
                return None
            if self._write_all(writes):
                return writes[0][0]
        raise RuntimeError(f"task {task_id}: too many concurrent updates")

    def _write_all(self, writes: list[Write]) -> bool:
        """Compare-and-set every record of ``writes`` in one script: all or none."""
        keys: list[str] = []
        args: list[Any] = [self.max_events, self.channel]
        for record, expected in writes:
            ttl = self.ttl if record.state.terminal else self.pending_ttl
            keys += [self._key(record.id), self._stream(record.id)]
            args += [
                "" if expected is None else str(expected),
                str(record.version),
                record.to_json(),
                int(ttl.total_seconds() * 1000),
                record.id,
            ]
        return bool(self._write(keys=keys, args=args))

    @_translate
    def events_after(self, task_id: str, after: str | None, limit: int = 100) -> list[TaskEvent]:
        """Logged events newer than event id ``after`` (all retained ones for ``None``)."""
        after = parse_event_id(after)
        start = f"({after}" if after else "-"
        entries: Any = self.client.xrange(self._stream(task_id), min=start, max="+", count=limit)
        return [_event(entry) for entry in entries or []]

    @_translate
    def latest_event(self, task_id: str) -> TaskEvent | None:
        """The newest logged event."""
        entries: Any = self.client.xrevrange(self._stream(task_id), count=1)
        return _event(entries[0]) if entries else None

    @_translate
    def wait_events(self, task_id: str, after: str | None, timeout: float) -> list[TaskEvent]:
        """Block (``XREAD BLOCK``, no polling) up to ``timeout`` s for events after ``after``."""
        after = parse_event_id(after) or "0-0"
        reply: Any = self.client.xread(
            {self._stream(task_id): after}, count=100, block=max(1, int(timeout * 1000))
        )
        events: list[TaskEvent] = []
        for _stream, entries in reply or []:
            events.extend(_event(entry) for entry in entries)
        return events

    def event_hub(self) -> RedisEventHub:
        """One shared pub/sub subscription for this process's asyncio streams."""
        import redis.asyncio as aioredis

        from tocsin.tasks.redis_hub import RedisEventHub

        url = self.url
        kwargs = dict(self.client.connection_pool.connection_kwargs)

        def connect() -> aioredis.Redis:
            # Pings an idle subscription now and then, so a silently dead link is noticed.
            if url is not None:
                return aioredis.Redis.from_url(url, health_check_interval=15)
            allowed = ("host", "port", "db", "username", "password")
            options = {key: kwargs[key] for key in allowed if key in kwargs}
            return aioredis.Redis(health_check_interval=15, **options)

        return RedisEventHub(connect, channel=self.channel)

    @_translate
    def delete(self, task_id: str) -> None:
        """Forget the task and its events."""
        self.client.delete(self._key(task_id), self._stream(task_id))

    def close(self) -> None:
        """Release connections."""
        self.client.close()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _event(entry: Any) -> TaskEvent:
    event_id, fields = entry
    data: Any = fields.get(b"data", fields.get("data"))
    return TaskEvent(_text(event_id), TaskRecord.from_json(data))
