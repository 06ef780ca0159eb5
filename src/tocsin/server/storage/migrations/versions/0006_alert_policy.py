"""alert policy: incidents, what users were last told per monitor, silences and
maintenance windows, the policy on monitors, and alerts linked to their incident

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tocsin.server.storage.types import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("monitor_id", sa.Integer(), nullable=False),
        sa.Column("opened_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("cause", sa.Text(), nullable=False),
        sa.Column("resolve_cause", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["monitor_id"],
            ["monitors.id"],
            name=op.f("fk_incidents_monitor_id_monitors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
    )
    op.create_index(
        "ix_incidents_monitor_id_opened_at", "incidents", ["monitor_id", "opened_at"], unique=False
    )
    op.create_index(op.f("ix_incidents_resolved_at"), "incidents", ["resolved_at"], unique=False)
    op.create_table(
        "alert_states",
        sa.Column("monitor_id", sa.Integer(), nullable=False),
        sa.Column("log", sa.JSON(), nullable=False),
        sa.Column("incident_id", BIG_ID, nullable=True),
        sa.Column("wake_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["monitor_id"],
            ["monitors.id"],
            name=op.f("fk_alert_states_monitor_id_monitors"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_alert_states_incident_id_incidents"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("monitor_id", name=op.f("pk_alert_states")),
    )
    op.create_index(op.f("ix_alert_states_wake_at"), "alert_states", ["wake_at"], unique=False)
    op.create_table(
        "holds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=True),
        sa.Column("monitor_id", sa.Integer(), nullable=True),
        sa.Column("window", sa.JSON(), nullable=True),
        sa.Column("starts_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("ends_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("managed_by", sa.String(length=20), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["monitor_id"],
            ["monitors.id"],
            name=op.f("fk_holds_monitor_id_monitors"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_holds_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_holds")),
        sa.UniqueConstraint("uuid", name=op.f("uq_holds_uuid")),
    )
    op.create_index(op.f("ix_holds_ends_at"), "holds", ["ends_at"], unique=False)
    op.create_index("ix_holds_project_id_kind", "holds", ["project_id", "kind"], unique=False)
    with op.batch_alter_table("monitors", schema=None) as batch_op:
        batch_op.add_column(sa.Column("alert_policy", sa.JSON(), nullable=True))
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.alter_column(
            "kind",
            existing_type=sa.String(length=10),
            type_=sa.String(length=20),
            existing_nullable=False,
        )
        batch_op.add_column(sa.Column("incident_id", BIG_ID, nullable=True))
        batch_op.create_index("ix_notifications_incident_id", ["incident_id"], unique=False)
        batch_op.create_foreign_key(
            op.f("fk_notifications_incident_id_incidents"),
            "incidents",
            ["incident_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("fk_notifications_incident_id_incidents"), type_="foreignkey")
        batch_op.drop_index("ix_notifications_incident_id")
        batch_op.drop_column("incident_id")
        batch_op.alter_column(
            "kind",
            existing_type=sa.String(length=20),
            type_=sa.String(length=10),
            existing_nullable=False,
        )
    with op.batch_alter_table("monitors", schema=None) as batch_op:
        batch_op.drop_column("alert_policy")
    op.drop_index("ix_holds_project_id_kind", table_name="holds")
    op.drop_index(op.f("ix_holds_ends_at"), table_name="holds")
    op.drop_table("holds")
    op.drop_index(op.f("ix_alert_states_wake_at"), table_name="alert_states")
    op.drop_table("alert_states")
    op.drop_index(op.f("ix_incidents_resolved_at"), table_name="incidents")
    op.drop_index("ix_incidents_monitor_id_opened_at", table_name="incidents")
    op.drop_table("incidents")
