"""``depends_on`` for the alert path (synchronous, in the engines' write transactions):
which parents of a monitor are down now, and which monitors depend on a parent."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import select
from sqlalchemy.engine import Connection

from tocsin.server.domain.dependencies import down_parents
from tocsin.server.domain.states import MonitorState
from tocsin.server.storage.policy_state import AlertState
from tocsin.server.storage.tables import monitors


def parents_down(conn: Connection, states: Mapping[int, AlertState]) -> dict[int, tuple[str, ...]]:
    """For each monitor among ``states`` with a parent down now, those parents (one query,
    none when no monitor has ``depends_on``)."""
    wanted = {(s.project_id, name) for s in states.values() for name in s.policy.depends_on}
    if not wanted:
        return {}
    query = select(monitors.c.project_id, monitors.c.name, monitors.c.state).where(
        monitors.c.project_id.in_({project for project, _ in wanted}),
        monitors.c.name.in_({name for _, name in wanted}),
    )
    by_project: dict[int, dict[str, MonitorState]] = {}
    for project_id, name, state in conn.execute(query).all():
        by_project.setdefault(project_id, {})[name] = MonitorState(state)
    found: dict[int, tuple[str, ...]] = {}
    for monitor_id, state in states.items():
        down = down_parents(state.policy.depends_on, by_project.get(state.project_id, {}))
        if down:
            found[monitor_id] = down
    return found


def dependents_of(conn: Connection, parents: Iterable[tuple[int, str]]) -> list[int]:
    """The ids of monitors whose ``depends_on`` names one of ``(project_id, name)``.

    Policies are JSON, which the two databases query differently, so the project's
    monitors with a policy are read and filtered here; this runs only on recoveries.
    """
    wanted = set(parents)
    if not wanted:
        return []
    query = select(monitors.c.id, monitors.c.project_id, monitors.c.alert_policy).where(
        monitors.c.project_id.in_({project for project, _ in wanted}),
        monitors.c.alert_policy.is_not(None),
    )
    found = []
    for monitor_id, project_id, policy in conn.execute(query).all():
        names = (policy or {}).get("depends_on") or ()
        if any((project_id, name) in wanted for name in names):
            found.append(monitor_id)
    return sorted(found)
