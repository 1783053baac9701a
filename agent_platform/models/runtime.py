"""Tables the agent runtime adds: provider credentials, knowledge collections, chat threads."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from agent_platform.models.base import JSONType, created_field, enum_field, fk, id_field, time_field


class ProviderKind(enum.StrEnum):
    OPENAI = "openai"
    ANTHROPIC = "anthropic"
    GEMINI = "gemini"
    AZURE = "azure"
    OLLAMA = "ollama"
    OPENAI_COMPATIBLE = "openai_compatible"


class ProviderCredential(SQLModel, table=True):
    """An organization's access to one LLM provider; the key itself is in the secret store."""

    __tablename__ = "provider_credentials"
    __table_args__ = (sa.UniqueConstraint("org_id", "name", name="uq_provider_org_name"),)
    id: uuid.UUID = id_field()
    org_id: uuid.UUID = fk("organizations.id", ondelete="CASCADE")
    name: str = Field(max_length=60)
    kind: ProviderKind = enum_field(ProviderKind, ProviderKind.OPENAI)
    api_base: str | None = Field(default=None, max_length=500)
    api_version: str | None = Field(default=None, max_length=40)
    secret_ref: str | None = Field(default=None, max_length=255)
    key_hint: str | None = Field(default=None, max_length=20)
    models: list[Any] = Field(default_factory=list, sa_type=JSONType, nullable=False)
    last_checked_at: datetime | None = time_field()
    last_error: str | None = Field(default=None, sa_type=sa.Text, nullable=True)
    created_by_id: uuid.UUID | None = fk(
        "users.id", ondelete="SET NULL", nullable=True, index=False
    )
    created_at: datetime = created_field()


class KnowledgeCollection(SQLModel, table=True):
    __tablename__ = "knowledge_collections"
    __table_args__ = (sa.UniqueConstraint("org_id", "name", name="uq_collection_org_name"),)
    id: uuid.UUID = id_field()
    org_id: uuid.UUID = fk("organizations.id", ondelete="CASCADE")
    name: str = Field(max_length=80)
    description: str = Field(default="", max_length=500)
    embedder: str = Field(max_length=80)
    created_at: datetime = created_field()


class DocumentStatus(enum.StrEnum):
    PROCESSING = "processing"
    READY = "ready"
    FAILED = "failed"


class KnowledgeDocument(SQLModel, table=True):
    __tablename__ = "knowledge_documents"
    id: uuid.UUID = id_field()
    org_id: uuid.UUID = fk("organizations.id", ondelete="CASCADE")
    collection_id: uuid.UUID = fk("knowledge_collections.id", ondelete="CASCADE")
    filename: str = Field(max_length=255)
    content_type: str = Field(max_length=40)
    size_bytes: int = 0
    chunk_count: int = 0
    status: DocumentStatus = enum_field(DocumentStatus, DocumentStatus.PROCESSING)
    error: str | None = Field(default=None, sa_type=sa.Text, nullable=True)
    created_at: datetime = created_field()


class DocumentUpload(SQLModel, table=True):
    """An upload's bytes between the web request and the worker that indexes them.

    In the database (not on the web machine's disk) because the worker may run elsewhere; the
    row is deleted once the document is indexed or has failed."""

    __tablename__ = "document_uploads"
    document_id: uuid.UUID = Field(
        sa_column=sa.Column(
            sa.Uuid(),
            sa.ForeignKey("knowledge_documents.id", ondelete="CASCADE"),
            primary_key=True,
        )
    )
    data: bytes = Field(sa_type=sa.LargeBinary, nullable=False)


class Thread(SQLModel, table=True):
    """A conversation with one agent; its runs (executions.thread_id) form the history."""

    __tablename__ = "threads"
    __table_args__ = (sa.Index("ix_threads_agent_updated", "agent_id", "updated_at"),)
    id: uuid.UUID = id_field()
    org_id: uuid.UUID = fk("organizations.id", ondelete="CASCADE")
    agent_id: uuid.UUID | None = fk("agents.id", ondelete="SET NULL", nullable=True, index=False)
    title: str = Field(default="New conversation", max_length=200)
    created_by_id: uuid.UUID | None = fk(
        "users.id", ondelete="SET NULL", nullable=True, index=False
    )
    created_at: datetime = created_field()
    updated_at: datetime = created_field()


class StoredSecret(SQLModel, table=True):
    """The local secret store's ciphertexts; the key lives outside the database (a file)."""

    __tablename__ = "stored_secrets"
    ref: str = Field(primary_key=True, max_length=255)
    org_id: uuid.UUID | None = fk("organizations.id", ondelete="CASCADE", nullable=True)
    ciphertext: str = Field(sa_type=sa.Text, nullable=False)
    created_at: datetime = created_field()
    updated_at: datetime = created_field()
