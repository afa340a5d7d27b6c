"""recognition: versions of the policy by which this node recognises other provinces'
credentials as its own types, and holders' applications for recognition at both ends

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import registry.database

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recognition_policy",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("published_at", registry.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("published_by", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("rules", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("version"),
    )
    op.create_table(
        "recognition_application",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("side", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("peer_entity", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("peer_application_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("holder_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True),
        sa.Column("credential_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("certificate_number", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("holder_name", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("type_code", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("province", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False),
        sa.Column("statement", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("credential", sa.Text(), nullable=True),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("recognised_as", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("decision_reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("decided_at", registry.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True),
        sa.Column("recognition_credential", sa.Text(), nullable=True),
        sa.Column("created_at", registry.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("checked_at", registry.database.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["holder_id"], ["holder.id"], name="fk_recognition_application_holder_id_holder"
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "side", "peer_entity", "peer_application_id", name="uq_recognition_application_peer"
        ),
    )
    op.create_index("ix_recognition_application_side", "recognition_application", ["side"])
    op.create_index("ix_recognition_application_holder_id", "recognition_application", ["holder_id"])
    op.create_index("ix_recognition_application_state", "recognition_application", ["state"])


def downgrade() -> None:
    op.drop_index("ix_recognition_application_state", table_name="recognition_application")
    op.drop_index("ix_recognition_application_holder_id", table_name="recognition_application")
    op.drop_index("ix_recognition_application_side", table_name="recognition_application")
    op.drop_table("recognition_application")
    op.drop_table("recognition_policy")
