"""Spend control: the alerts an organization's monthly spend cap has sent.

Why a table and not a flag: each threshold (80 %, 100 %) alerts once per month, and two runs
that cross the line at the same moment must not both send it; the unique (org, month,
threshold) row decides which one does, in the database, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from agent_platform.models.base import created_field, fk, id_field


class SpendAlert(SQLModel, table=True):
    __tablename__ = "spend_alerts"
    __table_args__ = (
        sa.UniqueConstraint("org_id", "month", "threshold", name="uq_spend_alerts_org_month"),
    )
    id: uuid.UUID = id_field()
    org_id: uuid.UUID = fk("organizations.id", ondelete="CASCADE", index=False)
    month: str = Field(max_length=7)  # "2026-12", UTC
    threshold: int  # percent of the cap: 80 or 100
    spent: Decimal = Field(sa_type=sa.Numeric(14, 6), nullable=False)
    cap: Decimal = Field(sa_type=sa.Numeric(14, 6), nullable=False)
    created_at: datetime = created_field()
