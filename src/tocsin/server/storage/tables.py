"""The schema, as SQLAlchemy Core tables. Alembic migrations must match it (a test checks)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from tocsin.server.storage.types import UTCDateTime

# BigInteger primary keys that still autoincrement on SQLite (which only does so for INTEGER).
BigId = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

projects = Table(
    "projects",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    # Ping keys appear in slug ping URLs, so they are kept readable, like the URLs themselves.
    Column("ping_key", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
)

monitors = Table(
    "monitors",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("uuid", String(36), nullable=False, unique=True),
    Column("project_id", ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("slug", String(100), nullable=False, index=True),
    Column("kind", String(20), nullable=False),
    Column("desc", Text, nullable=False, default=""),
    Column("tags", JSON, nullable=False, default=list),
    Column("period_seconds", Float, nullable=True),
    Column("grace_seconds", Float, nullable=False),
    Column("cron", String(200), nullable=True),
    Column("timezone", String(64), nullable=False, default="UTC"),
    Column("state", String(20), nullable=False),
    Column("last_ping_at", UTCDateTime, nullable=True),
    Column("last_start_at", UTCDateTime, nullable=True),
    Column("last_start_rid", String(36), nullable=True),
    Column("last_duration_seconds", Float, nullable=True),
    # When the state next changes by itself; the deadline watch scans this index.
    Column("next_deadline", UTCDateTime, nullable=True, index=True),
    Column("n_pings", BigInteger, nullable=False, default=0),
    Column("managed_by", String(20), nullable=False, default="api"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("project_id", "name"),
)

channels = Table(
    "channels",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("uuid", String(36), nullable=False, unique=True),
    Column("project_id", ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("settings", JSON, nullable=False),
    Column("managed_by", String(20), nullable=False, default="api"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("project_id", "name"),
)

monitor_channels = Table(
    "monitor_channels",
    metadata,
    Column("monitor_id", ForeignKey("monitors.id", ondelete="CASCADE"), primary_key=True),
    Column("channel_id", ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True),
)

pings = Table(
    "pings",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("monitor_id", ForeignKey("monitors.id", ondelete="CASCADE"), nullable=False),
    # Per-monitor sequence number; pruning keeps the newest N.
    Column("n", BigInteger, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("kind", String(10), nullable=False),
    Column("exit_status", SmallInteger, nullable=True),
    Column("rid", String(36), nullable=True),
    Column("duration_seconds", Float, nullable=True),
    Column("method", String(10), nullable=False),
    Column("scheme", String(10), nullable=False),
    Column("remote_addr", String(64), nullable=True),
    Column("user_agent", String(200), nullable=True),
    Column("body", Text, nullable=True),
    Column("body_size", Integer, nullable=False, default=0),
    Index("ix_pings_monitor_id_n", "monitor_id", "n"),
)

flips = Table(
    "flips",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("monitor_id", ForeignKey("monitors.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("old_state", String(20), nullable=False),
    Column("new_state", String(20), nullable=False),
    Column("cause", Text, nullable=False),
    Index("ix_flips_monitor_id_created_at", "monitor_id", "created_at"),
)

# The durable outbox: one row per alert per channel, written in the same transaction as
# the flip that raised it, so a crash between "monitor went down" and "alert sent" loses
# nothing.
notifications = Table(
    "notifications",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("monitor_id", ForeignKey("monitors.id", ondelete="CASCADE"), nullable=False),
    Column("channel_id", ForeignKey("channels.id", ondelete="CASCADE"), nullable=False),
    Column("flip_id", ForeignKey("flips.id", ondelete="SET NULL"), nullable=True),
    Column("kind", String(10), nullable=False),
    Column("idempotency_key", String(64), nullable=False, unique=True),
    Column("payload", JSON, nullable=False),
    Column("status", String(12), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime, nullable=True, index=True),
    Column("claimed_until", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("delivered_at", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True),
    # The public half of the key, used to find the row; the secret half is only hashed.
    Column("key_id", String(32), nullable=False, unique=True),
    Column("name", String(100), nullable=False),
    Column("scope", String(10), nullable=False),
    Column("secret_hash", String(128), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_used_at", UTCDateTime, nullable=True),
    Column("revoked_at", UTCDateTime, nullable=True),
)
