"""Agents and their immutable versions. The config JSON is validated by `AgentConfig`."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from agent_platform.models.base import (
    created_field,
    enum_field,
    fk,
    id_field,
    json_field,
    time_field,
)


class AgentStatus(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    ARCHIVED = "archived"


class Agent(SQLModel, table=True):
    __tablename__ = "agents"
    __table_args__ = (sa.Index("ix_agents_org_updated", "org_id", "updated_at"),)
    id: uuid.UUID = id_field()
    org_id: uuid.UUID = fk("organizations.id", ondelete="CASCADE")
    name: str = Field(max_length=120)
    description: str = Field(default="", max_length=2000)
    config: dict[str, Any] = json_field()
    status: AgentStatus = enum_field(AgentStatus, AgentStatus.DRAFT)
    current_version_id: uuid.UUID | None = Field(
        default=None,
        sa_column=sa.Column(
            sa.Uuid(),
            sa.ForeignKey(
                "agent_versions.id",
                ondelete="SET NULL",
                use_alter=True,
                name="fk_agents_current_version",
            ),
            nullable=True,
        ),
    )
    created_by_id: uuid.UUID | None = fk(
        "users.id", ondelete="SET NULL", nullable=True, index=False
    )
    created_at: datetime = created_field()
    updated_at: datetime = created_field()
    archived_at: datetime | None = time_field()


class AgentVersion(SQLModel, table=True):
    """A snapshot never updated after insert; runs point at the version they used."""

    __tablename__ = "agent_versions"
    __table_args__ = (sa.UniqueConstraint("agent_id", "version", name="uq_agent_version"),)
    id: uuid.UUID = id_field()
    agent_id: uuid.UUID = fk("agents.id", ondelete="CASCADE")
    org_id: uuid.UUID = fk("organizations.id", ondelete="CASCADE")
    version: int
    config: dict[str, Any] = json_field()
    created_by_id: uuid.UUID | None = fk(
        "users.id", ondelete="SET NULL", nullable=True, index=False
    )
    created_at: datetime = created_field()
