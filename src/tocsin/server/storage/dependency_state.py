"""``depends_on`` for the alert path (synchronous, in the engines' write transactions,
through the driver-level statements of ``policy_sql``): which parents of a monitor are
down now (and their open incidents), and which monitors depend on a parent."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy.engine import Connection

from tocsin.server.domain.dependencies import down_parents
from tocsin.server.domain.states import MonitorState
from tocsin.server.storage.policy_sql import policy_sql
from tocsin.server.storage.policy_state import AlertState


@dataclass(frozen=True)
class ParentsDown:
    """For each monitor with a parent down, those parents' names; and the open incident of
    each of those parents by ``(project_id, name)`` (absent when it has none)."""

    names: dict[int, tuple[str, ...]] = field(default_factory=dict)
    incidents: dict[tuple[int, str], int] = field(default_factory=dict)


def parents_down(conn: Connection, states: Mapping[int, AlertState]) -> dict[int, tuple[str, ...]]:
    """For each monitor among ``states`` with a parent down now, those parents (one query,
    none when no monitor has ``depends_on``)."""
    return down_parents_of(conn, states).names


def down_parents_of(conn: Connection, states: Mapping[int, AlertState]) -> ParentsDown:
    """The parents down now of the monitors among ``states``, with their open incidents
    (one query, none when no monitor has ``depends_on``)."""
    wanted = {(s.project_id, name) for s in states.values() for name in s.policy.depends_on}
    if not wanted:
        return ParentsDown()
    rows = policy_sql(conn).parents(
        conn, sorted({project for project, _ in wanted}), sorted({name for _, name in wanted})
    )
    by_project: dict[int, dict[str, MonitorState]] = {}
    incidents: dict[tuple[int, str], int] = {}
    for row in rows:
        by_project.setdefault(row.project_id, {})[row.name] = MonitorState(row.state)
        if row.incident_id is not None and row.state == MonitorState.DOWN.value:
            incidents[(row.project_id, row.name)] = row.incident_id
    found: dict[int, tuple[str, ...]] = {}
    for monitor_id, state in states.items():
        down = down_parents(state.policy.depends_on, by_project.get(state.project_id, {}))
        if down:
            found[monitor_id] = down
    return ParentsDown(found, incidents)


def dependents_of(conn: Connection, parents: Iterable[tuple[int, str]]) -> list[int]:
    """The ids of monitors whose ``depends_on`` names one of ``(project_id, name)``.

    Only the monitors with a ``depends_on`` are read (the database tells them apart);
    their names are matched here. This runs only on recoveries.
    """
    wanted = set(parents)
    if not wanted:
        return []
    found = []
    rows = policy_sql(conn).dependents(conn, sorted({project for project, _ in wanted}))
    for monitor_id, project_id, policy in rows:
        names = (policy or {}).get("depends_on") or ()
        if any((project_id, name) in wanted for name in names):
            found.append(monitor_id)
    return sorted(found)
