"""Notification states."""

from __future__ import annotations

from enum import StrEnum


class NotificationStatus(StrEnum):
    """``pending`` until delivered, or ``failed`` for good after a permanent error or the
    last retry."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"
