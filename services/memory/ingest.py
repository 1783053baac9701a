"""Uploads indexed on a worker: the web request only checks and stores, a job parses and embeds.

Why: parsing a 20 MB PDF and embedding thousands of chunks took the web process's CPU (and a
sentence-transformers model its memory) while every other page waited. Now the request reads
the upload in pieces — refusing it as soon as it passes the size limit, never holding more than
the limit — and writes the row (status processing) and the bytes (`document_uploads`) in the
caller's transaction; the job is enqueued only after that commit. The worker reports progress
through a callback its wrapper publishes, marks the row ready or failed (with the reason in
words), and drops the bytes either way.

Chroma is not part of the transaction: a job that dies between writing chunks and its commit
leaves chunks for a row still processing; the next attempt deletes the document's chunks
before writing them again, so retries converge.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import BinaryIO, Protocol, cast

from rq import Retry
from rq.job import Job
from sqlmodel import Session, col, select

from agent_platform.db import after_commit
from agent_platform.models import (
    DocumentStatus,
    DocumentUpload,
    KnowledgeCollection,
    KnowledgeDocument,
)
from agent_platform.models.base import utcnow
from agent_platform.redis_client import get_redis
from agent_platform.settings import get_settings
from services.access import Actor, Permission, require
from services.errors import DomainError, Invalid
from services.memory import documents, embedders, store
from services.memory.collections import UploadInput, base_name, get_collection, new_document
from services.queue import queue
from services.validation import parse

READ_SIZE = 1 << 20
EMBED_BATCH = 64
INGEST_QUEUE = "default"
INGEST_JOB = "agent_platform.worker.ingest_document"

Progress = Callable[[int, int], None]  # (chunks embedded, chunks in all)


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def read_limited(source: Readable | BinaryIO, *, name: str, limit: int) -> bytes:
    """The whole upload, read in pieces; refused the moment it is longer than `limit`."""
    parts: list[bytes] = []
    size = 0
    while True:
        piece = source.read(READ_SIZE)
        if not piece:
            return b"".join(parts)
        size += len(piece)
        if size > limit:
            raise Invalid(
                f"{name} is larger than the limit of {limit:,} bytes.",
                fields={"file": "Too large"},
            )
        parts.append(piece)


class UploadBuffer:
    """One file's bytes as the browser streams them in, refused the moment they pass the limit.

    The web handler feeds chunks as they arrive and stops reading the request on the first
    `Invalid`, so an oversized upload costs at most the limit in memory, never its full size."""

    def __init__(self, filename: str, *, limit: int | None = None) -> None:
        self.filename = filename
        self.limit = get_settings().max_upload_bytes if limit is None else limit
        self.size = 0
        self._parts: list[bytes] = []

    def add(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit:
            self._parts = []
            name = base_name(self.filename)
            raise Invalid(
                f"{name} is larger than the limit of {self.limit:,} bytes.",
                fields={"file": "Too large"},
            )
        self._parts.append(data)

    def reader(self) -> io.BytesIO:
        return io.BytesIO(b"".join(self._parts))


def progress_key(document_id: uuid.UUID) -> str:
    """Where the worker's job wrapper keeps "done/total" chunks embedded while it indexes."""
    return f"knowledge:progress:{document_id}"


def read_progress(document_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Percent embedded of each document still being indexed (missing: not started yet)."""
    if not document_ids:
        return {}
    # redis-py types its sync and async clients alike (Awaitable | Any); ours is sync.
    values = cast("list[bytes | None]", get_redis().mget([progress_key(d) for d in document_ids]))
    shown: dict[uuid.UUID, int] = {}
    for document_id, value in zip(document_ids, values, strict=True):
        if value is None:
            continue
        done, _, total = (value.decode() if isinstance(value, bytes) else str(value)).partition("/")
        if done.isdigit() and total.isdigit() and int(total) > 0:
            shown[document_id] = min(100, int(done) * 100 // int(total))
    return shown


def job_id(document_id: uuid.UUID) -> str:
    return f"ingest-{document_id}"


def enqueue_ingest(document_id: uuid.UUID) -> None:
    """One job per document (the job id is the document's): enqueueing twice is harmless."""
    queue(INGEST_QUEUE).enqueue(
        INGEST_JOB,
        str(document_id),
        job_id=job_id(document_id),
        retry=Retry(max=2, interval=[5, 30]),
        job_timeout=1800,
        result_ttl=600,
    )


def stage_document(
    session: Session, actor: Actor, collection_id: uuid.UUID, *, filename: str, source: Readable
) -> KnowledgeDocument:
    """Check and store an upload; the indexing job starts after the caller commits.

    Type and size are refused here, before any row exists; what only parsing can tell (a
    damaged PDF, no text) marks the document failed later, with the reason shown beside it."""
    require(actor, Permission.KNOWLEDGE_WRITE)
    collection = get_collection(session, actor, collection_id)
    name = parse(UploadInput, {"filename": base_name(filename)}).filename
    documents.check_type(name)
    data = read_limited(source, name=name, limit=get_settings().max_upload_bytes)
    if not data:
        raise Invalid(f"{name} is empty.", fields={"file": "Empty file"})
    document = new_document(
        session,
        actor,
        collection,
        name=name,
        size_bytes=len(data),
        status=DocumentStatus.PROCESSING,
    )
    session.add(DocumentUpload(document_id=document.id, data=data))
    session.flush()
    document_id = document.id
    after_commit(session, lambda: enqueue_ingest(document_id))
    return document


def ingest_document(
    session: Session, document_id: uuid.UUID, *, progress: Progress | None = None
) -> KnowledgeDocument | None:
    """Parse, chunk, embed and index a staged upload (the worker's side).

    Idempotent on the document id: a document already ready or failed, deleted, or without
    staged bytes is left as it is (None when there is nothing to do)."""
    document = session.get(KnowledgeDocument, document_id)
    upload = session.get(DocumentUpload, document_id)
    if document is None or upload is None or document.status != DocumentStatus.PROCESSING:
        return None
    collection_id = document.collection_id
    try:
        collection = session.get_one(KnowledgeCollection, collection_id)
        text = documents.extract_text(document.filename, upload.data)
        chunks = documents.chunk(text)
        embedder = embedders.get_embedder(collection.embedder)
        vectors: list[list[float]] = []
        for start in range(0, len(chunks), EMBED_BATCH):
            vectors.extend(embedder.embed(chunks[start : start + EMBED_BATCH]))
            if progress is not None:
                progress(len(vectors), len(chunks))
        store.delete_document(collection_id, document.id)
        store.add_chunks(
            collection_id,
            org_id=document.org_id,
            document_id=document.id,
            filename=document.filename,
            chunks=chunks,
            embeddings=vectors,
        )
    except DomainError as exc:
        document.status = DocumentStatus.FAILED
        document.error = exc.message
    else:
        document.status = DocumentStatus.READY
        document.chunk_count = len(chunks)
        document.error = None
    session.add(document)
    session.delete(upload)
    session.flush()
    return document


def stuck_documents(
    session: Session, *, older_than: timedelta = timedelta(0), limit: int = 100
) -> list[uuid.UUID]:
    """Documents still processing with their bytes staged, staged before `older_than` ago:
    their job may have been lost with Redis (see `requeue_lost`)."""
    cutoff = utcnow() - older_than
    return list(
        session.exec(
            select(KnowledgeDocument.id)
            .join(DocumentUpload, col(DocumentUpload.document_id) == col(KnowledgeDocument.id))
            .where(
                KnowledgeDocument.status == DocumentStatus.PROCESSING,
                col(KnowledgeDocument.created_at) <= cutoff,
            )
            .limit(limit)
        ).all()
    )


def requeue_lost(session: Session, *, older_than: timedelta = timedelta(seconds=30)) -> int:
    """Enqueue again every staged document whose job Redis no longer holds (a crash, a flush,
    a restart without persistence); a job still queued or running is left alone. For the
    reconciler: the database, not Redis, says what still needs indexing."""
    redis = get_redis()
    lost = [
        document_id
        for document_id in stuck_documents(session, older_than=older_than)
        if not Job.exists(job_id(document_id), connection=redis)
    ]
    for document_id in lost:
        enqueue_ingest(document_id)
    return len(lost)
