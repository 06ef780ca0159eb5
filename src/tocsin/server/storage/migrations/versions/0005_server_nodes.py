"""server nodes sharing the probes, and when each probe lease was taken

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tocsin.server.storage.types import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "server_nodes",
        sa.Column("node", sa.String(length=64), nullable=False),
        sa.Column("started_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("seen_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("node", name=op.f("pk_server_nodes")),
    )
    op.create_index(op.f("ix_server_nodes_seen_at"), "server_nodes", ["seen_at"], unique=False)
    with op.batch_alter_table("monitors", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lease_since", UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("monitors", schema=None) as batch_op:
        batch_op.drop_column("lease_since")
    op.drop_index(op.f("ix_server_nodes_seen_at"), table_name="server_nodes")
    op.drop_table("server_nodes")
