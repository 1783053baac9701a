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


def limit_reached(limits: Limits, *, allows: str, more: str, instead: str = "") -> str:
    """A refusal in words, e.g. "Your Starter plan allows 3 agents. Archive one, or upgrade
    to Pro for more agents." With plans off the limit is an instance administrator's override
    ("… limited to 3 agents by your instance administrator. Archive one, or ask them to raise
    it."): no plan is offered that nobody sells. `instead`: what the person can do without
    more allowance ("Archive one"), or empty."""
    if limits.plans_enabled:
        said = f"Your {tier_name(limits.tier)} plan allows {allows}."
        upgrade = next_tier(limits.tier)
        way = f"upgrade to {tier_name(upgrade)} for {more}" if upgrade else "contact us for more"
    else:
        said = f"Your organization is limited to {allows} by your instance administrator."
        way = "ask them to raise it"
    return f"{said} {instead}, or {way}." if instead else f"{said} {way[0].upper()}{way[1:]}."
