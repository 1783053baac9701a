"""org policy (outbound allow-list, self-approval, limit overrides), connection use, model prices

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 00:40:00.000000

Org admins keep their own private-host allow-list and decide whether a run's requester may
approve its own actions; the instance admin may override an org's tier limits; admins mark a
connection that builders may grant; orgs price models LiteLLM cannot.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
LIMITS = ["max_agents", "max_runs_per_month", "max_concurrent_runs", "max_members"]


def upgrade() -> None:
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("outbound_allow_hosts", JSON, nullable=False, server_default="[]")
        )
        batch_op.add_column(
            sa.Column("allow_self_approval", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        for name in LIMITS:
            batch_op.add_column(sa.Column(name, sa.Integer(), nullable=True))
    with op.batch_alter_table("integrations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("builders_may_use", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "model_prices",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("input_per_million", sa.Numeric(14, 6), nullable=False),
        sa.Column("output_per_million", sa.Numeric(14, 6), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_model_prices_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_prices")),
        sa.UniqueConstraint("org_id", "model", name="uq_model_prices_org_model"),
    )


def downgrade() -> None:
    op.drop_table("model_prices")
    with op.batch_alter_table("integrations", schema=None) as batch_op:
        batch_op.drop_column("builders_may_use")
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        for name in reversed(LIMITS):
            batch_op.drop_column(name)
        batch_op.drop_column("allow_self_approval")
        batch_op.drop_column("outbound_allow_hosts")
