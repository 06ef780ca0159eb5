"""Flapping for the alert path and the API: each monitor's flapping status from its
recent changes into and out of ``down`` (the ``flips`` table), ``now`` passed in."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.engine import Connection

from tocsin.server.domain.flapping import FlapPolicy, FlapStatus, flap_status
from tocsin.server.domain.states import MonitorState
from tocsin.server.storage.tables import flips

_DOWN = MonitorState.DOWN.value


def flap_statuses(
    conn: Connection, policies: Mapping[int, FlapPolicy], now: datetime
) -> dict[int, FlapStatus]:
    """The monitors among ``policies`` (by id) flapping at ``now``, with their status.

    Changes are read back two ``within`` spans: enough to tell whether a monitor is
    flapping and until when; ``since`` is then at most that far back.
    """
    if not policies:
        return {}
    horizon = now - 2 * max(policy.within for policy in policies.values())
    query = (
        select(flips.c.monitor_id, flips.c.created_at)
        .where(
            flips.c.monitor_id.in_(sorted(policies)),
            flips.c.created_at > horizon,
            flips.c.created_at <= now,
            or_(flips.c.new_state == _DOWN, flips.c.old_state == _DOWN),
        )
        .order_by(flips.c.monitor_id, flips.c.created_at)
    )
    times: dict[int, list[datetime]] = {}
    for monitor_id, at in conn.execute(query).all():
        times.setdefault(monitor_id, []).append(at)
    found: dict[int, FlapStatus] = {}
    for monitor_id, changes in times.items():
        policy = policies[monitor_id]
        recent = [at for at in changes if at > now - 2 * policy.within]
        status = flap_status(FlapStatus(), recent, now, policy)
        if status.flapping:
            found[monitor_id] = status
    return found
