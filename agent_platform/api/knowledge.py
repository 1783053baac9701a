"""Knowledge over REST (/api/v1): collections (list, create, delete), their documents (list,
upload, delete) and search. HTTP only; the rules (names, file types and sizes, the embedder)
are in `services.memory`. An upload is stored and indexed by a worker: it answers at once with
status `processing`; poll the document list until it is `ready` (or `failed`, with the reason).

Reads need any key; changes need the write scope.
"""

from __future__ import annotations

import io
import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from agent_platform.models import KnowledgeCollection, KnowledgeDocument
from services import memory
from services.memory import SearchHit
from services.memory.collections import visible_collections, visible_documents

from .pagination import Page, Paging, keyset, paged
from .v1 import ApiActor, RequestSession, WriteActor

router = APIRouter(prefix="/api/v1", tags=["knowledge"])
UPLOAD_PATH = "/knowledge/collections/{collection_id}/documents"


class CollectionOut(BaseModel):
    id: str
    name: str
    description: str
    embedder: str
    created_at: datetime


class CollectionIn(BaseModel):
    name: str
    description: str = ""


class DocumentOut(BaseModel):
    id: str
    collection_id: str
    filename: str
    content_type: str
    size_bytes: int
    chunk_count: int
    status: str
    error: str | None
    created_at: datetime


class SearchIn(BaseModel):
    query: str
    collection_ids: list[uuid.UUID] | None = Field(
        default=None, description="empty: every collection of the organization"
    )
    top_k: int = 5


def _collection_out(collection: KnowledgeCollection) -> CollectionOut:
    return CollectionOut(
        id=str(collection.id),
        name=collection.name,
        description=collection.description,
        embedder=memory.embedder_label(collection),
        created_at=collection.created_at,
    )


def _document_out(document: KnowledgeDocument) -> DocumentOut:
    return DocumentOut(
        id=str(document.id),
        collection_id=str(document.collection_id),
        filename=document.filename,
        content_type=document.content_type,
        size_bytes=document.size_bytes,
        chunk_count=document.chunk_count,
        status=document.status.value,
        error=document.error,
        created_at=document.created_at,
    )


@router.get("/knowledge/collections", response_model=Page[CollectionOut])
def list_collections(
    session: RequestSession, actor: ApiActor, paging: Paging
) -> Page[CollectionOut]:
    query = visible_collections(actor)
    rows = session.exec(
        keyset(query, KnowledgeCollection.created_at, KnowledgeCollection.id, paging)
    ).all()
    return Page[CollectionOut](**paged([_collection_out(c) for c in rows], rows, paging))


@router.post("/knowledge/collections", response_model=CollectionOut, status_code=201)
def create_collection(
    body: CollectionIn, session: RequestSession, actor: WriteActor
) -> CollectionOut:
    collection = memory.create_collection(
        session, actor, name=body.name, description=body.description
    )
    return _collection_out(collection)


@router.delete("/knowledge/collections/{collection_id}", status_code=204)
def delete_collection(
    collection_id: uuid.UUID, session: RequestSession, actor: WriteActor
) -> Response:
    """The collection, its documents and their chunks."""
    memory.delete_collection(session, actor, collection_id)
    return Response(status_code=204)


@router.get(UPLOAD_PATH, response_model=Page[DocumentOut])
def list_documents(
    collection_id: uuid.UUID, session: RequestSession, actor: ApiActor, paging: Paging
) -> Page[DocumentOut]:
    collection = memory.get_collection(session, actor, collection_id)
    query = visible_documents(actor).where(KnowledgeDocument.collection_id == collection.id)
    rows = session.exec(
        keyset(query, KnowledgeDocument.created_at, KnowledgeDocument.id, paging)
    ).all()
    return Page[DocumentOut](**paged([_document_out(d) for d in rows], rows, paging))


@router.post(UPLOAD_PATH, response_model=DocumentOut, status_code=202)
def upload_document(
    collection_id: uuid.UUID,
    session: RequestSession,
    actor: WriteActor,
    content: Annotated[
        bytes, Body(media_type="application/octet-stream", description="the file's bytes")
    ],
    filename: Annotated[str, Query(max_length=255, description="e.g. handbook.pdf")],
) -> DocumentOut:
    """The file is the raw body; its type comes from `filename` (.txt, .md, .pdf, …)."""
    document = memory.stage_document(
        session, actor, collection_id, filename=filename, source=io.BytesIO(content)
    )
    return _document_out(document)


@router.delete("/knowledge/documents/{document_id}", status_code=204)
def delete_document(document_id: uuid.UUID, session: RequestSession, actor: WriteActor) -> Response:
    memory.delete_document(session, actor, document_id)
    return Response(status_code=204)


@router.post("/knowledge/search", response_model=list[SearchHit])
def search(body: SearchIn, session: RequestSession, actor: ApiActor) -> list[SearchHit]:
    """The chunks most like `query`, best first."""
    return memory.search(
        session, actor, collection_ids=body.collection_ids, query=body.query, top_k=body.top_k
    )
