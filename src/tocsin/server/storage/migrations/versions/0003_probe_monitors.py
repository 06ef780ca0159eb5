"""probe monitors: http/app/tcp settings and state on monitors, raw results (compact, with
their shared labels), component states and hourly aggregates

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tocsin.server.storage.types import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _monitor_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["monitor_id"],
        ["monitors.id"],
        name=op.f(f"fk_{table}_monitor_id_monitors"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    with op.batch_alter_table("monitors", schema=None) as batch_op:
        batch_op.add_column(sa.Column("probe", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("interval_seconds", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("retry_interval_seconds", sa.Float(), nullable=True))
        batch_op.add_column(
            sa.Column("fail_streak", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("pass_streak", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("last_result_at", UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_verdict", sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column("lease_owner", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("lease_until", UTCDateTime(timezone=True), nullable=True))

    op.create_table(
        "probe_results",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("started_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("labels", sa.BigInteger(), nullable=True),
        sa.Column("cert_not_after", UTCDateTime(timezone=True), nullable=True),
        sa.Column("monitor_id", sa.Integer(), nullable=False),
        sa.Column("late_ms", sa.Integer(), nullable=False),
        sa.Column("total_ms", sa.REAL(), nullable=True),
        sa.Column("dns_ms", sa.REAL(), nullable=True),
        sa.Column("connect_ms", sa.REAL(), nullable=True),
        sa.Column("tls_ms", sa.REAL(), nullable=True),
        sa.Column("first_byte_ms", sa.REAL(), nullable=True),
        sa.Column("status_code", sa.SmallInteger(), nullable=True),
        sa.Column("verdict", sa.String(length=10), nullable=False),
        sa.Column("failure", sa.String(length=20), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("outcomes", sa.JSON(), nullable=True),
        sa.Column("components", sa.JSON(), nullable=True),
        _monitor_fk("probe_results"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_probe_results")),
    )
    with op.batch_alter_table("probe_results", schema=None) as batch_op:
        batch_op.create_index(
            "ix_probe_results_monitor_id_started_at",
            ["monitor_id", "started_at"],
            unique=False,
        )

    op.create_table(
        "result_labels",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_result_labels")),
    )

    op.create_table(
        "component_states",
        sa.Column("monitor_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("value", sa.JSON(), nullable=True),
        sa.Column("unit", sa.String(length=40), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("changed_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        _monitor_fk("component_states"),
        sa.PrimaryKeyConstraint("monitor_id", "key", name=op.f("pk_component_states")),
    )

    op.create_table(
        "result_hours",
        sa.Column("monitor_id", sa.Integer(), nullable=False),
        sa.Column("component_key", sa.String(length=200), nullable=False),
        sa.Column("hour", UTCDateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("warnings", sa.Integer(), nullable=False),
        sa.Column("latency_p50", sa.Float(), nullable=True),
        sa.Column("latency_p95", sa.Float(), nullable=True),
        sa.Column("latency_max", sa.Float(), nullable=True),
        sa.Column("value_min", sa.Float(), nullable=True),
        sa.Column("value_max", sa.Float(), nullable=True),
        sa.Column("value_last", sa.Float(), nullable=True),
        _monitor_fk("result_hours"),
        sa.PrimaryKeyConstraint(
            "monitor_id", "component_key", "hour", name=op.f("pk_result_hours")
        ),
    )


def downgrade() -> None:
    op.drop_table("result_hours")
    op.drop_table("component_states")
    op.drop_table("result_labels")
    op.drop_table("probe_results")
    with op.batch_alter_table("monitors", schema=None) as batch_op:
        for column in (
            "lease_until",
            "lease_owner",
            "last_verdict",
            "last_result_at",
            "pass_streak",
            "fail_streak",
            "retry_interval_seconds",
            "interval_seconds",
            "probe",
        ):
            batch_op.drop_column(column)
