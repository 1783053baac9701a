"""partial index on model steps with failed attempts or no known price

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 02:20:00.000000

The dashboard counts failed attempts by model and unpriced calls from the step's JSON; without
this index that read visits every model step of the range (a 30-day org view went from 1.5 s
to over 2 s). The predicate is the one the dashboard's query uses, word for word.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from agent_platform.models.runs import step_attention

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("execution_steps", schema=None) as batch_op:
        batch_op.create_index(
            "ix_execution_steps_attention_created",
            ["created_at"],
            unique=False,
            postgresql_include=["execution_id", "model"],
            postgresql_where=sa.text(step_attention("postgresql")),
            sqlite_where=sa.text(step_attention("sqlite")),
        )


def downgrade() -> None:
    with op.batch_alter_table("execution_steps", schema=None) as batch_op:
        batch_op.drop_index("ix_execution_steps_attention_created")
