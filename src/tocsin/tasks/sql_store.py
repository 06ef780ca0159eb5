"""The SQL task store (SQLAlchemy Core), for apps without Redis: SQLite or PostgreSQL.

Two tables: ``<prefix>tasks`` (one row per task: the record as JSON, a ``version`` column for
compare-and-set, ``expires_at`` as epoch seconds) and ``<prefix>task_events`` (an
autoincrement id per accepted change, which is also the SSE id). Writers update a task with
``UPDATE ... WHERE version = :seen`` and append its event in the same transaction, so events
of one task are committed in id order. A group member's change and its group's
(``tocsin.tasks.groups.plan_update``) are written in one transaction, rows updated in id
order (so two such transactions cannot deadlock); a version conflict on either rolls both
back and the change is recomputed. Groups need no extra columns: members live in ``data``.

There is no push: SSE streams poll ``task_events`` every ``poll_interval`` seconds (the
documented fallback; on asyncio servers one ``PollingHub`` loop per process does it for all
streams). Expired rows are hidden at once and deleted by ``purge_expired``, which
``create`` runs at most once a minute.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

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
    from tocsin.tasks.polling_hub import PollingHub

logger = logging.getLogger(__name__)

_MAX_CAS_ATTEMPTS = 50
_translate = translate_errors(SQLAlchemyError)
_PURGE_EVERY_SECONDS = 60.0


class _VersionConflict(Exception):
    """Another writer changed a record first: roll back and recompute."""


class SqlTaskStore:
    """Task records in a SQL database through SQLAlchemy (sync engine)."""

    def __init__(
        self,
        engine: Engine,
        *,
        schema: str | None = None,
        table_prefix: str = "tocsin_",
        ttl: timedelta = DEFAULT_TTL,
        pending_ttl: timedelta = DEFAULT_PENDING_TTL,
        poll_interval: float = 1.0,
    ) -> None:
        self.engine = engine
        self.ttl = ttl
        self.pending_ttl = pending_ttl
        self.poll_interval = poll_interval
        self.metadata = MetaData(schema=schema)
        self.tasks = Table(
            f"{table_prefix}tasks",
            self.metadata,
            Column("id", String(64), primary_key=True),
            Column("name", String(255), nullable=False),
            Column("state", String(16), nullable=False),
            Column("owner", String(255)),
            Column("version", Integer, nullable=False),
            Column("data", Text, nullable=False),
            Column("expires_at", Float, nullable=False, index=True),
        )
        self.events = Table(
            f"{table_prefix}task_events",
            self.metadata,
            Column(
                "id",
                BigInteger().with_variant(Integer, "sqlite"),
                primary_key=True,
                autoincrement=True,
            ),
            # No foreign key: purging deletes both, and events may outlive a deleted row briefly.
            Column("task_id", String(64), nullable=False, index=True),
            Column("data", Text, nullable=False),
        )
        self._last_purge = 0.0

    @classmethod
    def from_url(cls, url: str, *, create_tables: bool = True, **kwargs: Any) -> SqlTaskStore:
        """A store on ``url`` (``sqlite:///path`` or ``postgresql+psycopg://...``)."""
        engine_kwargs: dict[str, Any] = {}
        if url.startswith("sqlite"):
            engine_kwargs["connect_args"] = {"timeout": 30}
        engine = create_engine(url, **engine_kwargs)
        if url.startswith("sqlite"):
            event.listen(engine, "connect", _sqlite_pragmas)
        store = cls(engine, **kwargs)
        if create_tables:
            store.create_tables()
        return store

    @_translate
    def create_tables(self) -> None:
        """Create the two tables if they do not exist."""
        self.metadata.create_all(self.engine)

    @_translate
    def create(
        self, name: str, *, task_id: str | None = None, owner: str | None = None
    ) -> TaskRecord:
        """Insert a ``queued`` record, or return the existing one with that id unchanged."""
        return self.insert(new_record(name, task_id=task_id, owner=owner, now=utcnow()))

    @_translate
    def insert(self, record: TaskRecord) -> TaskRecord:
        """Store ``record`` as it is, or return the existing one with its id unchanged."""
        self._maybe_purge()
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(self.tasks).values(self._row(record)))
                conn.execute(insert(self.events).values(task_id=record.id, data=record.to_json()))
        except IntegrityError:
            existing = self.get(record.id)
            if existing is None:
                raise
            return existing
        return record

    @_translate
    def get(self, task_id: str) -> TaskRecord | None:
        """The record, or ``None`` when unknown or expired."""
        query = select(self.tasks.c.data).where(
            self.tasks.c.id == task_id, self.tasks.c.expires_at > time.time()
        )
        with self.engine.connect() as conn:
            data = conn.execute(query).scalar_one_or_none()
        return TaskRecord.from_json(data) if data else None

    @_translate
    def update(self, task_id: str, change: Change) -> TaskRecord | None:
        """Apply ``change`` with compare-and-set on ``version``; ``None`` if unknown or stale."""
        for _ in range(_MAX_CAS_ATTEMPTS):
            current = self.get(task_id)
            if current is None:
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
            try:
                self._write_all(writes)
            except _VersionConflict:
                continue
            return writes[0][0]
        raise RuntimeError(f"task {task_id}: too many concurrent updates")

    def _write_all(self, writes: list[Write]) -> None:
        """Compare-and-set every record of ``writes`` and log their events, in one
        transaction; raises ``_VersionConflict`` (after rolling back) if one changed."""
        with self.engine.begin() as conn:
            for record, expected in sorted(writes, key=lambda write: write[0].id):
                result = conn.execute(
                    update(self.tasks)
                    .where(self.tasks.c.id == record.id, self.tasks.c.version == expected)
                    .values(self._row(record))
                )
                if result.rowcount != 1:
                    raise _VersionConflict(record.id)
            for record, _expected in writes:
                conn.execute(insert(self.events).values(task_id=record.id, data=record.to_json()))

    def _row(self, record: TaskRecord) -> dict[str, Any]:
        ttl = self.ttl if record.state.terminal else self.pending_ttl
        return {
            "id": record.id,
            "name": record.name,
            "state": record.state.value,
            "owner": record.owner,
            "version": record.version,
            "data": record.to_json(),
            "expires_at": time.time() + ttl.total_seconds(),
        }

    @_translate
    def events_after(self, task_id: str, after: str | None, limit: int = 100) -> list[TaskEvent]:
        """Logged events newer than event id ``after`` (all of them for ``None``)."""
        after = parse_event_id(after)
        query = (
            select(self.events.c.id, self.events.c.data)
            .where(self.events.c.task_id == task_id)
            .order_by(self.events.c.id)
            .limit(limit)
        )
        if after is not None:
            query = query.where(self.events.c.id > int(after.partition("-")[0]))
        if self.get(task_id) is None:
            return []
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [TaskEvent(str(row.id), TaskRecord.from_json(row.data)) for row in rows]

    @_translate
    def latest_event(self, task_id: str) -> TaskEvent | None:
        """The newest logged event."""
        if self.get(task_id) is None:
            return None
        query = (
            select(self.events.c.id, self.events.c.data)
            .where(self.events.c.task_id == task_id)
            .order_by(self.events.c.id.desc())
            .limit(1)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return TaskEvent(str(row.id), TaskRecord.from_json(row.data)) if row else None

    def wait_events(self, task_id: str, after: str | None, timeout: float) -> list[TaskEvent]:
        """Poll every ``poll_interval`` s, up to ``timeout`` s, for events after ``after``."""
        deadline = time.monotonic() + timeout
        while True:
            events = self.events_after(task_id, after)
            remaining = deadline - time.monotonic()
            if events or remaining <= 0:
                return events
            time.sleep(min(self.poll_interval, remaining))

    def event_hub(self) -> PollingHub:
        """No push in SQL: one polling loop per process, fanned out to its streams."""
        from tocsin.tasks.polling_hub import PollingHub

        return PollingHub(self, interval=self.poll_interval)

    @_translate
    def delete(self, task_id: str) -> None:
        """Forget the task and its events."""
        with self.engine.begin() as conn:
            conn.execute(delete(self.events).where(self.events.c.task_id == task_id))
            conn.execute(delete(self.tasks).where(self.tasks.c.id == task_id))

    @_translate
    def purge_expired(self) -> int:
        """Delete expired tasks and their events; returns how many tasks went."""
        now = time.time()
        expired = select(self.tasks.c.id).where(self.tasks.c.expires_at <= now)
        with self.engine.begin() as conn:
            conn.execute(delete(self.events).where(self.events.c.task_id.in_(expired)))
            result = conn.execute(delete(self.tasks).where(self.tasks.c.expires_at <= now))
        self._last_purge = time.monotonic()
        return int(result.rowcount)

    def _maybe_purge(self) -> None:
        if time.monotonic() - self._last_purge > _PURGE_EVERY_SECONDS:
            self.purge_expired()

    def close(self) -> None:
        """Release connections."""
        self.engine.dispose()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
