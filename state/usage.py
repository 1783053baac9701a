"""Usage page: this month's runs, tokens, cost and seats against the plan, and the spend cap."""

from __future__ import annotations

import reflex as rx

from services import spend, usage
from services.access import Permission
from services.errors import DomainError
from services.money import format_money
from state.base import SessionState, form_text, format_utc


class UsageState(SessionState):
    loading: bool = True
    error: str = ""
    month: str = ""
    plan: str = ""  # "Starter plan" / "self-hosted, no plan"
    upgrade: str = ""  # "Upgrade to Pro for higher limits." (plans on, below the top tier)
    meters: list[dict[str, str]] = []  # label, used, limit, percent ("" unlimited), key
    tokens: str = ""
    cost: str = ""
    test_runs: str = ""
    spend_cap: str = ""  # "" no cap
    spend_percent: int = -1  # -1: no cap
    nothing_yet: bool = False
    cap_input: str = ""
    webhook_input: str = ""
    cap_error: str = ""
    alerts: list[dict[str, str]] = []  # this organization's latest spend alerts
    saving: bool = False

    @rx.var
    def is_admin(self) -> bool:
        return Permission.ORG_MANAGE.value in self.permissions

    @rx.event
    def load(self) -> rx.event.EventSpec | None:
        if not self._load_identity():
            return rx.redirect("/login?next=/usage")
        self.loading, self.error = True, ""
        try:
            self._refresh()
        except DomainError as exc:
            self.error = exc.message
        finally:
            self.loading = False
        return None

    def _refresh(self) -> None:
        with self.acting() as (session, _user, actor):
            found = usage.usage_of(session, actor)
            settings = spend.get_spend_settings(session, actor)
            self.alerts = [
                {"id": str(a.id), "message": a.message, "at": format_utc(a.created_at)}
                for a in spend.recent_alerts(session, actor)
            ]
        self.month = found.month
        self.plan = f"{found.tier} plan" if found.plans_enabled else "self-hosted, no plan"
        self.upgrade = f"Upgrade to {found.next_tier} for higher limits." if found.next_tier else ""
        self.meters = [
            {
                "key": m.key,
                "label": m.label,
                "used": f"{m.used:,}",
                "limit": m.limit_text,
                "percent": "" if m.percent is None else str(m.percent),
            }
            for m in found.meters
        ]
        self.tokens = f"{found.tokens:,}"
        self.cost = format_money(found.cost)
        self.test_runs = f"{found.test_runs:,}"
        self.spend_cap = format_money(found.spend_cap) if found.spend_cap is not None else ""
        self.spend_percent = -1 if found.spend_percent is None else found.spend_percent
        self.nothing_yet = found.meters[0].used == 0 and found.test_runs == 0
        cap = settings.monthly_spend_cap_usd
        self.cap_input = "" if cap is None else f"{cap.normalize():f}"
        self.webhook_input = settings.alert_webhook_url or ""

    @rx.event
    def save_cap(self, form: dict[str, str]) -> rx.event.EventSpec | None:
        self.saving, self.cap_error = True, ""
        try:
            with self.acting() as (session, _user, actor):
                spend.set_spend_settings(
                    session,
                    actor,
                    monthly_spend_cap_usd=form_text(form, "monthly_spend_cap"),
                    alert_webhook_url=form_text(form, "alert_webhook_url"),
                )
            self._refresh()
        except DomainError as exc:
            self.cap_error = exc.message  # said under the field; a toast would cover it on a phone
            return None
        finally:
            self.saving = False
        return rx.toast.success("Spend cap saved.")
