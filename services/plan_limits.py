"""How a tier limit is worded when it refuses something: "upgrade to <next tier> for …".

Only with plans on (billing enabled): a self-hosted install without billing is unlimited,
and a limit an instance admin set on one organization by hand (billing off) is that
admin's, so the refusal asks for them instead of offering a plan nobody sells.
"""

from __future__ import annotations

from agent_platform.models import Tier
from services.organizations import Limits

TIER_ORDER = (Tier.STARTER, Tier.PRO, Tier.TEAM, Tier.ENTERPRISE)


def next_tier(tier: Tier) -> Tier | None:
    at = TIER_ORDER.index(tier)
    return TIER_ORDER[at + 1] if at + 1 < len(TIER_ORDER) else None


def tier_name(tier: Tier) -> str:
    return tier.value.capitalize()


def upgrade_hint(limits: Limits, more: str) -> str:
    """The sentence after a refusal: "Upgrade to Pro for more runs a month." with plans on;
    the instance administrator otherwise (or on the top tier)."""
    if not limits.plans_enabled:
        return "Ask your instance administrator to raise it."
    upgrade = next_tier(limits.tier)
    if upgrade is None:
        return "Contact us to raise it."
    return f"Upgrade to {tier_name(upgrade)} for {more}."
