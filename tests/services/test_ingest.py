"""Uploads are checked while read, stored, and indexed by a worker job, with progress."""

from __future__ import annotations

import io
import uuid
from datetime import timedelta

import pytest
from rq import SimpleWorker
from sqlmodel import Session, select

from agent_platform.db import session_scope
from agent_platform.models import DocumentStatus, DocumentUpload, KnowledgeDocument, Role
from agent_platform.redis_client import get_redis
from agent_platform.settings import get_settings
from services.access import Actor
from services.errors import Forbidden, Invalid, NotFound
from services.memory import collections as memory
from services.memory import ingest, store
from services.queue import queue
from tests.factories import add_member, make_user, personal_actor
from tests.services.knowledge_fixtures import data_dir  # noqa: F401 - autouse


class EndlessUpload:
    """A client that keeps sending: the reader must stop soon after the limit."""

    def __init__(self) -> None:
        self.read_bytes = 0

    def read(self, size: int = -1, /) -> bytes:
        size = size if size > 0 else 1 << 20
        self.read_bytes += size
        return b"x" * size


@pytest.fixture
def owner(session: Session) -> Actor:
    return personal_actor(session, make_user(session))


def _collection(session: Session, actor: Actor, name: str = "Docs") -> uuid.UUID:
    collection = memory.create_collection(session, actor, name=name)
    session.commit()
    return collection.id


def _stage(actor: Actor, collection_id: uuid.UUID, filename: str, data: bytes) -> uuid.UUID:
    """As the web request does: its own transaction, committed, which enqueues the job."""
    with session_scope() as s:
        return ingest.stage_document(
            s, actor, collection_id, filename=filename, source=io.BytesIO(data)
        ).id


def _work() -> None:
    SimpleWorker([queue(ingest.INGEST_QUEUE)], connection=get_redis()).work(burst=True)


def _document(session: Session, document_id: uuid.UUID) -> KnowledgeDocument:
    session.expire_all()
    document = session.get(KnowledgeDocument, document_id)
    assert document is not None
    return document


PLANETS = "Jupiter is the largest planet. " * 400


class TestStaging:
    def test_an_endless_upload_is_refused_after_the_limit(
        self, session: Session, owner: Actor, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("MAX_UPLOAD_BYTES", str(3 * ingest.READ_SIZE))
        get_settings.cache_clear()
        collection_id = _collection(session, owner)
        source = EndlessUpload()
        with pytest.raises(Invalid) as caught:
            with session_scope() as s:
                ingest.stage_document(s, owner, collection_id, filename="big.txt", source=source)
        assert caught.value.message == "big.txt is larger than the limit of 3,145,728 bytes."
        assert source.read_bytes <= 4 * ingest.READ_SIZE
        session.expire_all()
        assert session.exec(select(KnowledgeDocument)).all() == []

    def test_unsupported_type_is_refused_before_reading(self, session, owner) -> None:
        collection_id = _collection(session, owner)
        source = EndlessUpload()
        with pytest.raises(Invalid) as caught:
            with session_scope() as s:
                ingest.stage_document(s, owner, collection_id, filename="run.exe", source=source)
        assert caught.value.message.startswith("Unsupported file type .exe")
        assert source.read_bytes == 0

    def test_staged_document_waits_as_processing_with_its_bytes(self, session, owner) -> None:
        collection_id = _collection(session, owner)
        document_id = _stage(owner, collection_id, "planets.txt", PLANETS.encode())
        document = _document(session, document_id)
        assert document.status == DocumentStatus.PROCESSING
        assert document.size_bytes == len(PLANETS)
        assert session.get(DocumentUpload, document_id) is not None
        assert queue(ingest.INGEST_QUEUE).fetch_job(ingest.job_id(document_id)) is not None

    def test_a_refused_transaction_enqueues_nothing(self, session, owner) -> None:
        collection_id = _collection(session, owner)
        with pytest.raises(RuntimeError):
            with session_scope() as s:
                staged = ingest.stage_document(
                    s, owner, collection_id, filename="a.txt", source=io.BytesIO(b"hello")
                )
                document_id = staged.id
                raise RuntimeError("the caller fails after staging")
        assert queue(ingest.INGEST_QUEUE).fetch_job(ingest.job_id(document_id)) is None

    def test_viewer_cannot_upload(self, session, owner) -> None:
        collection_id = _collection(session, owner)
        _user, viewer = add_member(session, owner.org_id, role=Role.VIEWER)
        session.commit()
        with pytest.raises(Forbidden):
            with session_scope() as s:
                ingest.stage_document(
                    s, viewer, collection_id, filename="a.txt", source=io.BytesIO(b"hi")
                )

    def test_other_org_collection_is_not_found(self, session, owner) -> None:
        collection_id = _collection(session, owner)
        stranger = personal_actor(session, make_user(session))
        session.commit()
        with pytest.raises(NotFound):
            with session_scope() as s:
                ingest.stage_document(
                    s, stranger, collection_id, filename="a.txt", source=io.BytesIO(b"hi")
                )


class TestIndexingJob:
    def test_worker_indexes_the_upload_and_drops_the_bytes(self, session, owner) -> None:
        collection_id = _collection(session, owner)
        document_id = _stage(owner, collection_id, "planets.txt", PLANETS.encode())
        _work()
        document = _document(session, document_id)
        assert document.status == DocumentStatus.READY, document.error
        assert document.chunk_count > 1
        assert session.get(DocumentUpload, document_id) is None
        hits = memory.search(session, owner, query="largest planet", collection_ids=[collection_id])
        assert hits and hits[0].filename == "planets.txt"
        assert get_redis().get(ingest.progress_key(document_id)) is None

    def test_a_damaged_file_fails_with_its_reason(self, session, owner) -> None:
        collection_id = _collection(session, owner)
        document_id = _stage(owner, collection_id, "broken.pdf", b"%PDF-1.7 not really a pdf")
        _work()
        document = _document(session, document_id)
        assert document.status == DocumentStatus.FAILED
        assert document.error and "broken.pdf" in document.error
        assert "Traceback" not in document.error
        assert session.get(DocumentUpload, document_id) is None

    def test_progress_is_reported_per_batch(self, session, owner) -> None:
        collection_id = _collection(session, owner)
        text = "".join(f"Fact number {i} is about moon {i}. " * 20 + "\n\n" for i in range(150))
        document_id = _stage(owner, collection_id, "facts.txt", text.encode())
        seen: list[tuple[int, int]] = []
        with session_scope() as s:
            ingest.ingest_document(s, document_id, progress=lambda d, t: seen.append((d, t)))
        total = seen[-1][1]
        assert total > ingest.EMBED_BATCH
        assert seen[-1] == (total, total)
        assert [d for d, _ in seen] == sorted(d for d, _ in seen) and len(seen) > 1

    def test_the_job_is_idempotent(self, session, owner) -> None:
        collection_id = _collection(session, owner)
        document_id = _stage(owner, collection_id, "planets.txt", PLANETS.encode())
        _work()
        with session_scope() as s:
            assert ingest.ingest_document(s, document_id) is None
        assert (
            store.count(collection_id, document_id=document_id)
            == _document(session, document_id).chunk_count
        )

    def test_read_progress_in_percent(self, owner) -> None:
        known, unknown = uuid.uuid4(), uuid.uuid4()
        get_redis().set(ingest.progress_key(known), "30/120")
        assert ingest.read_progress([known, unknown]) == {known: 25}

    def test_documents_whose_job_was_lost_are_found_again(self, session, owner) -> None:
        collection_id = _collection(session, owner)
        document_id = _stage(owner, collection_id, "planets.txt", PLANETS.encode())
        with session_scope() as s:  # its job is still in Redis: nothing to do
            assert ingest.requeue_lost(s, older_than=timedelta(0)) == 0
        get_redis().flushdb()  # Redis lost the job
        with session_scope() as s:
            assert ingest.stuck_documents(s) == [document_id]
            assert ingest.requeue_lost(s, older_than=timedelta(minutes=5)) == 0  # too recent
            assert ingest.requeue_lost(s, older_than=timedelta(0)) == 1
        _work()
        assert _document(session, document_id).status == DocumentStatus.READY
        with session_scope() as s:
            assert ingest.stuck_documents(s) == []
