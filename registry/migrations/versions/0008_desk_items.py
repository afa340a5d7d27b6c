"""desk items in the database: officers' checked batches and HR jobs, seen by every worker

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 17:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import registry.database

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "desk_item",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("owner", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("created_at", registry.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", registry.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_desk_item_kind_owner", "desk_item", ["kind", "owner", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_desk_item_kind_owner", table_name="desk_item")
    op.drop_table("desk_item")
