"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from tocsin.server.storage.types import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("scope", sa.String(length=10), nullable=False),
        sa.Column("secret_hash", sa.String(length=128), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_id", name=op.f("uq_api_keys_key_id")),
    )
    op.create_table(
        "projects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("ping_key", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_projects")),
        sa.UniqueConstraint("name", name=op.f("uq_projects_name")),
        sa.UniqueConstraint("ping_key", name=op.f("uq_projects_ping_key")),
    )
    op.create_table(
        "channels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("managed_by", sa.String(length=20), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_channels_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channels")),
        sa.UniqueConstraint("project_id", "name", name=op.f("uq_channels_project_id_name")),
        sa.UniqueConstraint("uuid", name=op.f("uq_channels_uuid")),
    )
    op.create_table(
        "monitors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("slug", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("desc", sa.Text(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("period_seconds", sa.Float(), nullable=True),
        sa.Column("grace_seconds", sa.Float(), nullable=False),
        sa.Column("cron", sa.String(length=200), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("last_ping_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_start_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_start_rid", sa.String(length=36), nullable=True),
        sa.Column("last_duration_seconds", sa.Float(), nullable=True),
        sa.Column("next_deadline", UTCDateTime(timezone=True), nullable=True),
        sa.Column("n_pings", sa.BigInteger(), nullable=False),
        sa.Column("managed_by", sa.String(length=20), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_monitors_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitors")),
        sa.UniqueConstraint("project_id", "name", name=op.f("uq_monitors_project_id_name")),
        sa.UniqueConstraint("uuid", name=op.f("uq_monitors_uuid")),
    )
    with op.batch_alter_table("monitors", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_monitors_next_deadline"), ["next_deadline"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_monitors_slug"), ["slug"], unique=False)

    op.create_table(
        "flips",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("monitor_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("old_state", sa.String(length=20), nullable=False),
        sa.Column("new_state", sa.String(length=20), nullable=False),
        sa.Column("cause", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["monitor_id"],
            ["monitors.id"],
            name=op.f("fk_flips_monitor_id_monitors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flips")),
    )
    with op.batch_alter_table("flips", schema=None) as batch_op:
        batch_op.create_index(
            "ix_flips_monitor_id_created_at", ["monitor_id", "created_at"], unique=False
        )

    op.create_table(
        "monitor_channels",
        sa.Column("monitor_id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["channels.id"],
            name=op.f("fk_monitor_channels_channel_id_channels"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["monitor_id"],
            ["monitors.id"],
            name=op.f("fk_monitor_channels_monitor_id_monitors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("monitor_id", "channel_id", name=op.f("pk_monitor_channels")),
    )
    op.create_table(
        "pings",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("monitor_id", sa.Integer(), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("exit_status", sa.SmallInteger(), nullable=True),
        sa.Column("rid", sa.String(length=36), nullable=True),
        sa.Column("duration_seconds", sa.Float(), nullable=True),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("scheme", sa.String(length=10), nullable=False),
        sa.Column("remote_addr", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=200), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("body_size", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["monitor_id"],
            ["monitors.id"],
            name=op.f("fk_pings_monitor_id_monitors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pings")),
    )
    with op.batch_alter_table("pings", schema=None) as batch_op:
        batch_op.create_index("ix_pings_monitor_id_n", ["monitor_id", "n"], unique=False)

    op.create_table(
        "notifications",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("monitor_id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("flip_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("claimed_until", UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["channels.id"],
            name=op.f("fk_notifications_channel_id_channels"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["flip_id"],
            ["flips.id"],
            name=op.f("fk_notifications_flip_id_flips"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["monitor_id"],
            ["monitors.id"],
            name=op.f("fk_notifications_monitor_id_monitors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_notifications_idempotency_key")),
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_notifications_next_attempt_at"), ["next_attempt_at"], unique=False
        )

    projects = sa.table(
        "projects",
        sa.column("name", sa.String),
        sa.column("ping_key", sa.String),
        sa.column("created_at", UTCDateTime),
    )
    op.bulk_insert(
        projects,
        [
            {
                "name": "default",
                "ping_key": secrets.token_urlsafe(16),
                "created_at": datetime.now(UTC),
            }
        ],
    )


def downgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notifications_next_attempt_at"))

    op.drop_table("notifications")
    with op.batch_alter_table("pings", schema=None) as batch_op:
        batch_op.drop_index("ix_pings_monitor_id_n")

    op.drop_table("pings")
    op.drop_table("monitor_channels")
    with op.batch_alter_table("flips", schema=None) as batch_op:
        batch_op.drop_index("ix_flips_monitor_id_created_at")

    op.drop_table("flips")
    with op.batch_alter_table("monitors", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_monitors_slug"))
        batch_op.drop_index(batch_op.f("ix_monitors_next_deadline"))

    op.drop_table("monitors")
    op.drop_table("channels")
    op.drop_table("projects")
    op.drop_table("api_keys")
