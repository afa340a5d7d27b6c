"""peer answers: a node keeps its answer to a peer's request that used something up (a
look-up with a single-use code) until the request expires, so a resend gets the same
answer

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 21:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import registry.database

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "peer_answer",
        sa.Column("caller", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("jti", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("purpose", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("expires_at", registry.database.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("caller", "jti"),
    )
    op.create_index("ix_peer_answer_expires_at", "peer_answer", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_peer_answer_expires_at", table_name="peer_answer")
    op.drop_table("peer_answer")
