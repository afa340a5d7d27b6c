"""verification codes: single-use or multi-use, last use, revocation by the holder

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-12 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import registry.database

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("verification_code", schema=None) as batch_op:
        batch_op.add_column(sa.Column("single_use", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("used_at", registry.database.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("revoked_at", registry.database.UTCDateTime(timezone=True), nullable=True)
        )
    # The default only fills the existing rows (codes made before: multi-use); new rows say it.
    with op.batch_alter_table("verification_code", schema=None) as batch_op:
        batch_op.alter_column("single_use", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("verification_code", schema=None) as batch_op:
        batch_op.drop_column("revoked_at")
        batch_op.drop_column("used_at")
        batch_op.drop_column("single_use")
