"""Flapping for the alert path and the API: each monitor's flapping status from its
recent changes into and out of ``down`` (the ``flips`` table, one driver-level query of
``policy_sql``), ``now`` passed in."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.engine import Connection

from tocsin.server.domain.flapping import FlapPolicy, FlapStatus, flap_status
from tocsin.server.storage.policy_sql import policy_sql


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
    times: dict[int, list[datetime]] = {}
    for monitor_id, at in policy_sql(conn).flip_times(conn, sorted(policies), horizon, now):
        times.setdefault(monitor_id, []).append(at)
    found: dict[int, FlapStatus] = {}
    for monitor_id, changes in times.items():
        policy = policies[monitor_id]
        recent = [at for at in changes if at > now - 2 * policy.within]
        status = flap_status(FlapStatus(), recent, now, policy)
        if status.flapping:
            found[monitor_id] = status
    return found
