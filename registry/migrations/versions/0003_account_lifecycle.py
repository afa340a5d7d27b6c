"""account lifecycle: one-time passwords that must be changed, tokens cut off

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 09:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import registry.database

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("must_change_password", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("tokens_valid_from", registry.database.UTCDateTime(timezone=True), nullable=True)
        )
    # The default only fills the existing rows; new rows always say it.
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.alter_column("must_change_password", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.drop_column("tokens_valid_from")
        batch_op.drop_column("must_change_password")
