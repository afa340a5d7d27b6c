"""recognition withdrawals (撤回): a holder withdraws an application while it waits for
a decision; both ends keep when

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 03:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import registry.database

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("recognition_application", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("withdrawn_at", registry.database.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("recognition_application", schema=None) as batch_op:
        batch_op.drop_column("withdrawn_at")
