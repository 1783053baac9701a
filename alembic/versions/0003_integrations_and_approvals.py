"""integration settings and action approvals

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 20:46:51.219600
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import agent_platform.models.base
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "action_approvals",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("execution_id", sa.Uuid(), nullable=False),
        sa.Column("integration_id", sa.Uuid(), nullable=True),
        sa.Column("action", sa.String(length=80), nullable=False),
        sa.Column(
            "arguments",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "approved",
                "denied",
                "expired",
                name="approvalstatus",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("created_at", agent_platform.models.base.UTCDateTime(), nullable=False),
        sa.Column("expires_at", agent_platform.models.base.UTCDateTime(), nullable=False),
        sa.Column("decided_by_id", sa.Uuid(), nullable=True),
        sa.Column("decided_at", agent_platform.models.base.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["users.id"],
            name=op.f("fk_action_approvals_decided_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["executions.id"],
            name=op.f("fk_action_approvals_execution_id_executions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_action_approvals_integration_id_integrations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_action_approvals_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_action_approvals")),
    )
    with op.batch_alter_table("action_approvals", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_action_approvals_execution_id"), ["execution_id"], unique=False
        )
        batch_op.create_index("ix_action_approvals_org_status", ["org_id", "status"], unique=False)

    with op.batch_alter_table("integrations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("auth_kind", sa.String(length=20), nullable=False, server_default="oauth2")
        )
        batch_op.add_column(
            sa.Column(
                "settings",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=False,
                server_default="{}",
            )
        )
        batch_op.add_column(
            sa.Column("expires_at", agent_platform.models.base.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(
            sa.Column("last_checked_at", agent_platform.models.base.UTCDateTime(), nullable=True)
        )
        batch_op.create_unique_constraint(batch_op.f("uq_integrations_org_id"), ["org_id", "name"])


def downgrade() -> None:
    with op.batch_alter_table("integrations", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_integrations_org_id"), type_="unique")
        batch_op.drop_column("last_checked_at")
        batch_op.drop_column("expires_at")
        batch_op.drop_column("settings")
        batch_op.drop_column("auth_kind")

    with op.batch_alter_table("action_approvals", schema=None) as batch_op:
        batch_op.drop_index("ix_action_approvals_org_status")
        batch_op.drop_index(batch_op.f("ix_action_approvals_execution_id"))

    op.drop_table("action_approvals")
