"""dashboard indexes: covering time indexes on executions, model steps by time

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 21:30:00.000000

On PostgreSQL the executions time indexes gain INCLUDE columns (what the dashboard
aggregates), so a dashboard range is an index-only scan; SQLite ignores INCLUDE and gets the
same plain indexes back. A partial index on model steps by time serves cost by model.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DASHBOARD_COLUMNS = ["status", "latency_ms", "tokens_used", "cost", "id"]
MODEL_STEPS = "kind = 'model'"


def upgrade() -> None:
    with op.batch_alter_table("executions", schema=None) as batch_op:
        batch_op.drop_index("ix_executions_org_created")
        batch_op.drop_index("ix_executions_agent_created")
        batch_op.create_index(
            "ix_executions_org_created",
            ["org_id", "created_at"],
            unique=False,
            postgresql_include=["agent_id", *DASHBOARD_COLUMNS],
        )
        batch_op.create_index(
            "ix_executions_agent_created",
            ["agent_id", "created_at"],
            unique=False,
            postgresql_include=["org_id", *DASHBOARD_COLUMNS],
        )
    with op.batch_alter_table("execution_steps", schema=None) as batch_op:
        batch_op.create_index(
            "ix_execution_steps_model_created",
            ["created_at"],
            unique=False,
            postgresql_include=["execution_id", "model", "tokens", "cost"],
            postgresql_where=sa.text(MODEL_STEPS),
            sqlite_where=sa.text(MODEL_STEPS),
        )


def downgrade() -> None:
    with op.batch_alter_table("execution_steps", schema=None) as batch_op:
        batch_op.drop_index("ix_execution_steps_model_created")
    with op.batch_alter_table("executions", schema=None) as batch_op:
        batch_op.drop_index("ix_executions_agent_created")
        batch_op.drop_index("ix_executions_org_created")
        batch_op.create_index(
            "ix_executions_agent_created", ["agent_id", "created_at"], unique=False
        )
        batch_op.create_index("ix_executions_org_created", ["org_id", "created_at"], unique=False)
