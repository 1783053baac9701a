"""document uploads waiting for the indexing worker

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 01:00:00.000000

Uploads are parsed and embedded on a worker queue instead of in the web process; their bytes
wait in the database (the worker may run on another machine) until indexed.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "document_uploads",
        sa.Column("document_id", sa.Uuid(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["knowledge_documents.id"],
            name=op.f("fk_document_uploads_document_id_knowledge_documents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("document_id", name=op.f("pk_document_uploads")),
    )


def downgrade() -> None:
    op.drop_table("document_uploads")
