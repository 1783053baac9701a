"""Knowledge over REST: a collection, an upload indexed by the worker, search, deletes."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from rq import SimpleWorker

from agent_platform.api import create_api
from agent_platform.db import session_scope
from agent_platform.redis_client import get_redis
from services import api_keys
from services.memory import ingest
from services.queue import queue
from tests.factories import make_user, personal_actor
from tests.services.knowledge_fixtures import data_dir  # noqa: F401 - autouse: own Chroma

PLANETS = "Jupiter is the largest planet in the solar system. " * 50


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_api())


def org_key(*, scopes: list[str] | None = None) -> dict[str, str]:
    with session_scope() as session:
        actor = personal_actor(session, make_user(session))
        secret = api_keys.create_key(session, actor, name="ci", role="admin", scopes=scopes).secret
    return {"Authorization": f"Bearer {secret}"}


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return dict(response.json())


def upload(
    client: TestClient, auth: dict[str, str], collection_id: str, name: str, data: bytes
) -> Any:
    return client.post(
        f"/api/v1/knowledge/collections/{collection_id}/documents",
        params={"filename": name},
        content=data,
        headers={**auth, "Content-Type": "application/octet-stream"},
    )


def test_upload_is_indexed_by_the_worker_then_found_by_search(client: TestClient) -> None:
    auth = org_key()
    made = client.post("/api/v1/knowledge/collections", json={"name": "Space"}, headers=auth)
    assert made.status_code == 201, made.text
    collection = made.json()
    assert collection["name"] == "Space" and collection["embedder"]

    staged = upload(client, auth, collection["id"], "planets.txt", PLANETS.encode())
    assert staged.status_code == 202, staged.text
    assert staged.json()["status"] == "processing"
    SimpleWorker([queue(ingest.INGEST_QUEUE)], connection=get_redis()).work(burst=True)

    docs = client.get(
        f"/api/v1/knowledge/collections/{collection['id']}/documents", headers=auth
    ).json()["data"]
    assert [(d["filename"], d["status"]) for d in docs] == [("planets.txt", "ready")]
    assert docs[0]["chunk_count"] >= 1

    hits = client.post(
        "/api/v1/knowledge/search", json={"query": "largest planet", "top_k": 2}, headers=auth
    )
    assert hits.status_code == 200, hits.text
    assert hits.json()[0]["filename"] == "planets.txt" and "Jupiter" in hits.json()[0]["text"]

    assert (
        client.delete(f"/api/v1/knowledge/documents/{docs[0]['id']}", headers=auth).status_code
        == 204
    )
    listed = client.get("/api/v1/knowledge/collections", headers=auth).json()["data"]
    assert [c["name"] for c in listed] == ["Space"]
    gone = client.delete(f"/api/v1/knowledge/collections/{collection['id']}", headers=auth)
    assert gone.status_code == 204
    assert client.get("/api/v1/knowledge/collections", headers=auth).json()["data"] == []


def test_an_unsupported_file_or_empty_name_is_a_422(client: TestClient) -> None:
    auth = org_key()
    collection = client.post(
        "/api/v1/knowledge/collections", json={"name": "Docs"}, headers=auth
    ).json()
    assert problem(upload(client, auth, collection["id"], "tool.exe", b"MZ"), 422)["detail"]
    empty = client.post("/api/v1/knowledge/collections", json={"name": ""}, headers=auth)
    assert problem(empty, 422)["errors"] == {"name": "Name is required."}


def test_uploads_may_exceed_the_default_body_limit(client: TestClient) -> None:
    auth = org_key()
    collection = client.post(
        "/api/v1/knowledge/collections", json={"name": "Big"}, headers=auth
    ).json()
    big = ("word " * 300_000).encode()  # 1.5 MB, under MAX_UPLOAD_BYTES (20 MB)
    assert len(big) > 1024 * 1024
    assert upload(client, auth, collection["id"], "big.txt", big).status_code == 202


def test_writes_need_the_write_scope_and_other_orgs_are_404(client: TestClient) -> None:
    reader = org_key(scopes=["read"])
    refused = client.post("/api/v1/knowledge/collections", json={"name": "x"}, headers=reader)
    assert "“write” scope" in problem(refused, 403)["detail"]

    theirs = client.post(
        "/api/v1/knowledge/collections", json={"name": "Theirs"}, headers=org_key()
    ).json()
    mine = org_key()
    problem(
        client.get(f"/api/v1/knowledge/collections/{theirs['id']}/documents", headers=mine), 404
    )
    problem(upload(client, mine, theirs["id"], "a.txt", b"hello"), 404)
    problem(client.delete(f"/api/v1/knowledge/collections/{theirs['id']}", headers=mine), 404)
    searched = client.post(
        "/api/v1/knowledge/search",
        json={"query": "x", "collection_ids": [theirs["id"]]},
        headers=mine,
    )
    problem(searched, 404)
