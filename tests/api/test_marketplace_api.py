"""The marketplace over REST: public browsing, writes with an organization key, moderation with
the instance admin's key — the same services, so the same rules as the pages."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from agent_platform.api import create_api
from agent_platform.db import session_scope
from services import api_keys
from tests.factories import make_user, personal_actor
from tests.services.marketplace_helpers import LISTING_FORM, give_provider, published_agent

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_api())


def key_of(actor, role: str = "builder", scopes: list[str] | None = None) -> dict[str, str]:
    with session_scope() as session:
        created = api_keys.create_key(session, actor, name="ci", role=role, scopes=scopes)
        return {"Authorization": f"Bearer {created.secret}"}


@pytest.fixture
def people():
    """The instance admin (first user), a seller with a published agent, a buyer."""
    with session_scope() as session:
        admin = personal_actor(session, make_user(session, email="admin@example.com"))
        seller = personal_actor(session, make_user(session, email="seller@example.com"))
        buyer = personal_actor(session, make_user(session, email="buyer@example.com"))
        give_provider(session, seller)
        agent_id = published_agent(session, seller)
    return {
        "admin": key_of(admin, "admin"),
        "seller": key_of(seller),
        "buyer": key_of(buyer),
        "buyer_read_only": key_of(buyer, scopes=["read"]),
        "agent_id": str(agent_id),
    }


def test_publish_approve_browse_install_review(client: TestClient, people) -> None:
    made = client.post(
        "/api/v1/marketplace/listings",
        json={**LISTING_FORM, "agent_id": people["agent_id"]},
        headers=people["seller"],
    )
    assert made.status_code == 201, made.text
    listing = made.json()
    assert listing["status"] == "pending"
    assert "<script>" not in listing["description_html"]
    lid = listing["id"]

    assert client.get(f"/api/v1/marketplace/listings/{lid}").status_code == 404
    assert client.get("/api/v1/marketplace/listings").json()["total"] == 0
    refused = client.post(
        f"/api/v1/marketplace/moderation/listings/{lid}/approve", headers=people["seller"]
    )
    assert refused.status_code == 403
    queue = client.get("/api/v1/marketplace/moderation", headers=people["admin"]).json()
    assert [p["id"] for p in queue["pending"]] == [lid]
    approved = client.post(
        f"/api/v1/marketplace/moderation/listings/{lid}/approve", headers=people["admin"]
    )
    assert approved.json()["status"] == "live"

    found = client.get("/api/v1/marketplace/listings", params={"search": "urgency"}).json()
    assert [c["id"] for c in found["listings"]] == [lid]
    page = client.get(f"/api/v1/marketplace/listings/{lid}").json()
    assert page["versions"][0]["required_models"] == ["openai/gpt-4o-mini"]
    assert page["badge"]["verified"] is False and page["badge"]["reasons"]
    assert page["moderation_note"] is None and page["install"] is None

    installed = client.post(f"/api/v1/marketplace/listings/{lid}/install", headers=people["buyer"])
    assert installed.status_code == 201, installed.text
    assert installed.json()["placeholders"]
    again = client.post(f"/api/v1/marketplace/listings/{lid}/install", headers=people["buyer"])
    assert again.status_code == 409
    assert again.headers["content-type"].startswith("application/problem+json")

    review = client.put(
        f"/api/v1/marketplace/listings/{lid}/review",
        json={"rating": 5, "body": "Saves me an hour a day"},
        headers=people["buyer"],
    )
    assert review.status_code == 200, review.text
    own = client.put(
        f"/api/v1/marketplace/listings/{lid}/review", json={"rating": 5}, headers=people["seller"]
    )
    assert own.status_code == 403
    replied = client.post(
        f"/api/v1/marketplace/reviews/{review.json()['id']}/reply",
        json={"reply": "Thanks!"},
        headers=people["seller"],
    )
    assert replied.status_code == 204
    page = client.get(f"/api/v1/marketplace/listings/{lid}", headers=people["buyer"]).json()
    assert page["reviews"][0]["reply"] == "Thanks!" and page["downloads"] == 1
    assert page["install"]["update_available"] is None
    assert page["rating"] == pytest.approx((5 * 3 + 5) / 6, abs=1e-3)


def test_writes_need_a_key_and_bad_input_is_a_problem_in_words(client: TestClient, people):
    body = {**LISTING_FORM, "agent_id": people["agent_id"]}
    assert client.post("/api/v1/marketplace/listings", json=body).status_code == 401
    bad = client.post(
        "/api/v1/marketplace/listings",
        json={**body, "category": "nope"},
        headers=people["seller"],
    )
    assert bad.status_code == 422 and "category" in bad.json()["errors"]
    assert client.get("/api/v1/marketplace/listings", params={"sort": "x"}).status_code == 422
    bogus = {"Authorization": "Bearer ap_nope"}
    assert client.get("/api/v1/marketplace/listings", headers=bogus).status_code == 401


def test_without_stripe_a_paid_listing_is_hidden_from_buyers(client: TestClient, people):
    body = {**LISTING_FORM, "agent_id": people["agent_id"], "price_cents": 499}
    lid = client.post("/api/v1/marketplace/listings", json=body, headers=people["seller"]).json()[
        "id"
    ]
    client.post(f"/api/v1/marketplace/moderation/listings/{lid}/approve", headers=people["admin"])
    answer = client.post(f"/api/v1/marketplace/listings/{lid}/install", headers=people["buyer"])
    assert answer.status_code == 404
    assert client.get(f"/api/v1/marketplace/listings/{lid}", headers=people["seller"]).json()


def test_icon_upload_and_download(client: TestClient, people, tmp_path, monkeypatch):
    from services.marketplace import storage

    store = storage.LocalFileStore(tmp_path)
    monkeypatch.setattr(storage, "file_store", lambda: store)
    body = {**LISTING_FORM, "agent_id": people["agent_id"]}
    lid = client.post("/api/v1/marketplace/listings", json=body, headers=people["seller"]).json()[
        "id"
    ]
    refused = client.put(
        f"/api/v1/marketplace/listings/{lid}/icon", content=b"<svg/>", headers=people["seller"]
    )
    assert refused.status_code == 422
    url = client.put(
        f"/api/v1/marketplace/listings/{lid}/icon", content=PNG, headers=people["seller"]
    ).json()["url"]
    got = client.get(url)
    assert got.status_code == 200 and got.content == PNG
    assert got.headers["content-type"] == "image/png"
    assert client.get("/api/v1/marketplace/files/../../secret.key").status_code == 404
