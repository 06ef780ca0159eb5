"""Driver-level statements for the alert-policy path (``outbox.insert_alerts`` and the
policy watch), in the style of ``hot_sql``.

Every flip into or out of ``down`` reads its monitors' alert states, channels, holds,
recent flips and parents, and writes incidents and alert states, inside the flip's write
transaction. Through SQLAlchemy's compiled-statement path each of those statements cost
a few hundred microseconds of Python per flip (building, caching and processing), which
put the alert latency of 1,000 monitors going down together back above its floor. Here
each statement's text is fixed per dialect whatever the number of rows: a list of keys
travels as one parameter (a JSON array read with ``json_each`` on SQLite, an array
compared with ``= ANY`` on PostgreSQL), writes are one ``executemany`` on SQLite and one
``unnest`` statement on PostgreSQL. Values are stored exactly as SQLAlchemy stores them
(see ``hot_sql``), so every other reader of these tables is unaffected.

The SQL text is built only from fixed table and column names and placeholders; no value
ever enters it, hence the S608 exemptions below.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy.engine import Connection

from tocsin.server.storage.types import SqliteTimes, utc_from_db, utc_to_sqlite

_DOWN = "down"
_MAINTENANCE = "maintenance"
# ``states`` counts a monitor's recent changes up to this many: enough to tell a monitor
# that cannot be flapping (it takes at least two changes) from one that may be.
RECENT_FLIPS_COUNTED = 2


class StateRow(NamedTuple):
    """A monitor with its stored policy and notice log (both as JSON text: monitors share a
    few policies and, after a batch of flips, a few logs, which are then parsed once
    each), open incident (if any) with the
    children listed in it, and channel names; whether a hold of its project may apply to
    it at the time asked about, and how many of its changes into or out of ``down`` fall
    in the span asked about (at most ``RECENT_FLIPS_COUNTED``)."""

    monitor_id: int
    project_id: int
    name: str
    policy_json: str | None
    log_json: str | None
    incident_id: int | None
    opened_at: datetime | None
    cause: str | None
    channels: tuple[str, ...]
    children: tuple[str, ...]
    may_be_held: bool
    recent_flips: int


class ChannelRow(NamedTuple):
    """A channel of a project."""

    project_id: int
    name: str
    id: int
    kind: str
    settings: dict[str, Any]


class HoldRow(NamedTuple):
    """A silence or maintenance window not over yet."""

    kind: str
    monitor_id: int | None
    window: dict[str, Any] | None
    starts_at: datetime | None
    ends_at: datetime | None
    project_id: int


class ParentRow(NamedTuple):
    """A monitor named in a ``depends_on``: its state and its open incident."""

    project_id: int
    name: str
    state: str
    incident_id: int | None


class StateWrite(NamedTuple):
    """An ``alert_states`` row to insert or replace; ``log_json``: the log as JSON text."""

    monitor_id: int
    log_json: str
    incident_id: int | None
    wake_at: datetime | None


class IncidentOpen(NamedTuple):
    """An ``incidents`` row to open."""

    monitor_id: int
    opened_at: datetime
    cause: str


class IncidentResolve(NamedTuple):
    """An open incident to resolve."""

    id: int
    resolved_at: datetime
    resolve_cause: str


class ChildRecord(NamedTuple):
    """A monitor that went down while held by the parent whose incident this is."""

    incident_id: int
    monitor_id: int
    added_at: datetime


@functools.cache
def _statements(dialect_name: str) -> PolicyStatements:
    return PolicyStatements(dialect_name == "sqlite")


def policy_sql(conn: Connection) -> PolicyStatements:
    """The statements for ``conn``'s database (built once per process and dialect)."""
    return _statements(conn.dialect.name)


def _json(value: Any) -> Any:
    """A JSON column's value: SQLite hands back text, asyncpg already decoded it."""
    return json.loads(value) if isinstance(value, str) else value


class PolicyStatements:
    """The alert-policy statements for one dialect."""

    def __init__(self, sqlite: bool) -> None:
        self.sqlite = sqlite
        any_ = self._any
        p = self._param
        # One row per monitor carries all a flip needs to know before deciding, so the
        # holds and flips are read at all only for monitors they may apply to.
        names = self._names(
            "SELECT c.name FROM monitor_channels mc JOIN channels c ON c.id = mc.channel_id "
            "WHERE mc.monitor_id = m.id ORDER BY c.id"
        )
        children = self._names(
            "SELECT cm.name FROM incident_children ic JOIN monitors cm ON cm.id = ic.monitor_id "
            "WHERE ic.incident_id = i.id ORDER BY ic.added_at, cm.name"
        )
        # As text on PostgreSQL too, so equal values are parsed once (see ``states``).
        policy, log = (
            ("m.alert_policy", "s.log") if sqlite else ("m.alert_policy::text", "s.log::text")
        )
        self._states = (
            f"SELECT m.id, m.project_id, m.name, {policy}, {log}, "  # noqa: S608
            f"i.id, i.opened_at, i.cause, {names}, {children}, "
            "EXISTS (SELECT 1 FROM holds h WHERE h.project_id = m.project_id "
            f"AND (h.ends_at IS NULL OR h.ends_at > {p(1)}) "
            f"AND (h.kind = '{_MAINTENANCE}' OR h.monitor_id = m.id)), "
            "(SELECT count(*) FROM (SELECT 1 FROM flips f WHERE f.monitor_id = m.id "
            f"AND f.created_at > {p(2)} AND f.created_at <= {p(3)} "
            f"AND (f.new_state = '{_DOWN}' OR f.old_state = '{_DOWN}') "
            f"LIMIT {RECENT_FLIPS_COUNTED}) AS recent) "
            "FROM monitors m LEFT JOIN alert_states s ON s.monitor_id = m.id "
            "LEFT JOIN incidents i ON i.id = s.incident_id AND i.resolved_at IS NULL "
            f"WHERE {any_('m.id', 4, 'int4')}"
        )
        self._channels = (
            "SELECT project_id, name, id, kind, settings FROM channels "  # noqa: S608
            f"WHERE {any_('project_id', 1, 'int4')}"
        )
        self._holds = (
            'SELECT kind, monitor_id, "window", starts_at, ends_at, project_id FROM holds '  # noqa: S608
            f"WHERE {any_('project_id', 1, 'int4')} "
            f"AND (ends_at IS NULL OR ends_at > {p(2)}) "
            f"AND (kind = '{_MAINTENANCE}' OR {any_('monitor_id', 3, 'int4')})"
        )
        self._flip_times = (
            "SELECT monitor_id, created_at FROM flips "  # noqa: S608
            f"WHERE {any_('monitor_id', 1, 'int4')} "
            f"AND created_at > {p(2)} AND created_at <= {p(3)} "
            f"AND (new_state = '{_DOWN}' OR old_state = '{_DOWN}') "
            "ORDER BY monitor_id, created_at"
        )
        self._parents = (
            "SELECT m.project_id, m.name, m.state, i.id FROM monitors m "  # noqa: S608
            "LEFT JOIN alert_states s ON s.monitor_id = m.id "
            "LEFT JOIN incidents i ON i.id = s.incident_id AND i.resolved_at IS NULL "
            f"WHERE {any_('m.project_id', 1, 'int4')} AND {any_('m.name', 2, 'varchar')}"
        )
        # Only monitors whose policy names at least one parent; the names are matched here.
        first_parent = (
            "json_extract(alert_policy, '$.depends_on[0]')"
            if sqlite
            else "alert_policy -> 'depends_on' ->> 0"
        )
        self._dependents = (
            "SELECT id, project_id, alert_policy FROM monitors "  # noqa: S608
            f"WHERE {any_('project_id', 1, 'int4')} AND {first_parent} IS NOT NULL"
        )
        self._wake_now = (
            f"UPDATE alert_states SET wake_at = {p(1)} "  # noqa: S608
            f"WHERE {any_('monitor_id', 2, 'int4')} RETURNING monitor_id"
        )
        self._children = (
            "SELECT c.incident_id, m.name FROM incident_children c "  # noqa: S608
            "JOIN monitors m ON m.id = c.monitor_id "
            f"WHERE {any_('c.incident_id', 1, 'int8')} "
            "ORDER BY c.incident_id, c.added_at, m.name"
        )
        if sqlite:
            self._open_incidents = (
                "INSERT INTO incidents (monitor_id, opened_at, cause) "
                "SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), "
                "json_extract(value, '$[2]') FROM json_each(?) ORDER BY key RETURNING id"
            )
            self._resolve = (
                "UPDATE incidents SET resolved_at = ?, resolve_cause = ? "
                "WHERE id = ? AND resolved_at IS NULL"
            )
            self._save_states = (
                "INSERT INTO alert_states (monitor_id, log, incident_id, wake_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (monitor_id) DO UPDATE SET "
                "log = excluded.log, incident_id = excluded.incident_id, "
                "wake_at = excluded.wake_at"
            )
            self._add_children = (
                "INSERT INTO incident_children (incident_id, monitor_id, added_at) "
                "VALUES (?, ?, ?) ON CONFLICT DO NOTHING"
            )
        else:
            self._open_incidents = (
                "INSERT INTO incidents (monitor_id, opened_at, cause) "
                "SELECT u.monitor_id, u.opened_at, u.cause "
                "FROM unnest($1::int4[], $2::timestamptz[], $3::text[]) "
                "WITH ORDINALITY AS u(monitor_id, opened_at, cause, ord) "
                "ORDER BY u.ord RETURNING id"
            )
            self._resolve = (
                "UPDATE incidents SET resolved_at = u.resolved_at, resolve_cause = u.cause "
                "FROM unnest($1::int8[], $2::timestamptz[], $3::text[]) "
                "AS u(id, resolved_at, cause) "
                "WHERE incidents.id = u.id AND incidents.resolved_at IS NULL"
            )
            self._save_states = (
                "INSERT INTO alert_states (monitor_id, log, incident_id, wake_at) "
                "SELECT u.monitor_id, u.log::json, u.incident_id, u.wake_at "
                "FROM unnest($1::int4[], $2::text[], $3::int8[], $4::timestamptz[]) "
                "AS u(monitor_id, log, incident_id, wake_at) "
                "ON CONFLICT (monitor_id) DO UPDATE SET "
                "log = EXCLUDED.log, incident_id = EXCLUDED.incident_id, "
                "wake_at = EXCLUDED.wake_at"
            )
            self._add_children = (
                "INSERT INTO incident_children (incident_id, monitor_id, added_at) "
                "SELECT * FROM unnest($1::int8[], $2::int4[], $3::timestamptz[]) "
                "ON CONFLICT DO NOTHING"
            )

    # --- placeholders and values

    def _names(self, query: str) -> str:
        """The names ``query`` selects (in its order) as one array value."""
        if self.sqlite:
            return f"(SELECT json_group_array(name) FROM ({query}))"  # noqa: S608
        return f"ARRAY({query})"

    def _param(self, index: int) -> str:
        return "?" if self.sqlite else f"${index}"

    def _any(self, column: str, index: int, pg_type: str) -> str:
        """``column`` is one of a list given as one parameter: the text never changes with
        the list's length, so both databases' statement caches always hit."""
        if self.sqlite:
            return f"{column} IN (SELECT value FROM json_each(?))"  # noqa: S608
        return f"{column} = ANY(${index}::{pg_type}[])"

    def _list(self, values: Collection[Any]) -> Any:
        return json.dumps(list(values)) if self.sqlite else list(values)

    def _time(self, value: datetime | None) -> Any:
        return utc_to_sqlite(value) if self.sqlite else value

    def _names_of(self, value: Any, seen: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
        """A names array as a tuple; SQLite's JSON text parsed once per distinct text
        (the monitors of a batch mostly share their channels, and have no children)."""
        if not isinstance(value, str):
            return tuple(value or ())
        names = seen.get(value)
        if names is None:
            names = seen[value] = tuple(json.loads(value))
        return names

    # --- reads

    def states(
        self,
        conn: Connection,
        monitor_ids: Collection[int],
        now: datetime,
        flips_since: datetime,
    ) -> list[StateRow]:
        """The monitors with these ids, with their alert state, open incident, channel
        names, whether a hold may apply at ``now`` and their changes in
        ``(flips_since, now]``."""
        parameters = (
            self._time(now),
            self._time(flips_since),
            self._time(now),
            self._list(monitor_ids),
        )
        seen: dict[str, tuple[str, ...]] = {}
        return [
            StateRow(
                monitor_id,
                project_id,
                name,
                policy,
                log,
                incident_id,
                utc_from_db(opened_at),
                cause,
                self._names_of(names, seen),
                self._names_of(children, seen),
                bool(held),
                int(recent),
            )
            for (
                monitor_id,
                project_id,
                name,
                policy,
                log,
                incident_id,
                opened_at,
                cause,
                names,
                children,
                held,
                recent,
            ) in conn.exec_driver_sql(self._states, parameters).all()
        ]

    def channels(self, conn: Connection, project_ids: Collection[int]) -> list[ChannelRow]:
        """Every channel of these projects."""
        rows = conn.exec_driver_sql(self._channels, (self._list(project_ids),)).all()
        return [ChannelRow(p, name, i, kind, _json(value)) for p, name, i, kind, value in rows]

    def holds(
        self,
        conn: Connection,
        project_ids: Collection[int],
        monitor_ids: Collection[int],
        now: datetime,
    ) -> list[HoldRow]:
        """These projects' maintenance windows and these monitors' silences not over by
        ``now``."""
        parameters = (self._list(project_ids), self._time(now), self._list(monitor_ids))
        return [
            HoldRow(kind, monitor_id, _json(window), utc_from_db(starts), utc_from_db(ends), p)
            for kind, monitor_id, window, starts, ends, p in conn.exec_driver_sql(
                self._holds, parameters
            ).all()
        ]

    def flip_times(
        self, conn: Connection, monitor_ids: Collection[int], after: datetime, until: datetime
    ) -> list[tuple[int, datetime]]:
        """``(monitor_id, at)`` of these monitors' changes into or out of ``down`` in
        ``(after, until]``, by monitor and time."""
        parameters = (self._list(monitor_ids), self._time(after), self._time(until))
        found: list[tuple[int, datetime]] = []
        for monitor_id, at in conn.exec_driver_sql(self._flip_times, parameters).all():
            moment = utc_from_db(at)
            assert moment is not None
            found.append((monitor_id, moment))
        return found

    def parents(
        self, conn: Connection, project_ids: Collection[int], names: Collection[str]
    ) -> list[ParentRow]:
        """The monitors of these projects with these names: state and open incident."""
        parameters = (self._list(project_ids), self._list(names))
        return [ParentRow(*row) for row in conn.exec_driver_sql(self._parents, parameters).all()]

    def dependents(
        self, conn: Connection, project_ids: Collection[int]
    ) -> list[tuple[int, int, dict[str, Any]]]:
        """``(id, project_id, policy)`` of these projects' monitors with a ``depends_on``."""
        rows = conn.exec_driver_sql(self._dependents, (self._list(project_ids),)).all()
        return [(monitor_id, project_id, _json(policy)) for monitor_id, project_id, policy in rows]

    def children(self, conn: Connection, incident_ids: Collection[int]) -> list[tuple[int, str]]:
        """``(incident_id, child name)`` of these incidents, in the order they were added."""
        rows = conn.exec_driver_sql(self._children, (self._list(incident_ids),)).all()
        return [(incident_id, name) for incident_id, name in rows]

    # --- writes

    def open_incidents(self, conn: Connection, rows: Sequence[IncidentOpen]) -> list[int]:
        """Insert incidents; their ids, in the same order (ids are handed out in insertion
        order, so the n-th smallest belongs to the n-th row, as in ``hot_sql``)."""
        if not rows:
            return []
        if self.sqlite:
            texts = SqliteTimes()
            values = [(m, texts.text(at), cause) for m, at, cause in rows]
            parameter: tuple[Any, ...] = (json.dumps(values),)
        else:
            parameter = tuple(list(column) for column in zip(*rows, strict=True))
        ids = sorted(int(row[0]) for row in conn.exec_driver_sql(self._open_incidents, parameter))
        if len(ids) != len(rows):
            raise RuntimeError(f"opened {len(ids)} incidents of {len(rows)}")
        return ids

    def resolve_incidents(self, conn: Connection, rows: Sequence[IncidentResolve]) -> None:
        """Resolve each incident that is still open."""
        if not rows:
            return
        # Once resolved an incident stays so: the first resolution of one id wins.
        first = list({row.id: row for row in reversed(rows)}.values())
        if self.sqlite:
            texts = SqliteTimes()
            values = [(texts.text(at), cause, i) for i, at, cause in first]
            conn.exec_driver_sql(self._resolve, values)
        else:
            conn.exec_driver_sql(self._resolve, tuple(list(c) for c in zip(*first, strict=True)))

    def save_states(self, conn: Connection, rows: Sequence[StateWrite]) -> None:
        """Insert or replace alert states (the last row of a monitor wins)."""
        if not rows:
            return
        last = list({row.monitor_id: row for row in rows}.values())
        if self.sqlite:
            texts = SqliteTimes()
            values = [(m, log, i, texts.text(at)) for m, log, i, at in last]
            conn.exec_driver_sql(self._save_states, values)
        else:
            columns = (
                [row.monitor_id for row in last],
                [row.log_json for row in last],
                [row.incident_id for row in last],
                [row.wake_at for row in last],
            )
            conn.exec_driver_sql(self._save_states, columns)

    def wake_now(self, conn: Connection, monitor_ids: Collection[int], now: datetime) -> list[int]:
        """Set these monitors' wake-up to ``now``; those that have an alert state."""
        parameters = (self._time(now), self._list(monitor_ids))
        return sorted(row[0] for row in conn.exec_driver_sql(self._wake_now, parameters))

    def add_children(self, conn: Connection, rows: Sequence[ChildRecord]) -> None:
        """Record children in their parents' incidents (once per incident and child)."""
        if not rows:
            return
        if self.sqlite:
            values = [(i, m, utc_to_sqlite(at)) for i, m, at in rows]
            conn.exec_driver_sql(self._add_children, values)
        else:
            columns = tuple(list(column) for column in zip(*rows, strict=True))
            conn.exec_driver_sql(self._add_children, columns)
