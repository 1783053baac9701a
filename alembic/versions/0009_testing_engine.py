"""testing engine: suites, cases, suite runs, results per repeat, judge verdicts, test runs

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 03:40:00.000000

`agent_tests` and `test_results` were placeholders no code wrote to; they are replaced by the
shapes the testing engine needs (a case belongs to a suite; a result is one repeat of one case
in one suite run). A run started by a suite carries `test_run_id`, which keeps it out of
statistics and bills.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
TIME = sa.DateTime(timezone=True)


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=20)


def _fk(column: str, table: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete
    )


def _indexes(table: str, *columns: str) -> None:
    with op.batch_alter_table(table, schema=None) as batch_op:
        for column in columns:
            batch_op.create_index(batch_op.f(f"ix_{table}_{column}"), [column], unique=False)


def upgrade() -> None:
    op.drop_table("test_results")
    op.drop_table("agent_tests")

    op.create_table(
        "test_suites",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column(
            "kind",
            _enum("testkind", "functional", "safety", "quality", "regression"),
            nullable=False,
        ),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("pinned_version_id", sa.Uuid(), nullable=True),
        sa.Column("judge_models", JSON, nullable=False),
        sa.Column("default_assertions", JSON, nullable=False),
        sa.Column("default_vars", JSON, nullable=False),
        sa.Column("repeat", sa.Integer(), nullable=False),
        sa.Column("pass_k", sa.Integer(), nullable=False),
        sa.Column("pass_threshold", sa.Float(), nullable=False),
        sa.Column("budget_usd", sa.Numeric(precision=14, scale=6), nullable=True),
        sa.Column("run_on_new_version", sa.Boolean(), nullable=False),
        sa.Column("required_for_publish", sa.Boolean(), nullable=False),
        sa.Column("builtin", sa.String(length=40), nullable=True),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=True),
        _fk("agent_id", "test_suites", "agents", "CASCADE"),
        _fk("created_by_id", "test_suites", "users", "SET NULL"),
        _fk("org_id", "test_suites", "organizations", "CASCADE"),
        _fk("pinned_version_id", "test_suites", "agent_versions", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_test_suites")),
        sa.UniqueConstraint("agent_id", "name", name="uq_test_suites_agent_name"),
    )
    _indexes("test_suites", "agent_id", "org_id")

    op.create_table(
        "agent_tests",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("suite_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("input", JSON, nullable=False),
        sa.Column("assertions", JSON, nullable=False),
        sa.Column("expected", sa.Text(), nullable=True),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("tags", JSON, nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("status", _enum("casestatus", "draft", "accepted", "rejected"), nullable=False),
        sa.Column(
            "source",
            _enum("casesource", "manual", "imported", "generated", "builtin"),
            nullable=False,
        ),
        sa.Column("probe", sa.String(length=40), nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=True),
        _fk("org_id", "agent_tests", "organizations", "CASCADE"),
        sa.ForeignKeyConstraint(
            ["suite_id"],
            ["test_suites.id"],
            name=op.f("fk_agent_tests_suite_id_test_suites"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_tests")),
    )
    _indexes("agent_tests", "org_id")
    with op.batch_alter_table("agent_tests", schema=None) as batch_op:
        batch_op.create_index("ix_agent_tests_suite_position", ["suite_id", "position"])

    op.create_table(
        "suite_runs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("suite_id", sa.Uuid(), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=True),
        sa.Column("agent_version_id", sa.Uuid(), nullable=True),
        sa.Column(
            "status",
            _enum(
                "suiterunstatus",
                "queued",
                "running",
                "passed",
                "failed",
                "cancelled",
                "budget",
                "error",
            ),
            nullable=False,
        ),
        sa.Column("trigger", sa.String(length=20), nullable=False),
        sa.Column("repeat", sa.Integer(), nullable=False),
        sa.Column("total_runs", sa.Integer(), nullable=False),
        sa.Column("finished_runs", sa.Integer(), nullable=False),
        sa.Column("passed_cases", sa.Integer(), nullable=False),
        sa.Column("failed_cases", sa.Integer(), nullable=False),
        sa.Column("flaky_cases", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("cost", sa.Numeric(precision=14, scale=6), nullable=False),
        sa.Column("budget_usd", sa.Numeric(precision=14, scale=6), nullable=True),
        sa.Column("summary", JSON, nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("triggered_by_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("started_at", TIME, nullable=True),
        sa.Column("finished_at", TIME, nullable=True),
        _fk("agent_id", "suite_runs", "agents", "SET NULL"),
        _fk("agent_version_id", "suite_runs", "agent_versions", "SET NULL"),
        _fk("org_id", "suite_runs", "organizations", "CASCADE"),
        sa.ForeignKeyConstraint(
            ["suite_id"],
            ["test_suites.id"],
            name=op.f("fk_suite_runs_suite_id_test_suites"),
            ondelete="CASCADE",
        ),
        _fk("triggered_by_id", "suite_runs", "users", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suite_runs")),
    )
    _indexes("suite_runs", "org_id")
    with op.batch_alter_table("suite_runs", schema=None) as batch_op:
        batch_op.create_index("ix_suite_runs_suite_created", ["suite_id", "created_at"])

    op.create_table(
        "test_results",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("suite_run_id", sa.Uuid(), nullable=False),
        sa.Column("test_id", sa.Uuid(), nullable=False),
        sa.Column("repeat_index", sa.Integer(), nullable=False),
        sa.Column("execution_id", sa.Uuid(), nullable=True),
        sa.Column("agent_version_id", sa.Uuid(), nullable=True),
        sa.Column("canary", sa.String(length=64), nullable=True),
        sa.Column("passed", sa.Boolean(), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("details", JSON, nullable=False),
        sa.Column("overruled", sa.Boolean(), nullable=True),
        sa.Column("overruled_by_id", sa.Uuid(), nullable=True),
        sa.Column("overrule_note", sa.String(length=1000), nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("graded_at", TIME, nullable=True),
        _fk("agent_version_id", "test_results", "agent_versions", "SET NULL"),
        _fk("execution_id", "test_results", "executions", "SET NULL"),
        _fk("org_id", "test_results", "organizations", "CASCADE"),
        _fk("overruled_by_id", "test_results", "users", "SET NULL"),
        sa.ForeignKeyConstraint(
            ["suite_run_id"],
            ["suite_runs.id"],
            name=op.f("fk_test_results_suite_run_id_suite_runs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["test_id"],
            ["agent_tests.id"],
            name=op.f("fk_test_results_test_id_agent_tests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_test_results")),
        sa.UniqueConstraint(
            "suite_run_id", "test_id", "repeat_index", name="uq_test_results_run_case_repeat"
        ),
    )
    _indexes("test_results", "org_id", "execution_id")
    with op.batch_alter_table("test_results", schema=None) as batch_op:
        batch_op.create_index("ix_test_results_test_created", ["test_id", "created_at"])

    op.create_table(
        "judge_verdicts",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("judge_model", sa.String(length=200), nullable=False),
        sa.Column("verdict", JSON, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        _fk("org_id", "judge_verdicts", "organizations", "CASCADE"),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_judge_verdicts")),
    )
    _indexes("judge_verdicts", "org_id")

    with op.batch_alter_table("executions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("test_run_id", sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_executions_test_run_id_suite_runs"),
            "suite_runs",
            ["test_run_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("executions", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_executions_test_run_id_suite_runs"), type_="foreignkey"
        )
        batch_op.drop_column("test_run_id")
    for table in ("judge_verdicts", "test_results", "suite_runs", "agent_tests", "test_suites"):
        op.drop_table(table)

    # The placeholders of 0001, as they were.
    op.create_table(
        "agent_tests",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("kind", _enum("testkind", "functional", "safety", "quality"), nullable=False),
        sa.Column("input", JSON, nullable=False),
        sa.Column("expectations", JSON, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        _fk("agent_id", "agent_tests", "agents", "CASCADE"),
        _fk("org_id", "agent_tests", "organizations", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_tests")),
    )
    _indexes("agent_tests", "agent_id", "org_id")
    op.create_table(
        "test_results",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("test_id", sa.Uuid(), nullable=False),
        sa.Column("execution_id", sa.Uuid(), nullable=True),
        sa.Column("agent_version_id", sa.Uuid(), nullable=True),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("details", JSON, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        _fk("agent_version_id", "test_results", "agent_versions", "SET NULL"),
        _fk("execution_id", "test_results", "executions", "SET NULL"),
        _fk("org_id", "test_results", "organizations", "CASCADE"),
        sa.ForeignKeyConstraint(
            ["test_id"],
            ["agent_tests.id"],
            name=op.f("fk_test_results_test_id_agent_tests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_test_results")),
    )
    _indexes("test_results", "org_id")
    with op.batch_alter_table("test_results", schema=None) as batch_op:
        batch_op.create_index("ix_test_results_test_created", ["test_id", "created_at"])
