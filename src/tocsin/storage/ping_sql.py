"""Driver-level statements for the ping writer's hot path.

Every ping batch runs the same three statements: read the batch's monitors, insert the
pings, update the monitors. Through SQLAlchemy's compiled-statement path each row pays
for parameter and result processing in Python, which was about half of the writer's
time at 5,000 pings/s. Here the SQL text is fixed per dialect (generated from the table
definitions, so it follows the schema), parameters are plain tuples and results are
converted by hand: a few C calls per value. Everything else uses SQLAlchemy Core.

Values are stored exactly as SQLAlchemy stores them, so both paths read each other's
rows: on SQLite a UTC timestamp is naive ISO text with microseconds and JSON is text;
on PostgreSQL asyncpg takes and returns aware datetimes and decodes JSON itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
)
from sqlalchemy.engine import Connection, Dialect

from tocsin.storage.records import MonitorRecord
from tocsin.storage.tables import monitors, pings
from tocsin.storage.types import UTCDateTime

# Column order of the tuples ``insert_pings`` takes.
PING_COLUMNS = (
    "monitor_id",
    "n",
    "created_at",
    "kind",
    "exit_status",
    "rid",
    "duration_seconds",
    "method",
    "scheme",
    "remote_addr",
    "user_agent",
    "body",
    "body_size",
)
# Column order of the tuples ``update_monitors`` takes; the monitor id comes last.
MONITOR_UPDATE_COLUMNS = (
    "state",
    "last_ping_at",
    "last_start_at",
    "last_start_rid",
    "next_deadline",
    "last_duration_seconds",
    "n_pings",
)


def _utc_columns(table: Table) -> frozenset[str]:
    return frozenset(c.name for c in table.columns if isinstance(c.type, UTCDateTime))


class PingStatements:
    """The hot-path statements for one dialect (``sqlite`` or ``postgresql``)."""

    def __init__(self, dialect: Dialect) -> None:
        self.sqlite = dialect.name == "sqlite"
        quote = dialect.identifier_preparer.quote
        self._monitor_columns = tuple(c.name for c in monitors.columns)
        self._monitor_times = _utc_columns(monitors)
        self._ping_times = tuple(PING_COLUMNS.index(name) for name in _utc_columns(pings))
        self._update_times = tuple(
            MONITOR_UPDATE_COLUMNS.index(name)
            for name in _utc_columns(monitors)
            if name in MONITOR_UPDATE_COLUMNS
        )
        # The statements are built only from our own table and column names (quoted) and
        # placeholders: no value ever enters the SQL text, hence the S608 exemptions.
        selected = ", ".join(quote(name) for name in self._monitor_columns)
        if self.sqlite:
            # One parameter, a JSON array, whatever the batch size: the statement text
            # never changes, so SQLite's statement cache always hits.
            where = "uuid IN (SELECT value FROM json_each(?))"
            self._select = f"SELECT {selected} FROM monitors WHERE {where} ORDER BY id"  # noqa: S608
        else:
            where = "uuid = ANY($1::varchar[])"
            # Locks in id order, so concurrent batches never deadlock on each other.
            self._select = f"SELECT {selected} FROM monitors WHERE {where} ORDER BY id FOR UPDATE"  # noqa: S608
        self._insert = "INSERT INTO pings ({}) VALUES ({})".format(  # noqa: S608
            ", ".join(quote(name) for name in PING_COLUMNS),
            ", ".join(self._placeholders(len(PING_COLUMNS))),
        )
        *marks, id_mark = self._placeholders(len(MONITOR_UPDATE_COLUMNS) + 1)
        assignments = ", ".join(
            f"{quote(name)} = {mark}"
            for name, mark in zip(MONITOR_UPDATE_COLUMNS, marks, strict=True)
        )
        self._update = f"UPDATE monitors SET {assignments} WHERE id = {id_mark}"  # noqa: S608

        self._write_arrays = _array_write_statement(quote) if not self.sqlite else ""

    def _placeholders(self, count: int) -> list[str]:
        return ["?"] * count if self.sqlite else [f"${i}" for i in range(1, count + 1)]

    def _to_db(self, value: datetime | None) -> Any:
        if value is None or not self.sqlite:
            return value
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use an aware UTC value")
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")

    def _from_db(self, value: Any) -> datetime | None:
        if value is None:
            return None
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value
        assert isinstance(moment, datetime)
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

    def monitors_by_uuid(self, conn: Connection, uuids: Sequence[str]) -> list[MonitorRecord]:
        """The monitors with these uuids, in id order; locked on PostgreSQL."""
        parameter: Any = json.dumps(list(uuids)) if self.sqlite else list(uuids)
        rows = conn.exec_driver_sql(self._select, (parameter,)).all()
        records: list[MonitorRecord] = []
        for row in rows:
            values = dict(zip(self._monitor_columns, row, strict=True))
            for name in self._monitor_times:
                values[name] = self._from_db(values[name])
            if isinstance(values["tags"], str):
                values["tags"] = json.loads(values["tags"])
            records.append(MonitorRecord.from_row(values))
        return records

    def write_batch(
        self,
        conn: Connection,
        ping_rows: list[tuple[Any, ...]],
        monitor_rows: list[tuple[Any, ...]],
    ) -> None:
        """Insert pings (``PING_COLUMNS`` tuples) and update their monitors
        (``MONITOR_UPDATE_COLUMNS`` tuples followed by the id).

        SQLite runs two ``executemany``; PostgreSQL one statement over column arrays, so
        the whole write is a single round trip.
        """
        if not ping_rows and not monitor_rows:
            return
        if self.sqlite:
            if ping_rows:
                conn.exec_driver_sql(self._insert, self._convert(ping_rows, self._ping_times))
            if monitor_rows:
                conn.exec_driver_sql(self._update, self._convert(monitor_rows, self._update_times))
            return
        assert ping_rows and monitor_rows, "every stored ping updates its monitor"
        columns = [list(values) for values in zip(*ping_rows, strict=True)]
        columns += [list(values) for values in zip(*monitor_rows, strict=True)]
        conn.exec_driver_sql(self._write_arrays, tuple(columns))

    def _convert(
        self, rows: list[tuple[Any, ...]], times: tuple[int, ...]
    ) -> list[tuple[Any, ...]]:
        if not self.sqlite:
            return rows
        converted: list[tuple[Any, ...]] = []
        for row in rows:
            values = list(row)
            for index in times:
                values[index] = self._to_db(values[index])
            converted.append(tuple(values))
        return converted


def _pg_array_type(column: Column[Any]) -> str:
    """The PostgreSQL element type for an array of ``column``'s values (no length limit:
    a cast to ``varchar(n)`` would truncate silently where an insert would fail)."""
    kind = column.type
    for sa_type, name in _PG_TYPES:
        if isinstance(kind, sa_type):
            return name
    raise TypeError(f"no array type for column {column.name} ({kind!r})")


_PG_TYPES: tuple[tuple[type[Any], str], ...] = (
    (UTCDateTime, "timestamptz"),
    (SmallInteger, "int2"),
    (BigInteger, "int8"),
    (Integer, "int4"),
    (Float, "float8"),
    (Text, "text"),
    (String, "varchar"),
)


def _array_write_statement(quote: Callable[[str], str]) -> str:
    """PostgreSQL: insert the pings and update the monitors from column arrays, at once."""
    n = 0

    def arrays(table: Table, names: Sequence[str]) -> str:
        nonlocal n
        casts = []
        for name in names:
            n += 1
            casts.append(f"${n}::{_pg_array_type(table.c[name])}[]")
        return ", ".join(casts)

    ping_names = ", ".join(quote(name) for name in PING_COLUMNS)
    ping_arrays = arrays(pings, PING_COLUMNS)
    update_names = (*MONITOR_UPDATE_COLUMNS, "id")
    update_arrays = arrays(monitors, update_names)
    aliases = ", ".join(quote(name) for name in update_names)
    assignments = ", ".join(f"{quote(name)} = u.{quote(name)}" for name in MONITOR_UPDATE_COLUMNS)
    # A data-modifying WITH runs exactly once whether or not the main statement reads it.
    return (
        f"WITH new_pings AS (INSERT INTO pings ({ping_names}) "  # noqa: S608
        f"SELECT * FROM unnest({ping_arrays})) "
        f"UPDATE monitors SET {assignments} "
        f"FROM unnest({update_arrays}) AS u({aliases}) WHERE monitors.id = u.id"
    )
