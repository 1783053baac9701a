"""state/live: each change of the live log goes to the browser once, at the right offset."""

from __future__ import annotations

from state import live


def _op(spec) -> list:
    """The operation a `_set_value` event carries to the browser."""
    return spec.args[1][1]._var_value


class TestLiveLog:
    def test_appending_sends_only_the_new_piece_and_where_it_goes(self) -> None:
        entries, _ = live.add([], "log", "assistant")
        entries, first = live.append(entries, "log", "Hello ")
        entries, second = live.append(entries, "log", "world")
        assert entries[-1]["text"] == "Hello world"
        assert _op(first) == ["put", 0, "Hello "]
        assert _op(second) == ["put", 6, "world"]

    def test_offsets_count_utf16_units_like_javascript(self) -> None:
        entries, _ = live.add([], "log", "assistant")
        entries, _ = live.append(entries, "log", "🙂é")
        entries, op = live.append(entries, "log", "x")
        assert _op(op) == ["put", 3, "x"]  # 🙂 is two UTF-16 units, é one

    def test_a_final_text_equal_to_the_stream_is_not_sent_again(self) -> None:
        entries, _ = live.add([], "log", "assistant")
        entries, _ = live.append(entries, "log", "done")
        same, nothing = live.replace(entries, "log", "done")
        assert nothing is None and same == entries
        _, other = live.replace(entries, "log", "error: the model failed")
        assert _op(other) == ["put", 0, "error: the model failed"]

    def test_entries_are_copies_the_caller_can_keep(self) -> None:
        before, _ = live.add([], "log", "user", "hi")
        after, _ = live.end(before, "log", "failed")
        assert before[-1]["status"] == "" and after[-1]["status"] == "failed"
        assert _op(live.everything(after, "log")) == ["all", after]
