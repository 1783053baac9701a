"""Knowledge: collections, their documents (upload, list, delete) and a search box.

Parsing, embedding and searching can take seconds with a local or API embedder, so those
service calls run in a worker thread instead of blocking every other user's events.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import reflex as rx

from agent_platform.models import DocumentStatus
from agent_platform.settings import get_settings
from services import memory
from services.access import Permission
from services.errors import DomainError
from services.memory.documents import CONTENT_TYPES
from state.base import SessionState, form_text, format_utc, parse_id

UPLOAD_ID = "knowledge-upload"


def _accept() -> dict[str, list[str]]:
    """What the upload box accepts: what the reader can read (content type → extensions)."""
    accept: dict[str, list[str]] = {}
    for extension, content_type in CONTENT_TYPES.items():
        accept.setdefault(content_type, []).append(extension)
    return accept


ACCEPT = _accept()
EXCERPT_CHARS = 400
WATCH_LIMIT_SECONDS = 3600


def _size(n: int) -> str:
    for unit in ("bytes", "KB", "MB"):
        if n < 1024 or unit == "MB":
            return f"{n:,} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return ""


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS].rsplit(" ", 1)[0] + " …"


class KnowledgeState(SessionState):
    loading: bool = False
    error: str = ""
    field_errors: dict[str, str] = {}
    active_embedder: str = ""
    max_upload: str = ""
    collections: list[dict[str, str]] = []
    selected_id: str = ""
    documents: list[dict[str, str]] = []
    uploading: bool = False
    upload_errors: list[str] = []
    processing: bool = False
    _watching: bool = False
    query: str = ""
    searching: bool = False
    searched: bool = False
    search_all: bool = False
    hits: list[dict[str, str]] = []

    @rx.var
    def can_edit(self) -> bool:
        return Permission.KNOWLEDGE_WRITE.value in self.permissions

    @rx.var
    def selected(self) -> dict[str, str]:
        return next((c for c in self.collections if c["id"] == self.selected_id), {})

    @rx.event
    def load(self) -> rx.event.EventSpec | None:
        if not self._load_identity():
            return rx.redirect("/login?next=/knowledge")
        self.loading = True
        self.error, self.field_errors = "", {}
        self.active_embedder = memory.active_embedder_name()
        self.max_upload = _size(get_settings().max_upload_bytes)
        self.hits, self.searched, self.upload_errors = [], False, []
        try:
            self._refresh()
        except DomainError as exc:
            self.error = exc.message
        finally:
            self.loading = False
        return KnowledgeState.watch_processing if self.processing else None

    def _refresh(self) -> None:
        with self.acting() as (session, _user, actor):
            self.collections = [
                {
                    "id": str(c.id),
                    "name": c.name,
                    "description": c.description,
                    "embedder": memory.embedder_label(c),
                    "created": format_utc(c.created_at),
                }
                for c in memory.list_collections(session, actor)
            ]
            ids = {c["id"] for c in self.collections}
            if self.selected_id not in ids:
                self.selected_id = self.collections[0]["id"] if self.collections else ""
            if not self.selected_id:
                self.documents = []
                return
            listed = memory.list_documents(session, actor, uuid.UUID(self.selected_id))
            waiting = [d.id for d in listed if d.status == DocumentStatus.PROCESSING]
            progress = memory.read_progress(waiting)
            self.documents = [
                {
                    "id": str(d.id),
                    "filename": d.filename,
                    "status": d.status.value,
                    "progress": f"{progress[d.id]}%" if d.id in progress else "",
                    "error": d.error or "",
                    "chunks": str(d.chunk_count),
                    "size": _size(d.size_bytes),
                    "added": format_utc(d.created_at),
                }
                for d in listed
            ]
            self.processing = bool(waiting)

    def _fail(self, exc: DomainError) -> rx.event.EventSpec:
        self.error = exc.message
        self.field_errors = {
            ("collection_name" if k == "name" else k): v for k, v in exc.fields.items()
        }
        return rx.toast.error(exc.message)

    # --- collections --------------------------------------------------------------------------

    @rx.event
    def select(self, collection_id: str) -> rx.event.EventSpec | None:
        self.selected_id = collection_id
        self.error, self.field_errors, self.upload_errors = "", {}, []
        self.hits, self.searched = [], False
        try:
            self._refresh()
        except DomainError as exc:
            return self._fail(exc)
        return KnowledgeState.watch_processing if self.processing else None

    @rx.event
    def create(self, form: dict[str, str]) -> rx.event.EventSpec | None:
        self.error, self.field_errors = "", {}
        try:
            with self.acting() as (session, _u, actor):
                created = memory.create_collection(
                    session,
                    actor,
                    name=form_text(form, "collection_name", ""),
                    description=form_text(form, "collection_description", ""),
                )
                new_id, name = str(created.id), created.name
        except DomainError as exc:
            return self._fail(exc)
        self.selected_id = new_id
        self.hits, self.searched = [], False
        self._refresh()
        return rx.toast.success(f"Collection {name!r} created.")

    @rx.event
    def delete_collection(self, collection_id: str) -> rx.event.EventSpec | None:
        self.error = ""
        try:
            cid = parse_id(collection_id, "Knowledge collection")
            with self.acting() as (session, _u, actor):
                memory.delete_collection(session, actor, cid)
        except DomainError as exc:
            return self._fail(exc)
        self.hits, self.searched = [], False
        self._refresh()
        return rx.toast.success("Collection deleted.")

    # --- documents ----------------------------------------------------------------------------

    def _stage(self, collection_id: uuid.UUID, upload: memory.UploadBuffer) -> None:
        with self.acting() as (session, _u, actor):
            memory.stage_document(
                session, actor, collection_id, filename=upload.filename, source=upload.reader()
            )

    async def _stage_each(
        self, collection_id: uuid.UUID, chunks: rx.UploadChunkIterator
    ) -> tuple[list[str], list[str]]:
        """Stage each file as its last chunk arrives, in its own transaction (one bad file
        does not undo the others); stop reading the request at the first file over the limit."""
        added: list[str] = []
        failed: list[str] = []
        current: memory.UploadBuffer | None = None

        async def finish(upload: memory.UploadBuffer) -> None:
            try:
                await asyncio.to_thread(self._stage, collection_id, upload)
                added.append(upload.filename)
            except DomainError as exc:
                name = upload.filename
                failed.append(exc.message if name in exc.message else f"{name}: {exc.message}")

        try:
            async for chunk in chunks:
                if current is None or chunk.filename != current.filename:
                    if current is not None:
                        await finish(current)
                    current = memory.UploadBuffer(chunk.filename)
                current.add(chunk.data)
        except DomainError as exc:  # over the limit: the rest of the request is not read
            failed.append(exc.message)
            return added, failed
        if current is not None:
            await finish(current)
        return added, failed

    @rx.event(background=True)
    async def upload(self, chunks: rx.UploadChunkIterator) -> AsyncIterator[rx.event.EventSpec]:
        async with self:
            self.error, self.upload_errors = "", []
            selected = self.selected_id
            self.uploading = True
        try:
            added, failed = await self._stage_each(
                parse_id(selected, "Knowledge collection"), chunks
            )
        except DomainError as exc:
            added, failed = [], [exc.message]
        async with self:
            self.uploading = False
            self.upload_errors = failed
            try:
                await asyncio.to_thread(self._refresh)
            except DomainError as exc:
                self.error = exc.message
        yield rx.clear_selected_files(UPLOAD_ID)
        if added:
            yield rx.toast.success(f"Indexing {len(added)} document(s): {', '.join(added)}.")
        if failed:
            yield rx.toast.error(f"{len(failed)} file(s) were not added.")
        if added:
            yield KnowledgeState.watch_processing

    @rx.event(background=True)
    async def watch_processing(self) -> None:
        """Refresh the document list while the worker indexes, so status and progress move
        without a reload; ends when nothing is processing or the person left the page."""
        async with self:
            if self._watching:
                return
            self._watching = True
        try:
            for _ in range(WATCH_LIMIT_SECONDS):
                await asyncio.sleep(1.0)
                async with self:
                    if not self.router.page.path.startswith("/knowledge"):
                        return
                    try:
                        await asyncio.to_thread(self._refresh)
                    except DomainError as exc:
                        self.error = exc.message
                        return
                    if not self.processing:
                        return
        finally:
            async with self:
                self._watching = False

    @rx.event
    def delete_document(self, document_id: str) -> rx.event.EventSpec | None:
        self.error = ""
        try:
            did = parse_id(document_id, "Document")
            with self.acting() as (session, _u, actor):
                memory.delete_document(session, actor, did)
        except DomainError as exc:
            return self._fail(exc)
        self._refresh()
        return rx.toast.success("Document deleted.")

    # --- search -------------------------------------------------------------------------------

    @rx.event
    def set_search_all(self, value: bool) -> None:
        self.search_all = value

    def _search(self, query: str, collection_id: uuid.UUID | None) -> list[memory.SearchHit]:
        with self.acting() as (session, _u, actor):
            return memory.search(
                session,
                actor,
                collection_ids=None if collection_id is None else [collection_id],
                query=query,
                top_k=8,
            )

    @rx.event
    async def search(self, form: dict[str, str]) -> AsyncIterator[rx.event.EventSpec | None]:
        self.query = form_text(form, "q", "").strip()
        self.error, self.field_errors = "", {}
        if not self.query:
            self.field_errors = {"q": "Type what you are looking for."}
            return
        self.searching = True
        yield
        try:
            scope = None if self.search_all else parse_id(self.selected_id, "Knowledge collection")
            found = await asyncio.to_thread(self._search, self.query, scope)
        except DomainError as exc:
            self.searching = False
            self.hits, self.searched = [], False
            self.field_errors = {"q": exc.fields.get("query", exc.message)}
            yield rx.toast.error(exc.message)
            return
        self.searching = False
        self.searched = True
        self.hits = [
            {
                "text": _excerpt(h.text),
                "filename": h.filename,
                "collection": h.collection_name,
                "score": f"{h.score:.2f}",
                "chunk": str(h.chunk + 1),
            }
            for h in found
        ]
