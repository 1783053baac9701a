"""All tables, imported here so `SQLModel.metadata` (and Alembic) sees every one."""

from agent_platform.models.accounts import (
    ApiKey,
    Invitation,
    Membership,
    Organization,
    Role,
    Tier,
    TierLimit,
    User,
    UserSession,
)
from agent_platform.models.agents import Agent, AgentConfig, AgentStatus, AgentVersion
from agent_platform.models.platform import (
    AgentTest,
    AuditEntry,
    Integration,
    IntegrationStatus,
    ListingTier,
    MarketplaceListing,
    Schedule,
    ScheduleFire,
    TestKind,
    TestResult,
)
from agent_platform.models.runs import Execution, ExecutionStatus, ExecutionStep
from agent_platform.models.runtime import (
    DocumentStatus,
    KnowledgeCollection,
    KnowledgeDocument,
    ProviderCredential,
    ProviderKind,
    Thread,
)

__all__ = [
    "DocumentStatus", "KnowledgeCollection", "KnowledgeDocument", "ProviderCredential",
    "ProviderKind", "Thread",
    "Agent",
    "AgentConfig",
    "AgentStatus",
    "AgentTest",
    "AgentVersion",
    "ApiKey",
    "AuditEntry",
    "Execution",
    "ExecutionStatus",
    "ExecutionStep",
    "Integration",
    "IntegrationStatus",
    "Invitation",
    "ListingTier",
    "MarketplaceListing",
    "Membership",
    "Organization",
    "Role",
    "Schedule",
    "ScheduleFire",
    "TestKind",
    "TestResult",
    "Tier",
    "TierLimit",
    "User",
    "UserSession",
]
