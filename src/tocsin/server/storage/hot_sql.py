"""Driver-level statements for the engines' hot paths: ping batches and deadline passes.

A ping batch reads its monitors, inserts pings and updates the monitors; a deadline pass
reads monitors, updates their states and inserts flips and outbox rows. Through
SQLAlchemy's compiled-statement path every row pays for parameter and result processing
in Python, which was about half of the ping writer's time at 5,000 pings/s. Here each
statement's text is fixed per dialect (generated from the table definitions and the
fields of the ``hot_rows`` tuples it takes, so it follows the schema) whatever the
number of rows, parameters are plain values and results are converted by hand. The
engines reach these statements through the storage functions of ``ping_batches``,
``deadline_states``, ``flips`` and ``notifications``; everything else uses SQLAlchemy
Core.

Values are stored exactly as SQLAlchemy stores them, so both paths read each other's
rows (``tests/server/test_hot_sql.py``): on SQLite a UTC timestamp is naive ISO text with
microseconds and JSON is text; on PostgreSQL asyncpg takes and returns aware datetimes.

Reads take their keys as one parameter: a JSON array read with ``json_each`` on SQLite,
an array on PostgreSQL. Writes on PostgreSQL take one array per column, read with
``unnest``; on SQLite they are one ``executemany`` of a plain statement (cheaper than
unpacking a JSON text per row with ``json_extract``). Inserts that must report their new
ids insert in the rows' order and return the ids sorted: ids are handed out in insertion
order, so the n-th smallest id belongs to the n-th row (SQLAlchemy relies on the same).
On SQLite the new ids are the ones above the table's largest id before the insert (this
transaction holds SQLite's only write lock).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Float,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
)
from sqlalchemy.engine import Connection

from tocsin.server.domain.transitions import HeartbeatStatus
from tocsin.server.storage.hot_rows import (
    DeadlineStateRow,
    DueMonitor,
    FlipRow,
    NewNotification,
    NotificationRow,
    PingedMonitorRow,
    PingRow,
)
from tocsin.server.storage.rows import RECORD_COLUMNS, STATES, MonitorRecord, schedule_of
from tocsin.server.storage.tables import flips, monitors, notifications, pings
from tocsin.server.storage.types import SqliteTimes, UTCDateTime, utc_from_db

# The column lists of the statements: the fields of the rows they take (an update's
# last field is the id that finds the row).
PING_COLUMNS = PingRow._fields
PINGED_MONITOR_COLUMNS = PingedMonitorRow._fields
DEADLINE_COLUMNS = DeadlineStateRow._fields
FLIP_COLUMNS = FlipRow._fields
NOTIFICATION_COLUMNS = NotificationRow._fields


_PG_TYPES: tuple[tuple[type[Any], str], ...] = (
    (UTCDateTime, "timestamptz"),
    (SmallInteger, "int2"),
    (BigInteger, "int8"),
    (Integer, "int4"),
    (Float, "float8"),
    (Text, "text"),
    (String, "varchar"),
    (JSON, "text"),  # sent as JSON text, cast to json in the statement
)


def _pg_array_type(column: Column[Any]) -> str:
    """The PostgreSQL element type for an array of ``column``'s values (no length limit:
    a cast to ``varchar(n)`` would truncate silently where an insert would fail)."""
    for sa_type, name in _PG_TYPES:
        if isinstance(column.type, sa_type):
            return name
    raise TypeError(f"no array type for column {column.name} ({column.type!r})")


@functools.cache
def hot_statements(dialect_name: str) -> HotStatements:
    """The statements for ``"sqlite"`` or ``"postgresql"``, built once per process."""
    return HotStatements(dialect_name)


def statements_for(conn: Connection) -> HotStatements:
    """The statements for ``conn``'s database."""
    return hot_statements(conn.dialect.name)


class HotStatements:
    """The hot-path statements for one dialect.

    The SQL text is built only from our own table and column names (quoted) and
    placeholders; no value ever enters it, hence the S608 exemptions below.
    """

    def __init__(self, dialect_name: str) -> None:
        self.sqlite = dialect_name == "sqlite"
        columns = tuple(c.name for c in monitors.columns)
        position = {name: index for index, name in enumerate(columns)}
        # A row's values in ``MonitorRecord.from_values`` order, and which are timestamps.
        self._record_values = itemgetter(*(position[name] for name in RECORD_COLUMNS))
        self._record_times = _times(monitors, RECORD_COLUMNS)
        # Those left to convert when the status is already decoded (a deadline pass).
        in_status = {RECORD_COLUMNS.index(name) for name in HeartbeatStatus.__slots__}
        self._record_other_times = tuple(i for i in self._record_times if i not in in_status)
        self._due_values = itemgetter(
            *(
                position[name]
                for name in (
                    "id",
                    "uuid",
                    "state",
                    "period_seconds",
                    "grace_seconds",
                    "cron",
                    "timezone",
                    "last_ping_at",
                    "last_start_at",
                    "last_start_rid",
                    "next_deadline",
                )
            )
        )
        self._by_uuid = _select_monitors(self.sqlite, "uuid", "varchar")
        self._by_id = _select_monitors(self.sqlite, "id", "int4")
        # A deadline pass decodes JSON only for the monitors that alert.
        self._due_by_id = _select_monitors(self.sqlite, "id", "int4", json_as_text=True)
        self._ping_times = _times(pings, PING_COLUMNS)
        self._ping_monitor_times = _times(monitors, PINGED_MONITOR_COLUMNS)
        self._deadline_times = _times(monitors, DEADLINE_COLUMNS)
        self._flip_times = _times(flips, FLIP_COLUMNS)
        self._notification_times = _times(notifications, NOTIFICATION_COLUMNS)
        self._notification_json = NOTIFICATION_COLUMNS.index("payload")
        if self.sqlite:
            self._insert_pings = _sqlite_insert(pings, PING_COLUMNS)
            self._update_ping_monitors = _sqlite_update(PINGED_MONITOR_COLUMNS)
            self._update_deadlines = _sqlite_update(DEADLINE_COLUMNS)
            self._insert_flips = _sqlite_insert(flips, FLIP_COLUMNS)
            self._insert_notifications = _sqlite_insert(notifications, NOTIFICATION_COLUMNS)
        else:
            ping_insert = _pg_insert_from_arrays(pings, PING_COLUMNS)
            first = len(PING_COLUMNS) + 1  # the update's arrays follow the pings'
            update = _pg_update_from_arrays(PINGED_MONITOR_COLUMNS, first=first)
            # A data-modifying WITH runs exactly once whether or not the main statement
            # reads it: one statement, one round trip for the whole batch.
            self._write_ping_batch = f"WITH new_pings AS ({ping_insert}) {update}"
            self._update_deadlines = _pg_update_from_arrays(DEADLINE_COLUMNS)
            self._insert_flips = _pg_insert_from_arrays(flips, FLIP_COLUMNS, ordered=True)
            inserted = _pg_insert_from_arrays(
                notifications, NOTIFICATION_COLUMNS, ordered=True, returning=_NEW_PAIR
            )
            # The main statement reads the table as it was before the insert (a WITH's
            # changes are invisible to the rest of its statement): the rows it joins are
            # all older than the new ones.
            self._insert_notifications = (
                f"WITH inserted AS ({inserted}) SELECT n.id, o.id FROM inserted n "  # noqa: S608
                f"LEFT JOIN notifications o ON {_OLDER_PENDING}"
            )

    # --- reads

    def monitors_by_uuid(self, conn: Connection, uuids: Sequence[str]) -> list[MonitorRecord]:
        """The monitors with these uuids, in id order; locked on PostgreSQL."""
        return self._monitors(conn, self._by_uuid, list(uuids))

    def monitors_by_id(self, conn: Connection, ids: Sequence[int]) -> list[MonitorRecord]:
        """The monitors with these ids, in id order; locked on PostgreSQL."""
        return self._monitors(conn, self._by_id, list(ids))

    def monitors_due(self, conn: Connection, ids: Sequence[int]) -> list[DueMonitor]:
        """The monitors with these ids, in id order, locked on PostgreSQL; only what a
        deadline decision needs is decoded (``records`` decodes the rest)."""
        values = self._due_values
        due: list[DueMonitor] = []
        for row in self._rows_by(conn, self._due_by_id, list(ids)):
            (id_, uuid, state, period, grace, cron, zone, pinged, started, rid, deadline) = values(
                row
            )
            status = HeartbeatStatus(
                STATES[state], utc_from_db(pinged), utc_from_db(started), rid, utc_from_db(deadline)
            )
            due.append(DueMonitor(id_, uuid, status, schedule_of(period, grace, cron, zone), row))
        return due

    def records(self, due: Sequence[DueMonitor]) -> list[MonitorRecord]:
        """The whole records of monitors read by ``monitors_due``."""
        return [self._record(monitor.row, monitor.status) for monitor in due]

    def _monitors(self, conn: Connection, sql: str, keys: list[Any]) -> list[MonitorRecord]:
        return [self._record(row) for row in self._rows_by(conn, sql, keys)]

    def _rows_by(self, conn: Connection, sql: str, keys: list[Any]) -> Sequence[Any]:
        parameter: Any = json.dumps(keys) if self.sqlite else keys
        return conn.exec_driver_sql(sql, (parameter,)).all()

    def _record(self, row: Sequence[Any], status: HeartbeatStatus | None = None) -> MonitorRecord:
        values = list(self._record_values(row))
        for index in self._record_times if status is None else self._record_other_times:
            if values[index] is not None:
                values[index] = utc_from_db(values[index])
        return MonitorRecord.from_values(values, status=status)

    # --- writes

    def write_ping_batch(
        self,
        conn: Connection,
        ping_rows: Sequence[PingRow],
        monitor_rows: Sequence[PingedMonitorRow],
    ) -> None:
        """Insert pings and update their monitors."""
        if not ping_rows and not monitor_rows:
            return
        if self.sqlite:
            if ping_rows:
                conn.exec_driver_sql(self._insert_pings, self._rows(ping_rows, self._ping_times))
            if monitor_rows:
                rows = self._rows(monitor_rows, self._ping_monitor_times)
                conn.exec_driver_sql(self._update_ping_monitors, rows)
            return
        assert ping_rows and monitor_rows, "every stored ping updates its monitor"
        conn.exec_driver_sql(self._write_ping_batch, (*_arrays(ping_rows), *_arrays(monitor_rows)))

    def set_deadline_states(self, conn: Connection, rows: Sequence[DeadlineStateRow]) -> None:
        """Update the monitors' states and deadlines."""
        if not rows:
            return
        if self.sqlite:
            conn.exec_driver_sql(self._update_deadlines, self._rows(rows, self._deadline_times))
        else:
            conn.exec_driver_sql(self._update_deadlines, _arrays(rows))

    def insert_flips(self, conn: Connection, rows: Sequence[FlipRow]) -> list[int]:
        """Insert flips; return their ids in the same order."""
        return self._insert_returning(conn, flips, self._insert_flips, rows, self._flip_times)

    def insert_notifications(
        self, conn: Connection, rows: Sequence[NotificationRow]
    ) -> list[NewNotification]:
        """Insert outbox rows; return their ids in the same order, each with the
        notifications of its channel and monitor that were pending before the insert
        (read in the same statement on PostgreSQL, so a flip's alerts need no second
        round trip to learn whether they may leave at once)."""
        if not rows:
            return []
        index = self._notification_json
        texts = [_with_json_text(row, index) for row in rows]
        if self.sqlite:
            ids = _sqlite_insert_ids(
                conn,
                notifications,
                self._insert_notifications,
                self._rows(texts, self._notification_times),
            )
            older_than = ids[0] if ids else 0
            pairs = conn.exec_driver_sql(_OLDER_PENDING_SQLITE, (json.dumps(ids), older_than)).all()
        else:
            pairs = conn.exec_driver_sql(self._insert_notifications, _arrays(texts)).all()
            ids = sorted({int(row[0]) for row in pairs})
        if len(ids) != len(rows):
            raise RuntimeError(f"inserted {len(ids)} rows of {len(rows)}")
        older: dict[int, list[int]] = {}
        for new_id, older_id in pairs:
            if older_id is not None:
                older.setdefault(int(new_id), []).append(int(older_id))
        return [NewNotification(new_id, tuple(sorted(older.get(new_id, ())))) for new_id in ids]

    def _insert_returning(
        self,
        conn: Connection,
        table: Table,
        sql: str,
        rows: Sequence[tuple[Any, ...]],
        times: tuple[int, ...],
    ) -> list[int]:
        if not rows:
            return []
        if self.sqlite:
            ids = _sqlite_insert_ids(conn, table, sql, self._rows(rows, times))
        else:
            ids = sorted(int(row[0]) for row in conn.exec_driver_sql(sql, _arrays(rows)).all())
        if len(ids) != len(rows):
            raise RuntimeError(f"inserted {len(ids)} rows of {len(rows)}")
        return ids

    def _rows(
        self, rows: Sequence[tuple[Any, ...]], times: tuple[int, ...]
    ) -> list[tuple[Any, ...]]:
        """SQLite: the rows with their timestamps as SQLAlchemy's text."""
        texts = SqliteTimes()
        converted: list[tuple[Any, ...]] = []
        for row in rows:
            values = list(row)
            for index in times:
                values[index] = texts.text(values[index])
            converted.append(tuple(values))
        return converted


def _times(table: Table, names: Sequence[str]) -> tuple[int, ...]:
    """Positions in ``names`` of ``table``'s UTC timestamp columns."""
    return tuple(
        index for index, name in enumerate(names) if isinstance(table.c[name].type, UTCDateTime)
    )


# The older pending notifications of a new one (``n``) of the same channel and monitor
# (``o``): an index range of the partial index on pending pairs.
_NEW_PAIR = "id, channel_id, monitor_id"
_OLDER_PENDING = (
    "o.channel_id = n.channel_id AND o.monitor_id = n.monitor_id "
    "AND o.status = 'pending' AND o.id < n.id"
)
# SQLite: only rows from before the insert, as PostgreSQL's statement sees the table.
_OLDER_PENDING_SQLITE = (
    f"SELECT n.id, o.id FROM notifications n JOIN notifications o ON {_OLDER_PENDING} "  # noqa: S608
    "WHERE n.id IN (SELECT value FROM json_each(?)) AND o.id < ?"
)


def _arrays(rows: Sequence[tuple[Any, ...]]) -> tuple[list[Any], ...]:
    """Rows to one list per column (PostgreSQL's ``unnest`` parameters)."""
    return tuple(list(column) for column in zip(*rows, strict=True))


def _with_json_text(row: tuple[Any, ...], index: int) -> tuple[Any, ...]:
    return (*row[:index], json.dumps(row[index]), *row[index + 1 :])


def _sqlite_insert_ids(
    conn: Connection, table: Table, sql: str, rows: list[tuple[Any, ...]]
) -> list[int]:
    """Insert ``rows`` with one ``executemany``; their new ids, in order.

    This transaction holds SQLite's write lock, so the rows above the largest id before
    the insert are exactly the ones it inserted.
    """
    last = f"SELECT coalesce(max(id), 0) FROM {table.name}"  # noqa: S608
    before = conn.exec_driver_sql(last).scalar_one()
    conn.exec_driver_sql(sql, rows)
    added = f"SELECT id FROM {table.name} WHERE id > ? ORDER BY id"  # noqa: S608
    return [int(row[0]) for row in conn.exec_driver_sql(added, (before,)).all()]


def _quote(name: str) -> str:
    # Every column name is a plain identifier; "desc" is also a keyword, so quote all.
    return f'"{name}"'


def _select_monitors(sqlite: bool, key: str, pg_type: str, *, json_as_text: bool = False) -> str:
    """Whole monitor rows by a list of keys, in id order; ``json_as_text``: JSON columns
    as their text on PostgreSQL too (as SQLite returns them), left for ``_record`` to
    decode."""
    selected = ", ".join(
        f"{_quote(column.name)}::text AS {_quote(column.name)}"
        if json_as_text and not sqlite and isinstance(column.type, JSON)
        else _quote(column.name)
        for column in monitors.columns
    )
    if sqlite:
        # One parameter, a JSON array, whatever the number of keys: the text never
        # changes, so SQLite's statement cache always hits.
        where, lock = f"{key} IN (SELECT value FROM json_each(?))", ""  # noqa: S608
    else:
        # Locked in id order, so concurrent transactions never deadlock on each other.
        where, lock = f"{key} = ANY($1::{pg_type}[])", " FOR UPDATE"
    return f"SELECT {selected} FROM monitors WHERE {where} ORDER BY id{lock}"  # noqa: S608


def _sqlite_insert(table: Table, names: Sequence[str]) -> str:
    columns = ", ".join(_quote(name) for name in names)
    marks = ", ".join("?" for _ in names)
    return f"INSERT INTO {table.name} ({columns}) VALUES ({marks})"  # noqa: S608


def _sqlite_update(names: Sequence[str]) -> str:
    """``UPDATE monitors`` of ``names``, the last of which is the ``id`` that finds the row."""
    *changed, key = names
    assert key == "id"
    assignments = ", ".join(f"{_quote(name)} = ?" for name in changed)
    return f"UPDATE monitors SET {assignments} WHERE id = ?"  # noqa: S608


def _pg_arrays(table: Table, names: Sequence[str], first: int = 1) -> str:
    """``$first::type[], ...``: one array parameter per column."""
    return ", ".join(
        f"${i}::{_pg_array_type(table.c[name])}[]" for i, name in enumerate(names, start=first)
    )


def _pg_insert_from_arrays(
    table: Table, names: Sequence[str], *, ordered: bool = False, returning: str = "id"
) -> str:
    """``INSERT ... SELECT FROM unnest($1, ...)``, one array per column of ``names``;
    ``ordered``: in the arrays' order, returning the columns ``returning``."""
    aliases = ", ".join(_quote(name) for name in names)
    selected = ", ".join(
        f"u.{_quote(name)}::json" if isinstance(table.c[name].type, JSON) else f"u.{_quote(name)}"
        for name in names
    )
    source = f"unnest({_pg_arrays(table, names)})"
    if ordered:
        source += f" WITH ORDINALITY AS u({aliases}, ord)"
        tail = f" ORDER BY u.ord RETURNING {returning}"
    else:
        source += f" AS u({aliases})"
        tail = ""
    return f"INSERT INTO {table.name} ({aliases}) SELECT {selected} FROM {source}{tail}"  # noqa: S608


def _pg_update_from_arrays(names: Sequence[str], *, first: int = 1) -> str:
    """``UPDATE monitors ... FROM unnest($first, ...)`` of ``names``, the last of which is
    the ``id`` that finds the row."""
    *changed, key = names
    assert key == "id"
    aliases = ", ".join(_quote(name) for name in names)
    assignments = ", ".join(f"{_quote(name)} = u.{_quote(name)}" for name in changed)
    return (
        f"UPDATE monitors SET {assignments} "  # noqa: S608
        f"FROM unnest({_pg_arrays(monitors, names, first)}) AS u({aliases}) "
        "WHERE monitors.id = u.id"
    )
