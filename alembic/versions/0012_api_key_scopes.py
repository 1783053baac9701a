"""API keys carry scopes (read, run, write, admin) beside their role

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 06:45:00.000000

A key's role caps what it may do as a member would; its scopes narrow it further for the
REST API (a CI key that may only start runs, a dashboard key that may only read). Keys made
before scopes existed keep what they could do: read, run and write.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "scopes",
                JSON,
                nullable=False,
                server_default=sa.text("'[\"read\", \"run\", \"write\"]'"),
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("scopes")
