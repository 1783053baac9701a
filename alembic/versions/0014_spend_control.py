"""Spend control: a budget per run, a monthly spend cap per organization and its alerts,
the judge's cost beside an online score

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 10:00:00.000000

- `executions.budget_usd`: the most a run may spend (the request's, else its agent's setting);
  the run stops cleanly once its cost reaches it. NULL: no budget.
- `organizations.monthly_spend_cap_usd`: the organization's own cap on a month's spend (off
  when NULL, billing or not); `organizations.alert_webhook_url`: where its spend alerts go.
- `spend_alerts`: one row per (organization, month, threshold) — the 80 % and 100 % alerts
  are each sent once a month, which the unique constraint decides even when two runs cross
  the line at once.
- `online_scores.judge_cost`: what the judge's calls for that score cost (0 with no judge
  call or a cached verdict; NULL when the judge model had no known price).
"""

from collections.abc import Sequence

import sqlalchemy as sa

import agent_platform.models.base
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("executions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("budget_usd", sa.Numeric(14, 6), nullable=True))
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("monthly_spend_cap_usd", sa.Numeric(14, 6), nullable=True))
        batch_op.add_column(sa.Column("alert_webhook_url", sa.String(length=500), nullable=True))
    with op.batch_alter_table("online_scores", schema=None) as batch_op:
        batch_op.add_column(sa.Column("judge_cost", sa.Numeric(14, 6), nullable=True))
    op.create_table(
        "spend_alerts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("spent", sa.Numeric(14, 6), nullable=False),
        sa.Column("cap", sa.Numeric(14, 6), nullable=False),
        sa.Column("created_at", agent_platform.models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("org_id", "month", "threshold", name="uq_spend_alerts_org_month"),
    )


def downgrade() -> None:
    op.drop_table("spend_alerts")
    with op.batch_alter_table("online_scores", schema=None) as batch_op:
        batch_op.drop_column("judge_cost")
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.drop_column("alert_webhook_url")
        batch_op.drop_column("monthly_spend_cap_usd")
    with op.batch_alter_table("executions", schema=None) as batch_op:
        batch_op.drop_column("budget_usd")
