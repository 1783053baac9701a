"""Knowledge collections: named sets of uploaded documents that agents search.

Rows (collections, documents) live in the database; chunks and vectors live in Chroma. The
database is the source of truth for what exists and who may see it: every read starts from an
org-scoped row, and Chroma is only asked about collections that row lookup returned.

Ordering with Chroma, which is not part of the caller's transaction: writes reach Chroma only
after the row is in the session (flushed), so a database error never leaves Chroma changed,
and deletes wait for the caller's commit (`after_commit`), so a rolled-back delete keeps its
chunks. What remains is the gap around the commit: a crash or rollback after a write can leave
orphan chunks (no row), and a Chroma failure after a committed delete leaves chunks of a row
that is gone (the caller sees the error). Chunks are keyed by document_id, and search only
returns chunks of documents that still exist.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from pydantic import BaseModel, Field
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from agent_platform.db import after_commit
from agent_platform.models import DocumentStatus, KnowledgeCollection, KnowledgeDocument
from agent_platform.settings import get_settings
from services import audit
from services.access import Actor, Permission, require
from services.errors import Conflict, Invalid, NotFound
from services.memory import documents, embedders, store
from services.validation import parse


class CollectionInput(BaseModel):
    name: str = Field(min_length=1, max_length=80)
    description: str = Field(default="", max_length=500)


class UploadInput(BaseModel):
    filename: str = Field(min_length=1, max_length=255)


class SearchInput(BaseModel):
    query: str = Field(min_length=1, max_length=4000)
    top_k: int = Field(default=5, ge=1, le=50)


class SearchHit(BaseModel):
    """One matching chunk, with what a model needs to cite it."""

    text: str
    score: float  # cosine similarity: 1 is identical, 0 nothing in common
    filename: str
    document_id: uuid.UUID
    collection_id: uuid.UUID
    collection_name: str
    chunk: int


# --- collections -----------------------------------------------------------------------------


def create_collection(
    session: Session, actor: Actor, *, name: str, description: str = ""
) -> KnowledgeCollection:
    """A new, empty collection that will use the embedder configured now."""
    require(actor, Permission.KNOWLEDGE_WRITE)
    data = parse(CollectionInput, {"name": name.strip(), "description": description.strip()})
    if _find_by_name(session, actor, data.name) is not None:
        raise Conflict(
            f"A collection named {data.name!r} already exists.",
            fields={"name": "Already in use"},
        )
    # Constructing it checks availability (the local model's package) before anything is saved.
    embedder = embedders.get_embedder()
    collection = KnowledgeCollection(
        org_id=actor.org_id,
        name=data.name,
        description=data.description,
        embedder=embedder.name,
    )
    session.add(collection)
    session.flush()
    audit.record(
        session,
        "knowledge.collection_created",
        org_id=actor.org_id,
        actor_id=actor.user_id,
        target_type="knowledge_collection",
        target_id=collection.id,
        name=collection.name,
        client_ip=actor.client_ip,
    )
    return collection


def visible_collections(actor: Actor) -> SelectOfScalar[KnowledgeCollection]:
    """Every collection read starts here: the actor's organization's, nothing else."""
    return select(KnowledgeCollection).where(KnowledgeCollection.org_id == actor.org_id)


def visible_documents(actor: Actor) -> SelectOfScalar[KnowledgeDocument]:
    """Every document read starts here: the actor's organization's, nothing else."""
    return select(KnowledgeDocument).where(KnowledgeDocument.org_id == actor.org_id)


def list_collections(session: Session, actor: Actor) -> list[KnowledgeCollection]:
    return list(
        session.exec(visible_collections(actor).order_by(col(KnowledgeCollection.name))).all()
    )


def get_collection(session: Session, actor: Actor, collection_id: uuid.UUID) -> KnowledgeCollection:
    collection = session.exec(
        visible_collections(actor).where(KnowledgeCollection.id == collection_id)
    ).first()
    if collection is None:
        raise NotFound("Knowledge collection not found.")
    return collection


def get_document(session: Session, actor: Actor, document_id: uuid.UUID) -> KnowledgeDocument:
    document = session.exec(
        visible_documents(actor).where(KnowledgeDocument.id == document_id)
    ).first()
    if document is None:
        raise NotFound("Document not found.")
    return document


def get_collection_by_name(session: Session, actor: Actor, name: str) -> KnowledgeCollection:
    collection = _find_by_name(session, actor, name.strip())
    if collection is None:
        raise NotFound(f"Knowledge collection {name.strip()!r} not found.")
    return collection


def delete_collection(session: Session, actor: Actor, collection_id: uuid.UUID) -> None:
    """Delete the collection, its documents and (after the commit) its Chroma collection."""
    require(actor, Permission.KNOWLEDGE_WRITE)
    collection = get_collection(session, actor, collection_id)
    collection_id, name = collection.id, collection.name
    # Explicit, not left to ON DELETE CASCADE: SQLite enforces foreign keys only when asked.
    for document in session.exec(
        select(KnowledgeDocument).where(KnowledgeDocument.collection_id == collection.id)
    ).all():
        session.delete(document)
    session.flush()
    session.delete(collection)
    session.flush()
    after_commit(session, lambda: store.drop_collection(collection_id))
    audit.record(
        session,
        "knowledge.collection_deleted",
        org_id=actor.org_id,
        actor_id=actor.user_id,
        target_type="knowledge_collection",
        target_id=collection_id,
        name=name,
        client_ip=actor.client_ip,
    )


def embedder_label(collection: KnowledgeCollection) -> str:
    """The collection's embedder as the UI shows it ("lexical (built-in, offline)")."""
    return embedders.describe(collection.embedder)


# --- documents -------------------------------------------------------------------------------


def add_document(
    session: Session, actor: Actor, collection_id: uuid.UUID, *, filename: str, data: bytes
) -> KnowledgeDocument:
    """Parse, chunk, embed and index an upload; returns its row with status ready.

    Everything that can fail on the user's input (size, type, parsing) or on the embedder
    happens before anything is written, so a refused upload leaves no row and no chunks.
    """
    require(actor, Permission.KNOWLEDGE_WRITE)
    collection = get_collection(session, actor, collection_id)
    name = parse(UploadInput, {"filename": base_name(filename)}).filename
    limit = get_settings().max_upload_bytes
    if len(data) > limit:
        raise Invalid(
            f"{name} is {len(data):,} bytes; the limit is {limit:,} bytes.",
            fields={"file": "Too large"},
        )
    text = documents.extract_text(name, data)
    chunks = documents.chunk(text)
    vectors = embedders.get_embedder(collection.embedder).embed(chunks)
    document = new_document(
        session,
        actor,
        collection,
        name=name,
        size_bytes=len(data),
        status=DocumentStatus.READY,
        chunk_count=len(chunks),
    )
    store.add_chunks(
        collection.id,
        org_id=actor.org_id,
        document_id=document.id,
        filename=name,
        chunks=chunks,
        embeddings=vectors,
    )
    return document


def new_document(
    session: Session,
    actor: Actor,
    collection: KnowledgeCollection,
    *,
    name: str,
    size_bytes: int,
    status: DocumentStatus,
    chunk_count: int = 0,
) -> KnowledgeDocument:
    """A document's row (flushed, so it has its id) and its audit entry: one shape for the
    indexed-now path and the worker path."""
    document = KnowledgeDocument(
        org_id=actor.org_id,
        collection_id=collection.id,
        filename=name,
        content_type=documents.content_type(name),
        size_bytes=size_bytes,
        chunk_count=chunk_count,
        status=status,
    )
    session.add(document)
    session.flush()
    audit.by_actor(
        session,
        actor,
        "knowledge.document_added",
        target_type="knowledge_document",
        target_id=document.id,
        filename=name,
        collection=collection.name,
    )
    return document


def list_documents(
    session: Session, actor: Actor, collection_id: uuid.UUID
) -> list[KnowledgeDocument]:
    collection = get_collection(session, actor, collection_id)
    return list(
        session.exec(
            visible_documents(actor)
            .where(KnowledgeDocument.collection_id == collection.id)
            .order_by(col(KnowledgeDocument.created_at).desc(), col(KnowledgeDocument.filename))
        ).all()
    )


def delete_document(session: Session, actor: Actor, document_id: uuid.UUID) -> None:
    """Delete the row, and its chunks from Chroma once that is committed."""
    require(actor, Permission.KNOWLEDGE_WRITE)
    document = get_document(session, actor, document_id)
    collection_id, filename = document.collection_id, document.filename
    session.delete(document)
    session.flush()
    after_commit(session, lambda: store.delete_document(collection_id, document_id))
    audit.record(
        session,
        "knowledge.document_deleted",
        org_id=actor.org_id,
        actor_id=actor.user_id,
        target_type="knowledge_document",
        target_id=document_id,
        filename=filename,
        client_ip=actor.client_ip,
    )


# --- search ----------------------------------------------------------------------------------


def search(
    session: Session,
    actor: Actor,
    *,
    collection_ids: Sequence[uuid.UUID] | None = None,
    collection_names: Sequence[str] | None = None,
    query: str,
    top_k: int = 5,
) -> list[SearchHit]:
    """The `top_k` chunks most similar to `query` across the named collections, best first.

    Collections may be given by id, by name, or both; with neither, every collection of the
    actor's organization is searched (an explicitly empty list searches none). An unknown id
    or name — including one of another organization — is NotFound. Chunks that share nothing
    with the query (score <= 0) are left out.
    """
    data = parse(SearchInput, {"query": query.strip(), "top_k": top_k})
    collections = _resolve(session, actor, collection_ids, collection_names)
    query_vectors: dict[str, list[float]] = {}
    hits: list[SearchHit] = []
    for collection in collections:
        if collection.embedder not in query_vectors:
            embedder = embedders.get_embedder(collection.embedder)
            query_vectors[collection.embedder] = embedder.embed([data.query])[0]
        found = store.query(
            collection.id,
            query_vectors[collection.embedder],
            org_id=actor.org_id,
            top_k=data.top_k,
        )
        hits.extend(
            SearchHit(
                text=item.text,
                score=round(1.0 - item.distance, 6),
                filename=item.metadata["filename"],
                document_id=uuid.UUID(item.metadata["document_id"]),
                collection_id=collection.id,
                collection_name=collection.name,
                chunk=item.metadata["chunk"],
            )
            for item in found
        )
    hits = [hit for hit in hits if hit.score > 0]
    if hits:  # a delete whose Chroma purge failed after the commit leaves chunks of no row
        ids = {hit.document_id for hit in hits}
        alive = set(
            session.exec(
                select(KnowledgeDocument.id).where(col(KnowledgeDocument.id).in_(ids))
            ).all()
        )
        hits = [hit for hit in hits if hit.document_id in alive]
    hits.sort(key=lambda hit: hit.score, reverse=True)
    return hits[: data.top_k]


# --- helpers ---------------------------------------------------------------------------------


def _find_by_name(session: Session, actor: Actor, name: str) -> KnowledgeCollection | None:
    return session.exec(visible_collections(actor).where(KnowledgeCollection.name == name)).first()


def _resolve(
    session: Session,
    actor: Actor,
    ids: Sequence[uuid.UUID] | None,
    names: Sequence[str] | None,
) -> list[KnowledgeCollection]:
    if ids is None and names is None:
        return list_collections(session, actor)
    found: dict[uuid.UUID, KnowledgeCollection] = {}
    for collection_id in ids or ():
        collection = get_collection(session, actor, collection_id)
        found[collection.id] = collection
    for name in names or ():
        collection = get_collection_by_name(session, actor, name)
        found[collection.id] = collection
    return list(found.values())


def base_name(filename: str) -> str:
    """The file's own name: browsers on Windows may send "C:\\Users\\...\\notes.txt"."""
    return filename.replace("\\", "/").rsplit("/", 1)[-1].strip()
