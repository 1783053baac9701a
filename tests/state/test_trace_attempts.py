"""The trace (playground and run page) lists every failed attempt: model, why, time lost."""

from __future__ import annotations

from state.playground import trace_row


def test_a_model_step_lists_its_failed_attempts() -> None:
    row = trace_row(
        {
            "kind": "model",
            "model": "fake/gpt-b",
            "text": "from b",
            "latency_ms": 412,
            "attempts": [
                {"model": "fake/gpt-a", "error": "Ollama had a server error (500)", "lost_ms": 150},
                {"model": "fake/gpt-a", "error": "Ollama had a server error (500)", "lost_ms": 40},
            ],
        }
    )
    assert row["attempts"] == (
        "✗ fake/gpt-a: Ollama had a server error (500) (150 ms lost)\n"
        "✗ fake/gpt-a: Ollama had a server error (500) (40 ms lost)"
    )
    assert row["detail"] == "from b" and row["latency"] == "412 ms"


def test_steps_without_attempts_show_none() -> None:
    assert trace_row({"kind": "model", "model": "m", "text": "hi"})["attempts"] == ""
    assert trace_row({"kind": "tool", "tool_name": "calculator", "result": 1})["attempts"] == ""
