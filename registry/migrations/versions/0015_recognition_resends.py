"""recognition resends: when an unconfirmed application, dispute or withdrawal was last
sent again as the holder looked (at most once per 30 seconds, however often they look)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 03:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import registry.database

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("recognition_application", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("resent_at", registry.database.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("recognition_application", schema=None) as batch_op:
        batch_op.drop_column("resent_at")
