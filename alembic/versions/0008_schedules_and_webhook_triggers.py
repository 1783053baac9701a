"""schedules of every kind, fire outcomes, webhook triggers, run idempotency keys

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 03:30:00.000000

Agents run unattended: a schedule fires on a cron expression, an interval or once, with
misfire and overlap policies; each fire keeps its outcome. A webhook trigger starts a run from
an HTTP call. A run may carry the caller's idempotency key: the same key in the same org is the
same run, which makes webhook retries and API retries safe.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=20)


TARGET = ("agent",)


def upgrade() -> None:
    with op.batch_alter_table("schedules", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "target_type",
                _enum("triggertarget", *TARGET),
                nullable=False,
                server_default="agent",
            )
        )
        batch_op.add_column(
            sa.Column(
                "kind",
                _enum("schedulekind", "cron", "interval", "once"),
                nullable=False,
                server_default="cron",
            )
        )
        batch_op.add_column(sa.Column("interval_seconds", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("run_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column(
                "misfire_policy",
                _enum("misfirepolicy", "skip", "run_once"),
                nullable=False,
                server_default="run_once",
            )
        )
        batch_op.add_column(
            sa.Column(
                "overlap_policy",
                _enum("overlappolicy", "skip", "queue", "allow"),
                nullable=False,
                server_default="skip",
            )
        )
        batch_op.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("schedule_fires", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "outcome",
                _enum("fireoutcome", "started", "skipped", "missed", "failed"),
                nullable=False,
                server_default="started",
            )
        )
        batch_op.add_column(sa.Column("note", sa.String(length=500), nullable=True))

    op.create_table(
        "webhook_triggers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=False),
        sa.Column("target_type", _enum("triggertarget", *TARGET), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("token_hint", sa.String(length=16), nullable=False),
        sa.Column("secret_ref", sa.String(length=255), nullable=True),
        sa.Column("require_signature", sa.Boolean(), nullable=False),
        sa.Column("tolerance_seconds", sa.Integer(), nullable=False),
        sa.Column("input_mapping", JSON, nullable=False),
        sa.Column("rate_limit_per_minute", sa.Integer(), nullable=False),
        sa.Column("max_wait_seconds", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_called_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_webhook_triggers_agent_id_agents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_webhook_triggers_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_webhook_triggers_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_triggers")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_webhook_triggers_token_hash")),
    )
    with op.batch_alter_table("webhook_triggers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_webhook_triggers_agent_id"), ["agent_id"])
        batch_op.create_index(batch_op.f("ix_webhook_triggers_org_id"), ["org_id"])

    with op.batch_alter_table("executions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("idempotency_key", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("webhook_trigger_id", sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_executions_webhook_trigger_id_webhook_triggers"),
            "webhook_triggers",
            ["webhook_trigger_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_index(
            "uq_executions_org_idempotency", ["org_id", "idempotency_key"], unique=True
        )
        batch_op.create_index("ix_executions_schedule", ["schedule_id"])


def downgrade() -> None:
    with op.batch_alter_table("executions", schema=None) as batch_op:
        batch_op.drop_index("ix_executions_schedule")
        batch_op.drop_index("uq_executions_org_idempotency")
        batch_op.drop_constraint(
            batch_op.f("fk_executions_webhook_trigger_id_webhook_triggers"), type_="foreignkey"
        )
        batch_op.drop_column("webhook_trigger_id")
        batch_op.drop_column("idempotency_key")
    op.drop_table("webhook_triggers")
    with op.batch_alter_table("schedule_fires", schema=None) as batch_op:
        batch_op.drop_column("note")
        batch_op.drop_column("outcome")
    with op.batch_alter_table("schedules", schema=None) as batch_op:
        for name in (
            "updated_at",
            "overlap_policy",
            "misfire_policy",
            "run_at",
            "interval_seconds",
            "kind",
            "target_type",
        ):
            batch_op.drop_column(name)
