"""Usage, the monthly spend cap and a run's budget over REST."""

from __future__ import annotations

from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from agent_platform.api import create_api
from agent_platform.db import session_scope
from agent_platform.models import Execution, ExecutionStatus, Role
from services import agents, api_keys
from tests.factories import add_member, make_user, personal_actor
from tests.plans import billing_on  # noqa: F401 - fixture


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_api())


class Org:
    def __init__(self, *, scopes: list[str] | None = None, role: str = "admin") -> None:
        with session_scope() as session:
            self.owner = personal_actor(session, make_user(session))
            add_member(session, self.owner.org_id, role=Role.BUILDER)
            agent = agents.create_agent(
                session, self.owner, name="Helper", config={"model": "openai/gpt-4o-mini"}
            )
            self.agent_id = str(agent.id)
            self.secret = api_keys.create_key(
                session, self.owner, name="ci", role=role, scopes=scopes or ["admin", "run"]
            ).secret
        self.auth = {"Authorization": f"Bearer {self.secret}"}

    def spent(self, cost: str, *, test_run: bool = False) -> None:
        with session_scope() as session:
            session.add(
                Execution(
                    org_id=self.owner.org_id,
                    status=ExecutionStatus.SUCCEEDED,
                    input={"message": "x"},
                    tokens_used=120,
                    cost=Decimal(cost),
                )
            )


class TestUsage:
    def test_unlimited_without_billing(self, client: TestClient) -> None:
        org = Org()
        org.spent("0.25")
        body = client.get("/api/v1/usage", headers=org.auth).json()
        assert body["plans_enabled"] is False and body["next_tier"] is None
        meters = {m["key"]: m for m in body["meters"]}
        assert meters["runs"] == {
            "key": "runs",
            "label": "Runs this month",
            "used": 1,
            "limit": None,
        }
        assert meters["seats"]["used"] == 2 and meters["agents"]["used"] == 1
        assert body["tokens"] == 120 and Decimal(body["cost"]) == Decimal("0.25")
        assert body["spend_cap"] is None and body["spend_percent"] is None

    @pytest.mark.usefixtures("billing_on")
    def test_against_the_tiers_limits_with_billing_on(self, client: TestClient) -> None:
        org = Org()
        body = client.get("/api/v1/usage", headers=org.auth).json()
        assert body["plans_enabled"] is True
        assert body["tier"] == "Starter" and body["next_tier"] == "Pro"
        meters = {m["key"]: m for m in body["meters"]}
        assert meters["seats"]["limit"] == 3  # the starter tier's seats

    def test_another_orgs_usage_is_not_counted(self, client: TestClient) -> None:
        org, other = Org(), Org()
        other.spent("9")
        body = client.get("/api/v1/usage", headers=org.auth).json()
        assert Decimal(body["cost"]) == 0 and body["meters"][0]["used"] == 0


class TestSpendCap:
    def test_admin_sets_the_cap_and_runs_are_refused_at_it(self, client: TestClient) -> None:
        org = Org()
        assert client.get("/api/v1/org/spend-cap", headers=org.auth).json() == {
            "monthly_spend_cap_usd": None,
            "alert_webhook_url": None,
            "alert_webhook_set": False,
        }
        put = client.put(
            "/api/v1/org/spend-cap",
            json={"monthly_spend_cap_usd": "0.50", "alert_webhook_url": "https://x.example/h"},
            headers=org.auth,
        )
        assert put.status_code == 200, put.text
        assert Decimal(put.json()["monthly_spend_cap_usd"]) == Decimal("0.5")
        org.spent("0.50")
        refused = client.post(
            f"/api/v1/agents/{org.agent_id}/runs", json={"message": "hi"}, headers=org.auth
        )
        assert refused.status_code == 422, refused.text
        assert "monthly spend cap of $0.50" in refused.json()["detail"]
        usage = client.get("/api/v1/usage", headers=org.auth).json()
        assert usage["spend_percent"] == 100

    def test_only_an_admin_key_reads_the_webhook_url(self, client: TestClient) -> None:
        """A Slack-style webhook URL lets whoever has it post into the channel: a secret."""
        org = Org()
        client.put(
            "/api/v1/org/spend-cap",
            json={"monthly_spend_cap_usd": "5", "alert_webhook_url": "https://hooks.example/s"},
            headers=org.auth,
        ).raise_for_status()
        admin = client.get("/api/v1/org/spend-cap", headers=org.auth).json()
        assert admin["alert_webhook_url"] == "https://hooks.example/s"
        with session_scope() as session:
            viewer_key = api_keys.create_key(
                session, org.owner, name="dash", role="viewer", scopes=["read"]
            ).secret
            read_key = api_keys.create_key(
                session, org.owner, name="ro", role="admin", scopes=["read", "run"]
            ).secret
        for secret in (viewer_key, read_key):
            body = client.get(
                "/api/v1/org/spend-cap", headers={"Authorization": f"Bearer {secret}"}
            ).json()
            assert body == {
                "monthly_spend_cap_usd": "5.000000",
                "alert_webhook_url": None,
                "alert_webhook_set": True,
            }

    def test_a_read_key_cannot_change_the_cap(self, client: TestClient) -> None:
        org = Org(scopes=["read"])
        denied = client.put(
            "/api/v1/org/spend-cap", json={"monthly_spend_cap_usd": "1"}, headers=org.auth
        )
        assert denied.status_code == 403

    def test_a_bad_cap_is_a_clear_422(self, client: TestClient) -> None:
        org = Org()
        bad = client.put(
            "/api/v1/org/spend-cap", json={"monthly_spend_cap_usd": "-3"}, headers=org.auth
        )
        assert bad.status_code == 422 and "more than $0" in bad.json()["detail"]


class TestRunBudget:
    def test_a_run_request_carries_its_budget(self, client: TestClient) -> None:
        org = Org()
        made = client.post(
            f"/api/v1/agents/{org.agent_id}/runs",
            json={"message": "hi", "budget_usd": "0.05"},
            headers=org.auth,
        )
        assert made.status_code == 201, made.text
        assert Decimal(made.json()["budget_usd"]) == Decimal("0.05")
