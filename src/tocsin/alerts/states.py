"""Notification states."""

from __future__ import annotations

from enum import StrEnum


class NotificationStatus(StrEnum):
    """``pending`` until delivered, or ``failed`` for good after a permanent error or the
    last retry."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


# How long a claimed notification belongs to the process that claimed it; a process that
# dies mid-send leaves a claim that expires after this, and the alert is sent again.
CLAIM_SECONDS = 60.0
