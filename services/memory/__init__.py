"""Knowledge memory: collections of uploaded documents that agents search by meaning.

`collections` holds the service API (what the UI, the REST API and agent tools call);
`documents` parses and chunks uploads, `embedders` turns text into vectors, and `store` is
the only code that talks to Chroma.
"""

from services.memory.collections import (
    SearchHit,
    add_document,
    create_collection,
    delete_collection,
    delete_document,
    embedder_label,
    get_collection,
    get_collection_by_name,
    list_collections,
    list_documents,
    search,
)
from services.memory.embedders import active_embedder_name
from services.memory.ingest import UploadBuffer, read_progress, stage_document

__all__ = [
    "SearchHit",
    "UploadBuffer",
    "active_embedder_name",
    "add_document",
    "create_collection",
    "delete_collection",
    "delete_document",
    "embedder_label",
    "get_collection",
    "get_collection_by_name",
    "list_collections",
    "list_documents",
    "read_progress",
    "search",
    "stage_document",
]
