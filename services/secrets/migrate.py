"""Move every secret of the local store into Vault, all or nothing.

Why this order: write everything, read everything back and compare, and only then delete the
local rows, in one transaction. Any problem leaves every local row in place; the Vault secrets
this run created are deleted again by the rollback (`VaultStore` registers that undo), so a
failed run can simply be repeated. A ref that Vault already holds with the same value counts
as moved (a repeated run); with a different value it is a problem, never overwritten.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from agent_platform.models import StoredSecret
from services import audit
from services.errors import AuditPayload, Conflict, DomainError
from services.secrets import local
from services.secrets.vault import VaultStore


@dataclass
class MigrationReport:
    url: str
    moved: int = 0
    verified: int = 0
    problems: list[str] = field(default_factory=list)


class MigrationFailed(Conflict):
    """Some secrets could not be moved; nothing was deleted. `problems`: one line each."""

    def __init__(self, report: MigrationReport, *, audit: AuditPayload | None = None) -> None:
        super().__init__(
            f"{len(report.problems)} problem(s); no local secret was deleted.", audit=audit
        )
        self.report = report


def migrate_to_vault(session: Session, vault: VaultStore) -> MigrationReport:
    """Copy, verify, then delete the local rows; raise MigrationFailed (caller rolls back)."""
    report = MigrationReport(url=vault.config.url)
    rows = list(session.exec(select(StoredSecret).order_by(col(StoredSecret.ref))).all())
    values: dict[str, str] = {}
    vault_failure: AuditPayload | None = None  # audited although the run rolls back
    for row in rows:
        try:
            value = local.decrypt(row)
            existing = vault.read(row.ref)
            if existing is not None and existing != value:
                report.problems.append(
                    f"{row.ref}: Vault already holds a different value; not overwritten"
                )
                continue
            if existing is None:
                vault.put(session, row.ref, value, org_id=row.org_id)
            values[row.ref] = value
        except DomainError as exc:
            report.problems.append(f"{row.ref}: {exc.message}")
            if exc.audit:  # Vault itself failed: the rest would fail the same way
                vault_failure = exc.audit
                break
    report.moved = len(values)
    if not report.problems:
        for ref, value in values.items():
            try:
                if vault.read(ref) == value:
                    report.verified += 1
                else:
                    report.problems.append(f"{ref}: read back from Vault with a different value")
            except DomainError as exc:
                report.problems.append(f"{ref}: not readable back: {exc.message}")
                vault_failure = exc.audit
                break
    if report.problems:
        raise MigrationFailed(report, audit=vault_failure)
    for row in rows:
        session.delete(row)
    audit.record(
        session,
        "secrets.migrated",
        org_id=None,
        actor_id=None,
        count=report.moved,
        url=report.url,
    )
    return report
