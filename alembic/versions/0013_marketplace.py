"""Marketplace: listings reshaped, with versions, installs, reviews and reports

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 07:00:00.000000

The placeholder `marketplace_listings` table of 0001 was never written by any code, so it is
dropped and made again in its new shape rather than altered column by column (which SQLite
would do by copying the table anyway).

Search: PostgreSQL gets a GIN index on the listing's English text vector (the service queries
`to_tsvector(...) @@ plainto_tsquery(...)` with the same expression); SQLite gets an FTS5
table, `marketplace_search`, that the service keeps in step with the listings. Neither is in
the models (autogenerate cannot describe them); `agent_platform/migrations.py` leaves the FTS5
table and its shadow tables out of the models-versus-schema comparison.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

import agent_platform.models.base
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEARCH_TEXT = "title || ' ' || summary || ' ' || description"


def upgrade() -> None:
    with op.batch_alter_table("marketplace_listings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_marketplace_listings_title"))
        batch_op.drop_index(batch_op.f("ix_marketplace_listings_publisher_org_id"))
        batch_op.drop_index(batch_op.f("ix_marketplace_listings_agent_id"))
    op.drop_table("marketplace_listings")
    op.create_table(
        "marketplace_listings",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("publisher_org_id", sa.Uuid(), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=True),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("summary", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("description_html", sa.Text(), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column(
            "tags",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("icon_key", sa.String(length=255), nullable=True),
        sa.Column(
            "screenshot_keys",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("price_cents", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("template", "service", name="listingkind", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "pending", "live", "taken_down", name="listingstatus", native_enum=False, length=20
            ),
            nullable=False,
        ),
        sa.Column("moderation_note", sa.String(length=500), nullable=False),
        sa.Column("latest_version", sa.Integer(), nullable=False),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("downloads", sa.Integer(), nullable=False),
        sa.Column("rating_sum", sa.Integer(), nullable=False),
        sa.Column("rating_count", sa.Integer(), nullable=False),
        sa.Column("rating", sa.Float(), nullable=False),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", agent_platform.models.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", agent_platform.models.base.UTCDateTime(), nullable=False),
        sa.Column("approved_at", agent_platform.models.base.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_marketplace_listings_agent_id_agents"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_marketplace_listings_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["publisher_org_id"],
            ["organizations.id"],
            name=op.f("fk_marketplace_listings_publisher_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_marketplace_listings")),
    )
    with op.batch_alter_table("marketplace_listings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_marketplace_listings_agent_id"), ["agent_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_marketplace_listings_category"), ["category"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_marketplace_listings_publisher_org_id"),
            ["publisher_org_id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_marketplace_listings_status_created", ["status", "created_at"], unique=False
        )

    op.create_table(
        "marketplace_listing_versions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("listing_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("agent_version_id", sa.Uuid(), nullable=True),
        sa.Column("agent_version_number", sa.Integer(), nullable=False),
        sa.Column(
            "config",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("changelog", sa.Text(), nullable=False),
        sa.Column(
            "required_integrations",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "required_models",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("verified_checked_at", agent_platform.models.base.UTCDateTime(), nullable=True),
        sa.Column(
            "verification",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", agent_platform.models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_version_id"],
            ["agent_versions.id"],
            name=op.f("fk_marketplace_listing_versions_agent_version_id_agent_versions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["listing_id"],
            ["marketplace_listings.id"],
            name=op.f("fk_marketplace_listing_versions_listing_id_marketplace_listings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_marketplace_listing_versions")),
        sa.UniqueConstraint("listing_id", "version", name="uq_marketplace_listing_version"),
    )
    with op.batch_alter_table("marketplace_listing_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_marketplace_listing_versions_listing_id"), ["listing_id"], unique=False
        )

    op.create_table(
        "marketplace_reviews",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("listing_id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("author_id", sa.Uuid(), nullable=True),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("reply", sa.Text(), nullable=True),
        sa.Column("replied_at", agent_platform.models.base.UTCDateTime(), nullable=True),
        sa.Column("hidden", sa.Boolean(), nullable=False),
        sa.Column("created_at", agent_platform.models.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", agent_platform.models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["users.id"],
            name=op.f("fk_marketplace_reviews_author_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["listing_id"],
            ["marketplace_listings.id"],
            name=op.f("fk_marketplace_reviews_listing_id_marketplace_listings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_marketplace_reviews_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_marketplace_reviews")),
        sa.UniqueConstraint("listing_id", "org_id", name="uq_marketplace_review_listing_org"),
    )
    with op.batch_alter_table("marketplace_reviews", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_marketplace_reviews_listing_id"), ["listing_id"], unique=False
        )

    op.create_table(
        "marketplace_installs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("listing_id", sa.Uuid(), nullable=False),
        sa.Column("listing_version_id", sa.Uuid(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=True),
        sa.Column("installed_by_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", agent_platform.models.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", agent_platform.models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_marketplace_installs_agent_id_agents"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["installed_by_id"],
            ["users.id"],
            name=op.f("fk_marketplace_installs_installed_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["listing_id"],
            ["marketplace_listings.id"],
            name=op.f("fk_marketplace_installs_listing_id_marketplace_listings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["listing_version_id"],
            ["marketplace_listing_versions.id"],
            name=op.f("fk_marketplace_installs_listing_version_id_marketplace_listing_versions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_marketplace_installs_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_marketplace_installs")),
        sa.UniqueConstraint("org_id", "listing_id", name="uq_marketplace_install_org_listing"),
    )
    with op.batch_alter_table("marketplace_installs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_marketplace_installs_listing_id"), ["listing_id"], unique=False
        )

    op.create_table(
        "marketplace_reports",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("listing_id", sa.Uuid(), nullable=False),
        sa.Column("review_id", sa.Uuid(), nullable=True),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("reporter_id", sa.Uuid(), nullable=True),
        sa.Column("reason", sa.String(length=1000), nullable=False),
        sa.Column(
            "status",
            sa.Enum("open", "resolved", name="reportstatus", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("resolution", sa.String(length=40), nullable=False),
        sa.Column("resolved_by_id", sa.Uuid(), nullable=True),
        sa.Column("resolved_at", agent_platform.models.base.UTCDateTime(), nullable=True),
        sa.Column("created_at", agent_platform.models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["listing_id"],
            ["marketplace_listings.id"],
            name=op.f("fk_marketplace_reports_listing_id_marketplace_listings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_marketplace_reports_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["reporter_id"],
            ["users.id"],
            name=op.f("fk_marketplace_reports_reporter_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["resolved_by_id"],
            ["users.id"],
            name=op.f("fk_marketplace_reports_resolved_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["review_id"],
            ["marketplace_reviews.id"],
            name=op.f("fk_marketplace_reports_review_id_marketplace_reviews"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_marketplace_reports")),
    )
    with op.batch_alter_table("marketplace_reports", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_marketplace_reports_listing_id"), ["listing_id"], unique=False
        )
        batch_op.create_index(
            "ix_marketplace_reports_status", ["status", "created_at"], unique=False
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE INDEX ix_marketplace_listings_search ON marketplace_listings "
            f"USING gin (to_tsvector('english', {SEARCH_TEXT}))"
        )
    else:
        op.execute(
            "CREATE VIRTUAL TABLE marketplace_search USING fts5("
            "listing_id UNINDEXED, title, summary, description, tags, "
            "tokenize = 'porter unicode61')"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_marketplace_listings_search")
    else:
        op.execute("DROP TABLE IF EXISTS marketplace_search")
    with op.batch_alter_table("marketplace_reports", schema=None) as batch_op:
        batch_op.drop_index("ix_marketplace_reports_status")
        batch_op.drop_index(batch_op.f("ix_marketplace_reports_listing_id"))

    op.drop_table("marketplace_reports")
    with op.batch_alter_table("marketplace_installs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_marketplace_installs_listing_id"))

    op.drop_table("marketplace_installs")
    with op.batch_alter_table("marketplace_reviews", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_marketplace_reviews_listing_id"))

    op.drop_table("marketplace_reviews")
    with op.batch_alter_table("marketplace_listing_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_marketplace_listing_versions_listing_id"))

    op.drop_table("marketplace_listing_versions")
    with op.batch_alter_table("marketplace_listings", schema=None) as batch_op:
        batch_op.drop_index("ix_marketplace_listings_status_created")
        batch_op.drop_index(batch_op.f("ix_marketplace_listings_publisher_org_id"))
        batch_op.drop_index(batch_op.f("ix_marketplace_listings_category"))
        batch_op.drop_index(batch_op.f("ix_marketplace_listings_agent_id"))

    op.drop_table("marketplace_listings")
    op.create_table(
        "marketplace_listings",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("publisher_org_id", sa.Uuid(), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=True),
        sa.Column("agent_version_id", sa.Uuid(), nullable=True),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("price_cents", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column(
            "tier",
            sa.Enum("unverified", "verified", name="listingtier", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("downloads", sa.Integer(), nullable=False),
        sa.Column("rating", sa.Float(), nullable=False),
        sa.Column("rating_count", sa.Integer(), nullable=False),
        sa.Column("is_public", sa.Boolean(), nullable=False),
        sa.Column("created_at", agent_platform.models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_marketplace_listings_agent_id_agents"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["agent_version_id"],
            ["agent_versions.id"],
            name=op.f("fk_marketplace_listings_agent_version_id_agent_versions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["publisher_org_id"],
            ["organizations.id"],
            name=op.f("fk_marketplace_listings_publisher_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_marketplace_listings")),
    )
    with op.batch_alter_table("marketplace_listings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_marketplace_listings_agent_id"), ["agent_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_marketplace_listings_publisher_org_id"),
            ["publisher_org_id"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_marketplace_listings_title"), ["title"], unique=False)
