"""batch_tokens: a browser that pays ~100 bytes per frame gets few, full pieces, in order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from services.runtime.follow import batch_tokens


async def _events(script: list[tuple[float, dict[str, Any]]]) -> AsyncIterator[dict[str, Any]]:
    for pause, event in script:
        if pause:
            await asyncio.sleep(pause)  # sleep-ok: the scripted gaps batching is tested on
        yield event


def _tok(text: str) -> dict[str, Any]:
    return {"type": "token", "text": text}


def _run(script: list[tuple[float, dict[str, Any]]], **kw: Any) -> list[dict[str, Any]]:
    async def go() -> list[dict[str, Any]]:
        return [e async for e in batch_tokens(_events(script), **kw)]

    return asyncio.run(go())


class TestBatchTokens:
    def test_sixty_small_chunks_become_a_few_pieces_with_nothing_lost_or_reordered(self) -> None:
        chunks = [f"{i:05d}," for i in range(60)]  # 360 characters
        out = _run([(0, _tok(c)) for c in chunks] + [(0, {"type": "done"})], full=160)
        pieces = [e["text"] for e in out if e["type"] == "token"]
        assert "".join(pieces) == "".join(chunks)
        assert pieces[0] == chunks[0]  # the first piece goes at once
        assert len(pieces) <= 4
        assert out[-1] == {"type": "done"}

    def test_a_slow_stream_waits_for_enough_text_or_for_patience(self) -> None:
        script = [
            (0, _tok("a")),  # the first piece goes at once
            (0, _tok("bb")),
            (0.15, _tok("cc")),  # max_wait has passed with enough text: out at once
            (0, _tok("d")),  # too little text: held until patience runs out
            (0.5, {"type": "done"}),
        ]
        out = _run(script, full=1000, enough=3, max_wait=0.1, patience=0.3)
        assert [e.get("text") for e in out] == ["a", "bbcc", "d", None]

    def test_other_events_flush_first_and_a_discard_drops_the_buffer(self) -> None:
        step = {"type": "step", "position": 0}
        script = [
            (0, _tok("a")),
            (0, _tok("b")),
            (0, step),
            (0, _tok("c")),
            (0, _tok("d")),
            (0, {"type": "discard"}),
            (0, _tok("e")),
        ]
        out = _run(script, full=1000, max_wait=10, patience=10)
        assert out == [_tok("a"), _tok("b"), step, _tok("c"), {"type": "discard"}, _tok("e")]

    def test_closing_early_closes_the_source(self) -> None:
        closed = asyncio.Event()

        async def endless() -> AsyncIterator[dict[str, Any]]:
            try:
                while True:
                    yield _tok("x")
                    await asyncio.sleep(0.01)  # sleep-ok: scripted pace of a token source
            finally:
                closed.set()

        async def go() -> None:
            batched = batch_tokens(endless(), full=1000, max_wait=0.05)
            assert (await anext(batched))["text"] == "x"
            await batched.aclose()
            assert closed.is_set()

        asyncio.run(go())
