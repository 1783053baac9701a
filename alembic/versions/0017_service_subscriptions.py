"""Service listings: subscriptions and runs of the seller's version

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01 11:10:00.000000

- `marketplace_subscriptions`: an organization's right to run a service listing's version, one
  per (organization, listing), with the most one of its runs may spend (the subscriber's).
- `executions.service_listing_id`: set on a run of a service listing (in the buyer's
  organization, on the seller's version); no foreign key, so the run's record outlives the
  listing. On PostgreSQL the column is added to the partitioned table and so to every month.
"""

from collections.abc import Sequence

import sqlalchemy as sa

import agent_platform.models.base
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "marketplace_subscriptions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("listing_id", sa.Uuid(), nullable=False),
        sa.Column("max_spend_per_run_usd", sa.Numeric(14, 6), nullable=False),
        sa.Column("subscribed_by_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", agent_platform.models.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", agent_platform.models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["listing_id"], ["marketplace_listings.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["subscribed_by_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("org_id", "listing_id", name="uq_marketplace_subscription_org_listing"),
    )
    op.create_index(
        op.f("ix_marketplace_subscriptions_listing_id"),
        "marketplace_subscriptions",
        ["listing_id"],
        unique=False,
    )
    op.add_column("executions", sa.Column("service_listing_id", sa.Uuid(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("executions", schema=None) as batch_op:
        batch_op.drop_column("service_listing_id")
    op.drop_index(
        op.f("ix_marketplace_subscriptions_listing_id"), table_name="marketplace_subscriptions"
    )
    op.drop_table("marketplace_subscriptions")
