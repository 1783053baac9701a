"""online evaluation rules and scores, quality alerts, suite alert settings

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 04:15:00.000000

A share of production runs is scored by reference-free graders (rules per agent); a score
below a threshold, or a failed safety case, raises an alert shown in the app and posted to a
webhook URL when one is set.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
TIME = sa.DateTime(timezone=True)


def _fk(column: str, table: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete
    )


def upgrade() -> None:
    with op.batch_alter_table("test_suites", schema=None) as batch_op:
        batch_op.add_column(sa.Column("alert_below", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("alert_webhook_url", sa.String(length=500), nullable=True))

    op.create_table(
        "eval_rules",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("sample_rate", sa.Float(), nullable=False),
        sa.Column("statuses", JSON, nullable=False),
        sa.Column("assertions", JSON, nullable=False),
        sa.Column("judge_model", sa.String(length=200), nullable=True),
        sa.Column("alert_below", sa.Float(), nullable=True),
        sa.Column("alert_webhook_url", sa.String(length=500), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("scanned_until", TIME, nullable=True),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        _fk("agent_id", "eval_rules", "agents", "CASCADE"),
        _fk("created_by_id", "eval_rules", "users", "SET NULL"),
        _fk("org_id", "eval_rules", "organizations", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eval_rules")),
    )
    with op.batch_alter_table("eval_rules", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_eval_rules_agent_id"), ["agent_id"])
        batch_op.create_index(batch_op.f("ix_eval_rules_org_id"), ["org_id"])

    op.create_table(
        "online_scores",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("rule_id", sa.Uuid(), nullable=False),
        sa.Column("execution_id", sa.Uuid(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("details", JSON, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        _fk("execution_id", "online_scores", "executions", "CASCADE"),
        _fk("org_id", "online_scores", "organizations", "CASCADE"),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["eval_rules.id"],
            name=op.f("fk_online_scores_rule_id_eval_rules"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_online_scores")),
        sa.UniqueConstraint("rule_id", "execution_id", name="uq_online_scores_rule_run"),
    )
    with op.batch_alter_table("online_scores", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_online_scores_org_id"), ["org_id"])
        batch_op.create_index("ix_online_scores_rule_created", ["rule_id", "created_at"])

    op.create_table(
        "quality_alerts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("message", sa.String(length=500), nullable=False),
        sa.Column("details", JSON, nullable=False),
        sa.Column("webhook_url", sa.String(length=500), nullable=True),
        sa.Column("delivered_at", TIME, nullable=True),
        sa.Column("delivery_error", sa.String(length=500), nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        _fk("agent_id", "quality_alerts", "agents", "CASCADE"),
        _fk("org_id", "quality_alerts", "organizations", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quality_alerts")),
    )
    with op.batch_alter_table("quality_alerts", schema=None) as batch_op:
        batch_op.create_index("ix_quality_alerts_org_created", ["org_id", "created_at"])


def downgrade() -> None:
    op.drop_table("quality_alerts")
    op.drop_table("online_scores")
    op.drop_table("eval_rules")
    with op.batch_alter_table("test_suites", schema=None) as batch_op:
        batch_op.drop_column("alert_webhook_url")
        batch_op.drop_column("alert_below")
