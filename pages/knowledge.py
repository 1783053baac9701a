"""Knowledge: collections, uploaded documents and a search box (layout only)."""

from __future__ import annotations

import reflex as rx

from pages.components import confirm_dialog, data_table, empty_state, error_callout, field, shell
from state.knowledge import ACCEPT, UPLOAD_ID, KnowledgeState

STATUS_COLOR = {"ready": "green", "processing": "amber", "failed": "red"}
# --- left column: collections ----------------------------------------------------------------


def create_form() -> rx.Component:
    return rx.cond(
        KnowledgeState.can_edit,
        rx.form(
            rx.vstack(
                field(
                    "New collection",
                    "collection_name",
                    KnowledgeState.field_errors,
                    placeholder="handbook",
                ),
                rx.input(
                    name="collection_description",
                    id="collection_description",
                    placeholder="Description (optional)",
                    width="100%",
                ),
                rx.button("Create collection", type="submit", id="collection-create", width="100%"),
                spacing="2",
                width="100%",
            ),
            on_submit=KnowledgeState.create,
            reset_on_submit=True,
            width="100%",
        ),
        rx.text(
            "Viewers can search; builders and admins can add collections and documents.",
            size="2",
            color_scheme="gray",
            id="knowledge-read-only",
        ),
    )


def _collection_item(c: rx.Var, i: rx.Var) -> rx.Component:
    active = c["id"] == KnowledgeState.selected_id
    return rx.box(
        rx.text(c["name"], weight="medium", size="2"),
        rx.cond(
            c["description"] != "",
            rx.text(c["description"], size="1", color_scheme="gray", trim="both"),
        ),
        on_click=KnowledgeState.select(c["id"]),
        id=f"collection-item-{i}",
        cursor="pointer",
        padding="8px 12px",
        border_radius="8px",
        width="100%",
        background=rx.cond(active, rx.color("accent", 3), "transparent"),
        border=rx.cond(active, f"1px solid {rx.color('accent', 7)}", "1px solid transparent"),
        _hover={"background": rx.color("gray", 3)},
    )


def collections_column() -> rx.Component:
    return rx.vstack(
        create_form(),
        rx.divider(),
        rx.vstack(
            rx.foreach(KnowledgeState.collections, _collection_item),
            spacing="1",
            width="100%",
            id="collections-list",
        ),
        spacing="3",
        width=["100%", "100%", "280px"],
        min_width=["0", "0", "280px"],
    )


# --- right column: the selected collection ---------------------------------------------------


def _drop_zone() -> rx.Component:
    return rx.upload(
        rx.vstack(
            rx.icon("upload", size=24, color=rx.color("gray", 9)),
            rx.text("Drop files here or click to choose", size="2"),
            rx.text(
                ".txt, .md, .pdf, .csv or .html · up to ",
                KnowledgeState.max_upload,
                " each",
                size="1",
                color_scheme="gray",
            ),
            align="center",
            spacing="1",
        ),
        id=UPLOAD_ID,
        accept=ACCEPT,
        multiple=True,
        max_files=10,
        disabled=KnowledgeState.uploading,
        padding="20px",
        width="100%",
        border=f"1px dashed {rx.color('gray', 7)}",
        border_radius="12px",
        cursor="pointer",
    )


def _selected_files() -> rx.Component:
    return rx.flex(
        rx.foreach(
            rx.selected_files(UPLOAD_ID),
            lambda name: rx.badge(name, variant="soft", color_scheme="gray"),
        ),
        wrap="wrap",
        spacing="2",
        id="knowledge-selected-files",
    )


def _upload_buttons() -> rx.Component:
    return rx.hstack(
        rx.button(
            rx.icon("file-up", size=16),
            "Upload",
            on_click=KnowledgeState.upload(rx.upload_files_chunk(upload_id=UPLOAD_ID)),
            loading=KnowledgeState.uploading,
            disabled=rx.selected_files(UPLOAD_ID).length() == 0,
            id="knowledge-upload-button",
        ),
        rx.button(
            "Clear",
            variant="soft",
            color_scheme="gray",
            on_click=rx.clear_selected_files(UPLOAD_ID),
            disabled=KnowledgeState.uploading,
            id="knowledge-upload-clear",
        ),
        rx.cond(KnowledgeState.uploading, rx.text("Uploading…", size="2")),
        spacing="2",
        align="center",
    )


def _upload_errors() -> rx.Component:
    """Why files were refused, one line each."""
    return rx.cond(
        KnowledgeState.upload_errors.length() > 0,
        rx.callout(
            rx.vstack(
                rx.foreach(KnowledgeState.upload_errors, lambda e: rx.text(e, size="2")),
                spacing="1",
            ),
            icon="triangle-alert",
            color_scheme="red",
            role="alert",
            id="knowledge-upload-errors",
            width="100%",
        ),
    )


def upload_box() -> rx.Component:
    return rx.cond(
        KnowledgeState.can_edit,
        rx.vstack(
            _drop_zone(),
            _selected_files(),
            _upload_buttons(),
            _upload_errors(),
            spacing="2",
            width="100%",
        ),
    )


def _document_row(d: rx.Var, i: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(d["filename"], word_break="break-all", weight="medium")),
        rx.table.cell(
            rx.badge(
                d["status"],
                rx.cond(d["progress"] != "", " " + d["progress"], ""),
                color_scheme=rx.match(d["status"], *STATUS_COLOR.items(), "gray"),
                id=f"document-status-{i}",
            ),
            rx.cond(d["error"] != "", rx.text(d["error"], size="1", color_scheme="red")),
        ),
        rx.table.cell(d["chunks"]),
        rx.table.cell(rx.text(d["size"], white_space="nowrap")),
        rx.table.cell(rx.text(d["added"], size="1")),
        rx.table.cell(
            rx.cond(
                KnowledgeState.can_edit,
                confirm_dialog(
                    rx.button(
                        "Delete",
                        size="1",
                        variant="soft",
                        color_scheme="red",
                        id=f"document-delete-{i}",
                    ),
                    "Delete document",
                    rx.text(
                        "Delete ",
                        rx.code(d["filename"]),
                        "? Agents will no longer find its passages.",
                    ),
                    KnowledgeState.delete_document(d["id"]),
                    confirm_id="document-delete-confirm",
                ),
            )
        ),
        id=f"document-row-{i}",
    )


def documents_table() -> rx.Component:
    headers = ["File", "Status", "Chunks", "Size", "Added", ""]
    return rx.cond(
        KnowledgeState.documents.length() == 0,
        empty_state(
            "file-text",
            "No documents yet",
            "Upload .txt, .md, .pdf, .csv or .html files; they are split into passages "
            "that agents can search.",
        ),
        data_table(
            headers, KnowledgeState.documents, _document_row, id_="documents-table", size="1"
        ),
    )


def _hit(h: rx.Var, i: rx.Var) -> rx.Component:
    return rx.card(
        rx.hstack(
            rx.text(h["filename"], weight="medium", size="2", word_break="break-all"),
            rx.badge(h["collection"], variant="soft", color_scheme="gray"),
            rx.spacer(),
            rx.badge("score ", h["score"], id=f"knowledge-hit-score-{i}"),
            wrap="wrap",
            align="center",
            width="100%",
        ),
        rx.text(h["text"], size="2", margin_top="8px", white_space="pre-wrap"),
        width="100%",
        id=f"knowledge-hit-{i}",
    )


def search_box() -> rx.Component:
    return rx.vstack(
        rx.heading("Search", size="4"),
        rx.form(
            rx.flex(
                rx.input(
                    name="q",
                    id="knowledge-search-input",
                    placeholder="What do you want to find?",
                    flex="1",
                    min_width="200px",
                    size="3",
                    color_scheme=rx.cond(KnowledgeState.field_errors.contains("q"), "red", "gray"),
                ),
                rx.button(
                    "Search",
                    type="submit",
                    loading=KnowledgeState.searching,
                    id="knowledge-search-button",
                    size="3",
                ),
                spacing="2",
                wrap="wrap",
                width="100%",
            ),
            on_submit=KnowledgeState.search,
            width="100%",
        ),
        rx.cond(
            KnowledgeState.field_errors.contains("q"),
            rx.text(
                KnowledgeState.field_errors["q"].to(str),
                color_scheme="red",
                size="1",
                id="knowledge-search-error",
            ),
        ),
        rx.checkbox(
            "Search all collections",
            checked=KnowledgeState.search_all,
            on_change=KnowledgeState.set_search_all,
            id="knowledge-search-all",
            size="2",
        ),
        rx.cond(
            KnowledgeState.searched,
            rx.cond(
                KnowledgeState.hits.length() == 0,
                rx.text(
                    "No passages match. The built-in lexical embedder matches words, not "
                    "synonyms: try words that appear in the documents.",
                    size="2",
                    color_scheme="gray",
                    id="knowledge-no-hits",
                ),
                rx.vstack(
                    rx.foreach(KnowledgeState.hits, _hit),
                    spacing="2",
                    width="100%",
                    id="knowledge-hits",
                ),
            ),
        ),
        spacing="2",
        width="100%",
    )


def collection_detail() -> rx.Component:
    return rx.vstack(
        rx.flex(
            rx.vstack(
                rx.heading(KnowledgeState.selected["name"], size="5", id="collection-title"),
                rx.cond(
                    KnowledgeState.selected["description"] != "",
                    rx.text(KnowledgeState.selected["description"], size="2", color_scheme="gray"),
                ),
                rx.text(
                    "Embedder: ",
                    rx.code(KnowledgeState.selected["embedder"], id="collection-embedder"),
                    size="1",
                    color_scheme="gray",
                ),
                spacing="1",
                flex="1",
                min_width="0",
            ),
            rx.cond(
                KnowledgeState.can_edit,
                confirm_dialog(
                    rx.button(
                        "Delete collection",
                        size="1",
                        variant="soft",
                        color_scheme="red",
                        id="collection-delete",
                    ),
                    "Delete collection",
                    rx.text(
                        "Delete ",
                        rx.code(KnowledgeState.selected["name"]),
                        " and all its documents? Agents that use it will find nothing.",
                    ),
                    KnowledgeState.delete_collection(KnowledgeState.selected_id),
                    confirm_id="collection-delete-confirm",
                ),
            ),
            spacing="3",
            wrap="wrap",
            width="100%",
        ),
        upload_box(),
        documents_table(),
        rx.divider(),
        search_box(),
        spacing="4",
        flex="1",
        min_width="0",
        width="100%",
    )


def knowledge_content() -> rx.Component:
    return rx.cond(
        KnowledgeState.collections.length() == 0,
        rx.vstack(
            rx.box(create_form(), max_width="420px", width="100%"),
            empty_state(
                "library",
                "No knowledge collections yet",
                "Create a collection, upload documents to it, and agents with the knowledge "
                "tool can search them by meaning.",
            ),
            spacing="4",
            width="100%",
        ),
        rx.flex(
            collections_column(),
            collection_detail(),
            direction=rx.breakpoints(initial="column", md="row"),
            spacing="5",
            width="100%",
            align="start",
        ),
    )


def knowledge_page() -> rx.Component:
    return shell(
        rx.callout.root(
            rx.callout.icon(rx.icon("brain")),
            rx.callout.text(
                "New collections use the ",
                rx.text.strong(KnowledgeState.active_embedder, id="active-embedder"),
                " embedder. A collection keeps the embedder it was created with.",
            ),
            color_scheme="gray",
            size="1",
            margin_bottom="16px",
        ),
        error_callout(KnowledgeState.error, id_="knowledge-error"),
        rx.cond(
            KnowledgeState.loading,
            rx.center(rx.spinner(size="3"), padding="32px", width="100%", id="knowledge-loading"),
            knowledge_content(),
        ),
        title="Knowledge",
    )
