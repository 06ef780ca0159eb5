"""The one shape of an alert handed to the delivery worker, however it was claimed.

Both ways an alert reaches the worker produce it: the outbox writer (a flip's
notifications, written already claimed by their process) and ``deliveries.claim_due``
(retries that fell due and alerts whose claim expired). It lives in storage because
storage builds it from rows and the engines above both pass it on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, kw_only=True)
class ClaimedAlert:
    """A notification this process owns and should send now, with its channel's sender
    settings. ``attempts`` counts the real sends so far, this one included.
    ``older_pending``: the older notifications of the same channel and monitor that were
    still pending when the outbox wrote this one (a claimed alert has none: only the
    oldest pending of a pair is ever claimed)."""

    id: int
    monitor_id: int
    channel_id: int
    kind: str
    settings: dict[str, Any]
    payload: dict[str, Any]
    idempotency_key: str
    attempts: int
    older_pending: tuple[int, ...] = ()

    @property
    def pair(self) -> tuple[int, int]:
        """``(channel_id, monitor_id)``: the alerts that must arrive in the order written."""
        return self.channel_id, self.monitor_id


__all__ = ["ClaimedAlert"]
