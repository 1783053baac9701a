"""The trace shows tool arguments and results as text people read, not a Python dict."""

from __future__ import annotations

from state.playground import trace_row
from state.trace_text import readable


def test_a_tool_step_shows_real_line_breaks_and_no_dict_syntax() -> None:
    row = trace_row(
        {
            "kind": "tool",
            "tool_name": "http_request",
            "arguments": {"url": "https://example.com/a", "headers": {"Accept": "text/plain"}},
            "result": {"status": 200, "body": "line one\nline two"},
            "latency_ms": 12,
        }
    )
    detail = row["detail"]
    assert "\\n" not in detail and "{'" not in detail
    assert "url: https://example.com/a" in detail
    assert "headers:\n  Accept: text/plain" in detail
    assert "body:\n  line one\n  line two" in detail


def test_a_text_only_result_is_the_text_itself() -> None:
    assert readable({"text": "Refunds within\n30 days."}) == "Refunds within\n30 days."
    assert readable(["a", {"b": 1}]) == "- a\n- b: 1"
    assert readable(None) == ""
