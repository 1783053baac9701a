"""Service runs pay sellers: the price of each run, and the monthly payouts

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01 11:20:00.000000

- `executions.service_price_cents`: the service listing's price per run when the run started;
  what the buyer is billed for it (the meter event's value) and what the seller earns.
- `service_payouts`: one month of a seller's service-run earnings transferred to its Stripe
  connected account, one row per (seller, month), so the monthly job pays once.
"""

from collections.abc import Sequence

import sqlalchemy as sa

import agent_platform.models.base
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "service_payouts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("gross_cents", sa.Integer(), nullable=False),
        sa.Column("fee_cents", sa.Integer(), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("stripe_transfer_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", agent_platform.models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_service_payouts_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_payouts")),
        sa.UniqueConstraint("org_id", "month", name="uq_service_payouts_org_month"),
    )
    op.add_column("executions", sa.Column("service_price_cents", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("executions", schema=None) as batch_op:
        batch_op.drop_column("service_price_cents")
    op.drop_table("service_payouts")
