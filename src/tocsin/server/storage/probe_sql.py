"""Driver-level statements for the probe engine's hot paths: result batches and reloads.

The ping path's reasoning (``hot_sql``) holds here too: through SQLAlchemy's
compiled-statement path every row and every statement pays for parameter and result
processing in Python, which was about a third of the probe engine's CPU at 10,000
monitors. Each statement's text here is fixed per dialect, built from the table
definitions and the fields of the row tuples it takes (``hot_sql``'s builders), and
values are stored exactly as SQLAlchemy stores them, so both paths read each other's rows
(``tests/server/test_result_codec.py`` reads them back through SQLAlchemy).

A batch's monitors are read narrowly (``JudgedMonitor``: what confirmation needs) and
locked in id order on PostgreSQL, like the ping writer's; only a monitor that flips is
read in full, for its alert.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy.engine import Connection

from tocsin.server.domain.states import MonitorKind, MonitorState
from tocsin.server.storage.hot_sql import (
    _arrays,
    _pg_insert_from_arrays,
    _pg_update_from_arrays,
    _quote,
    _sqlite_insert,
    _sqlite_update,
    _times,
)
from tocsin.server.storage.tables import monitors, probe_results, result_labels
from tocsin.server.storage.types import utc_to_sqlite

PROBED_KINDS = tuple(kind.value for kind in MonitorKind if kind.probed)


class StoredResultRow(NamedTuple):
    """A ``probe_results`` row as stored (``result_codec.encode_result`` makes it)."""

    monitor_id: int
    started_at: datetime
    late_ms: int
    verdict: str
    failure: str | None
    error: str | None
    status_code: int | None
    total_ms: float | None
    dns_ms: float | None
    connect_ms: float | None
    tls_ms: float | None
    first_byte_ms: float | None
    cert_not_after: datetime | None
    labels: int | None
    outcomes: list[Any] | None
    components: list[Any] | None


class ProbedMonitorRow(NamedTuple):
    """What a result batch changes on a ``monitors`` row (the row is found by ``id``)."""

    state: str
    fail_streak: int
    pass_streak: int
    last_result_at: datetime
    last_verdict: str
    id: int


class JudgedMonitor(NamedTuple):
    """What judging a result needs of its monitor as stored now."""

    id: int
    kind: str
    state: str
    fail_streak: int
    pass_streak: int
    last_verdict: str | None


RESULT_COLUMNS = StoredResultRow._fields
STATE_COLUMNS = ProbedMonitorRow._fields
_JSON_COLUMNS = tuple(RESULT_COLUMNS.index(name) for name in ("outcomes", "components"))


@functools.cache
def probe_statements(dialect_name: str) -> ProbeStatements:
    """The statements for ``"sqlite"`` or ``"postgresql"``, built once per process."""
    return ProbeStatements(dialect_name)


def probe_statements_for(conn: Connection) -> ProbeStatements:
    """The statements for ``conn``'s database."""
    return probe_statements(conn.dialect.name)


class ProbeStatements:
    """The probe engine's hot statements for one dialect.

    The SQL text is built only from our own table and column names and placeholders; no
    value ever enters it, hence the S608 exemptions below.
    """

    def __init__(self, dialect_name: str) -> None:
        self.sqlite = dialect_name == "sqlite"
        self._result_times = _times(probe_results, RESULT_COLUMNS)
        self._state_times = _times(monitors, STATE_COLUMNS)
        kinds = ", ".join(f"'{kind}'" for kind in PROBED_KINDS)
        active = f"kind IN ({kinds}) AND state != '{MonitorState.PAUSED.value}'"
        judged = ", ".join(_quote(name) for name in JudgedMonitor._fields)
        if self.sqlite:
            self._insert_results = _sqlite_insert(probe_results, RESULT_COLUMNS)
            self._update_states = _sqlite_update(STATE_COLUMNS)
            self._insert_labels = (
                f"INSERT INTO {result_labels.name} (id, body) VALUES (?, ?) "  # noqa: S608
                "ON CONFLICT (id) DO NOTHING"
            )
            self._judged = (
                f"SELECT {judged} FROM monitors "  # noqa: S608
                "WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id"
            )
        else:
            self._insert_results = _pg_insert_from_arrays(probe_results, RESULT_COLUMNS)
            self._update_states = _pg_update_from_arrays(STATE_COLUMNS)
            self._insert_labels = (
                _pg_insert_from_arrays(result_labels, ("id", "body"))
                + " ON CONFLICT (id) DO NOTHING"
            )
            # Locked in id order, so concurrent transactions never deadlock on each other.
            self._judged = (
                f"SELECT {judged} FROM monitors "  # noqa: S608
                "WHERE id = ANY($1::int4[]) ORDER BY id FOR UPDATE"
            )
        # The reload's reads: the same filters on both dialects, only the placeholders differ
        # (SQLite's are positional, PostgreSQL's numbered).
        first, second = ("?", "?") if self.sqlite else ("$1", "$2")
        self._versions = f"SELECT id, updated_at FROM monitors WHERE {active}"  # noqa: S608
        self._leased_versions = f"{self._versions} AND lease_owner = {first}"
        self._count = f"SELECT count(*) FROM monitors WHERE {active}"  # noqa: S608
        self._leased_count = f"{self._count} AND lease_owner = {first}"
        self._changed = f"{self._versions} AND updated_at >= {first}"
        self._leased_changed = f"{self._leased_versions} AND updated_at >= {second}"

    # --- reads

    def judged_monitors(self, conn: Connection, ids: Sequence[int]) -> list[JudgedMonitor]:
        """The monitors with these ids, narrowly, in id order; locked on PostgreSQL."""
        parameter: Any = json.dumps(list(ids)) if self.sqlite else list(ids)
        return [JudgedMonitor(*row) for row in conn.exec_driver_sql(self._judged, (parameter,))]

    def versions(self, conn: Connection, owner: str | None) -> dict[int, Any]:
        """``id → updated_at`` of the active (not paused) probed monitors, as the driver
        returns it (only ever compared with itself); with ``owner``, only those whose
        lease it holds."""
        if owner is None:
            rows = conn.exec_driver_sql(self._versions)
        else:
            rows = conn.exec_driver_sql(self._leased_versions, (owner,))
        return dict(rows.all())

    def changed_versions(
        self, conn: Connection, owner: str | None, since: datetime
    ) -> tuple[int, dict[int, Any]]:
        """How many monitors ``versions`` would return, and ``id → updated_at`` of those
        of them updated at or after ``since``: a pass that reads two numbers and a few
        rows instead of every monitor's."""
        at: Any = utc_to_sqlite(since) if self.sqlite else since
        if owner is None:
            count = conn.exec_driver_sql(self._count).scalar_one()
            changed = conn.exec_driver_sql(self._changed, (at,))
        else:
            count = conn.exec_driver_sql(self._leased_count, (owner,)).scalar_one()
            changed = conn.exec_driver_sql(self._leased_changed, (owner, at))
        return int(count), dict(changed.all())

    # --- writes

    def insert_results(self, conn: Connection, rows: Sequence[StoredResultRow]) -> None:
        """Insert encoded results (one statement, whatever their number)."""
        if not rows:
            return
        if self.sqlite:
            conn.exec_driver_sql(
                self._insert_results, _converted(rows, self._result_times, _JSON_COLUMNS)
            )
        else:
            conn.exec_driver_sql(self._insert_results, _arrays(_converted(rows, (), _JSON_COLUMNS)))

    def insert_labels(self, conn: Connection, labels: dict[int, dict[str, Any]]) -> None:
        """Store the labels (``id → body``) not stored yet."""
        if not labels:
            return
        rows = [(key, json.dumps(body)) for key, body in sorted(labels.items())]
        if self.sqlite:
            conn.exec_driver_sql(self._insert_labels, rows)
        else:
            conn.exec_driver_sql(self._insert_labels, _arrays(rows))

    def set_states(self, conn: Connection, rows: Sequence[ProbedMonitorRow]) -> None:
        """Store the states, streaks and last results of a batch's monitors."""
        if not rows:
            return
        if self.sqlite:
            conn.exec_driver_sql(self._update_states, _converted(rows, self._state_times, ()))
        else:
            conn.exec_driver_sql(self._update_states, _arrays(rows))


def _converted(
    rows: Sequence[tuple[Any, ...]], times: tuple[int, ...], json_columns: tuple[int, ...]
) -> list[tuple[Any, ...]]:
    """The rows with the ``times`` columns as SQLite's text (SQLAlchemy's) and the
    ``json_columns`` as JSON text (SQL NULL stays NULL)."""
    converted: list[tuple[Any, ...]] = []
    for row in rows:
        values = list(row)
        for index in times:
            values[index] = utc_to_sqlite(values[index])
        for index in json_columns:
            if values[index] is not None:
                values[index] = json.dumps(values[index])
        converted.append(tuple(values))
    return converted
