"""Chroma access: one Chroma collection per knowledge collection, chunks keyed by document.

Why a module of its own: it is the only code that knows Chroma's API, so the service stays
readable and a switch of vector store touches one file. Chroma is never asked to embed (its
default embedding function downloads a model): vectors always come from `embedders`, and
collections are created with `embedding_function=None`.

Every chunk carries `org_id` in its metadata and every query filters on it — the database
already scopes collections by organization; this is the second lock on the same door.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypedDict, cast
from urllib.parse import urlparse

import chromadb
import chromadb.config
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.api.types import Metadata, PyEmbedding
from chromadb.errors import NotFoundError

from agent_platform.settings import get_settings
from services.errors import Unavailable

# SQLite-backed Chroma accepts at most ~5,000 records per call; stay well below.
_BATCH = 1000


class ChunkMetadata(TypedDict):
    document_id: str
    org_id: str
    filename: str
    chunk: int


@dataclass(frozen=True)
class StoredChunk:
    text: str
    distance: float
    metadata: ChunkMetadata


def chroma_name(collection_id: uuid.UUID) -> str:
    return f"kc_{collection_id.hex}"


@functools.cache
def get_client() -> ClientAPI:
    """The process's Chroma client: embedded under DATA_DIR/chroma, or CHROMA_URL's server."""
    settings = get_settings()
    chroma_settings = chromadb.config.Settings(anonymized_telemetry=False)
    with _chroma_errors("connect to"):
        if settings.chroma_url:
            url = urlparse(settings.chroma_url)
            ssl = url.scheme == "https"
            return chromadb.HttpClient(
                host=url.hostname or "localhost",
                port=url.port or (443 if ssl else 8000),
                ssl=ssl,
                settings=chroma_settings,
            )
        path = settings.data_dir / "chroma"
        path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(path), settings=chroma_settings)


def reset_client() -> None:
    """Forget the cached client (tests point DATA_DIR elsewhere between cases)."""
    get_client.cache_clear()


def add_chunks(
    collection_id: uuid.UUID,
    *,
    org_id: uuid.UUID,
    document_id: uuid.UUID,
    filename: str,
    chunks: list[str],
    embeddings: list[list[float]],
) -> None:
    """Store a document's chunks; on failure, remove whatever part was written."""
    if len(chunks) != len(embeddings):
        raise ValueError("one embedding per chunk")
    with _chroma_errors("write to"):
        collection = _collection(collection_id, create=True)
        assert collection is not None
        try:
            for start in range(0, len(chunks), _BATCH):
                end = start + _BATCH
                batch = range(start, min(end, len(chunks)))
                # Annotated with Chroma's own element types: its lists are invariant.
                metadatas: list[Metadata] = [
                    {  # the keys of ChunkMetadata
                        "document_id": str(document_id),
                        "org_id": str(org_id),
                        "filename": filename,
                        "chunk": index,
                    }
                    for index in batch
                ]
                vectors: list[PyEmbedding] = [*embeddings[start:end]]
                collection.add(
                    ids=[f"{document_id}:{index}" for index in batch],
                    embeddings=vectors,
                    documents=chunks[start:end],
                    metadatas=metadatas,
                )
        except Exception:
            collection.delete(where={"document_id": str(document_id)})
            raise


def query(
    collection_id: uuid.UUID, embedding: list[float], *, org_id: uuid.UUID, top_k: int
) -> list[StoredChunk]:
    """The `top_k` nearest chunks of one collection, nearest first ([] if it has none)."""
    with _chroma_errors("search"):
        collection = _collection(collection_id)
        if collection is None:
            return []
        probe: list[PyEmbedding] = [embedding]
        result = collection.query(
            query_embeddings=probe,
            n_results=top_k,
            where={"org_id": str(org_id)},
            include=["documents", "metadatas", "distances"],
        )
    documents = (result["documents"] or [[]])[0]
    metadatas = (result["metadatas"] or [[]])[0]
    distances = (result["distances"] or [[]])[0]
    return [
        StoredChunk(text=text, distance=float(distance), metadata=cast(ChunkMetadata, meta))
        for text, meta, distance in zip(documents, metadatas, distances, strict=True)
    ]


def count(collection_id: uuid.UUID, *, document_id: uuid.UUID | None = None) -> int:
    """How many chunks a collection (or one of its documents) has in Chroma."""
    with _chroma_errors("read"):
        collection = _collection(collection_id)
        if collection is None:
            return 0
        if document_id is None:
            return collection.count()
        return len(collection.get(where={"document_id": str(document_id)}, include=[])["ids"])


def delete_document(collection_id: uuid.UUID, document_id: uuid.UUID) -> None:
    """Remove every chunk of a document; a no-op when there are none."""
    with _chroma_errors("delete from"):
        collection = _collection(collection_id)
        if collection is not None:
            collection.delete(where={"document_id": str(document_id)})


def drop_collection(collection_id: uuid.UUID) -> None:
    """Remove a knowledge collection's Chroma collection; a no-op when it never had one."""
    with _chroma_errors("delete from"):
        try:
            get_client().delete_collection(chroma_name(collection_id))
        except NotFoundError:
            pass


def _collection(collection_id: uuid.UUID, *, create: bool = False) -> Collection | None:
    """Chroma collections are created on first write, so an empty knowledge collection (or a
    rolled-back creation) leaves nothing behind in Chroma."""
    client = get_client()
    name = chroma_name(collection_id)
    if create:
        return client.get_or_create_collection(
            name,
            embedding_function=None,
            configuration={"hnsw": {"space": "cosine"}},
        )
    try:
        return client.get_collection(name, embedding_function=None)
    except NotFoundError:
        return None


@contextmanager
def _chroma_errors(action: str) -> Iterator[None]:
    """A Chroma failure (server down, disk full) is the user's "try again later"."""
    try:
        yield
    except Unavailable:
        raise
    except Exception as exc:
        raise Unavailable(f"Could not {action} the vector store: {exc}") from exc
