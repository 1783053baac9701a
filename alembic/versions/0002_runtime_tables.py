"""runtime tables

Revision ID: 3c373fb48820
Revises: 0001
Create Date: 2026-11-25 19:09:54.744717
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import agent_platform.models.base
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "knowledge_collections",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("embedder", sa.String(length=80), nullable=False),
        sa.Column("created_at", agent_platform.models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_knowledge_collections_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_collections")),
        sa.UniqueConstraint("org_id", "name", name="uq_collection_org_name"),
    )
    with op.batch_alter_table("knowledge_collections", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_knowledge_collections_org_id"), ["org_id"], unique=False
        )

    op.create_table(
        "provider_credentials",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "openai",
                "anthropic",
                "gemini",
                "azure",
                "ollama",
                "openai_compatible",
                name="providerkind",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("api_base", sa.String(length=500), nullable=True),
        sa.Column("api_version", sa.String(length=40), nullable=True),
        sa.Column("secret_ref", sa.String(length=255), nullable=True),
        sa.Column("key_hint", sa.String(length=20), nullable=True),
        sa.Column(
            "models",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("last_checked_at", agent_platform.models.base.UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", agent_platform.models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_provider_credentials_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_provider_credentials_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_credentials")),
        sa.UniqueConstraint("org_id", "name", name="uq_provider_org_name"),
    )
    with op.batch_alter_table("provider_credentials", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_provider_credentials_org_id"), ["org_id"], unique=False
        )

    op.create_table(
        "stored_secrets",
        sa.Column("ref", sa.String(length=255), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=True),
        sa.Column("ciphertext", sa.Text(), nullable=False),
        sa.Column("created_at", agent_platform.models.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", agent_platform.models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_stored_secrets_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("ref", name=op.f("pk_stored_secrets")),
    )
    with op.batch_alter_table("stored_secrets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stored_secrets_org_id"), ["org_id"], unique=False)

    op.create_table(
        "knowledge_documents",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("collection_id", sa.Uuid(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=40), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("chunk_count", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "processing", "ready", "failed", name="documentstatus", native_enum=False, length=20
            ),
            nullable=False,
        ),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", agent_platform.models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["knowledge_collections.id"],
            name=op.f("fk_knowledge_documents_collection_id_knowledge_collections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_knowledge_documents_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_documents")),
    )
    with op.batch_alter_table("knowledge_documents", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_knowledge_documents_collection_id"), ["collection_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_knowledge_documents_org_id"), ["org_id"], unique=False)

    op.create_table(
        "threads",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", agent_platform.models.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", agent_platform.models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_threads_agent_id_agents"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_threads_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_threads_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_threads")),
    )
    with op.batch_alter_table("threads", schema=None) as batch_op:
        batch_op.create_index("ix_threads_agent_updated", ["agent_id", "updated_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_threads_org_id"), ["org_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("threads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_threads_org_id"))
        batch_op.drop_index("ix_threads_agent_updated")

    op.drop_table("threads")
    with op.batch_alter_table("knowledge_documents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_knowledge_documents_org_id"))
        batch_op.drop_index(batch_op.f("ix_knowledge_documents_collection_id"))

    op.drop_table("knowledge_documents")
    with op.batch_alter_table("stored_secrets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stored_secrets_org_id"))

    op.drop_table("stored_secrets")
    with op.batch_alter_table("provider_credentials", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_provider_credentials_org_id"))

    op.drop_table("provider_credentials")
    with op.batch_alter_table("knowledge_collections", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_knowledge_collections_org_id"))

    op.drop_table("knowledge_collections")
