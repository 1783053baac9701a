"""dashboard indexes cover test_run_id, so test runs are left out without a heap fetch

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 04:30:00.000000

The dashboard counts production runs only; the runs of test suites carry `test_run_id`. Its
covering indexes (PostgreSQL INCLUDE) carry that column too, so the filter is answered from
the index like the rest of the dashboard's reads. SQLite has no INCLUDE: nothing changes there.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BEFORE = ["status", "latency_ms", "tokens_used", "cost", "id"]
AFTER = [*BEFORE, "test_run_id"]


def _indexes(columns: list[str]) -> None:
    with op.batch_alter_table("executions", schema=None) as batch_op:
        batch_op.drop_index("ix_executions_org_created")
        batch_op.drop_index("ix_executions_agent_created")
        batch_op.create_index(
            "ix_executions_org_created",
            ["org_id", "created_at"],
            unique=False,
            postgresql_include=["agent_id", *columns],
        )
        batch_op.create_index(
            "ix_executions_agent_created",
            ["agent_id", "created_at"],
            unique=False,
            postgresql_include=["org_id", *columns],
        )


def upgrade() -> None:
    _indexes(AFTER)


def downgrade() -> None:
    _indexes(BEFORE)
