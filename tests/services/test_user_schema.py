"""User-written JSON schemas stay self-contained: no remote or file `$ref`, no runaway nesting."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent_platform.models import OutputConfig
from agent_platform.models.user_schema import UserSchemaError, check_user_schema, first_error
from services import agents
from services.errors import Invalid
from services.runtime.output import OutputInvalid, check_output
from tests.factories import make_user, personal_actor


class _Recorder(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        type(self).hits.append(self.path)
        body = b'{"type": "string", "description": "INTERNAL-ONLY-SECRET"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def internal_server() -> Iterator[tuple[str, list[str]]]:
    """A loopback service that would answer a schema fetch; it must never be asked."""
    _Recorder.hits = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/schema.json", _Recorder.hits
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret.json"
    path.write_text('{"type": "string", "description": "FILE-CONTENT-SECRET"}')
    return path


def _nested(depth: int) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(depth):
        schema = {"type": "object", "properties": {"x": schema}}
    return schema


class TestSavingRefusesReferencesOutside:
    def test_remote_ref_is_refused_and_never_fetched(self, session, internal_server) -> None:
        url, hits = internal_server
        actor = personal_actor(session, make_user(session))
        with pytest.raises(Invalid) as caught:
            agents.create_agent(
                session,
                actor,
                name="Extractor",
                config={"output": {"format": "json", "json_schema": {"$ref": url}}},
            )
        assert "may only refer to its own parts" in caught.value.message
        assert hits == []

    def test_file_ref_is_refused(self, secret_file: Path) -> None:
        with pytest.raises(UserSchemaError) as caught:
            check_user_schema({"properties": {"a": {"$ref": f"file://{secret_file}"}}})
        assert "points outside it" in caught.value.message
        assert "FILE-CONTENT-SECRET" not in caught.value.message

    def test_dynamic_ref_outside_is_refused(self, internal_server) -> None:
        url, hits = internal_server
        with pytest.raises(UserSchemaError):
            check_user_schema({"$dynamicRef": url})
        assert hits == []

    def test_references_inside_the_schema_are_fine(self) -> None:
        schema = {
            "$defs": {"city": {"type": "string"}},
            "properties": {"c": {"$ref": "#/$defs/city"}},
        }
        check_user_schema(schema)
        assert first_error(schema, {"c": "Paris"}) is None
        error = first_error(schema, {"c": 3})
        assert error is not None and "is not of type 'string'" in error.message


class TestValidationNeverFetches:
    """A schema stored before the save check existed must still not reach anything."""

    def test_stored_remote_ref_fails_the_answer_without_a_request(self, internal_server) -> None:
        url, hits = internal_server
        output = OutputConfig.model_construct(format="json", json_schema={"$ref": url})
        with pytest.raises(OutputInvalid) as caught:
            check_output(output, '"hello"')
        assert hits == []
        assert 'only "#/…" references are allowed' in caught.value.message
        assert "INTERNAL-ONLY-SECRET" not in caught.value.message

    def test_stored_file_ref_does_not_read_the_file(self, secret_file: Path) -> None:
        output = OutputConfig.model_construct(
            format="json", json_schema={"$ref": f"file://{secret_file}"}
        )
        with pytest.raises(OutputInvalid) as caught:
            check_output(output, '"hello"')
        assert "FILE-CONTENT-SECRET" not in caught.value.message

    def test_reference_loop_is_a_clear_error(self) -> None:
        output = OutputConfig.model_construct(format="json", json_schema={"$ref": "#"})
        with pytest.raises(OutputInvalid) as caught:
            check_output(output, "{}")
        assert caught.value.message == "The JSON schema refers to itself in a loop."


class TestSizeLimits:
    def test_deeply_nested_schema_is_a_clear_error_not_a_recursion_error(self) -> None:
        with pytest.raises(UserSchemaError) as caught:
            check_user_schema(_nested(5_000))
        assert "nested more than 32 levels" in caught.value.message

    def test_deep_schema_through_the_agent_service(self, session) -> None:
        actor = personal_actor(session, make_user(session))
        with pytest.raises(Invalid) as caught:
            agents.create_agent(
                session,
                actor,
                name="Deep",
                config={"output": {"format": "json", "json_schema": _nested(2_000)}},
            )
        assert "nested more than 32 levels" in caught.value.message

    def test_reasonable_nesting_is_accepted(self) -> None:
        check_user_schema(_nested(10))

    def test_not_a_schema_says_so(self) -> None:
        with pytest.raises(UserSchemaError) as caught:
            check_user_schema({"type": "no-such-type"})
        assert caught.value.message.startswith("The JSON schema is not valid:")
