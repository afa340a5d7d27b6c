"""HR clerks: staff accounts of an HR client, who sign in to the HR desk with their own
name and password (the audit names the clerk)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 19:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("hr_client_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True)
        )
        batch_op.create_foreign_key(
            "fk_account_hr_client_id_hr_client", "hr_client", ["hr_client_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.drop_constraint("fk_account_hr_client_id_hr_client", type_="foreignkey")
        batch_op.drop_column("hr_client_id")
