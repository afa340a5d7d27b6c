"""recognition disputes (异议): a holder disputes a refusal once, with a statement; the
receiving node decides again

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 21:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import registry.database

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("recognition_application", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("dispute_statement", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True)
        )
        batch_op.add_column(
            sa.Column("disputed_at", registry.database.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("recognition_application", schema=None) as batch_op:
        batch_op.drop_column("disputed_at")
        batch_op.drop_column("dispute_statement")
