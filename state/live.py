"""The server side of the live chat log (pages/live_log.jsx): send only what is new.

Why: Reflex re-sends the whole value of every changed var, so an answer streamed into a var
costs bytes that grow with the square of its length, and appending the finished answer to a
message list re-sends the whole conversation. Here the entries live in a backend-only var (for
a resync) and each change goes to the browser once, as a small `_set_value` operation on the
component's ref. The functions are pure: they return the new entries and the event to send.

Offsets are in UTF-16 code units, as JavaScript's `String.length` counts them, so text beyond
the Basic Multilingual Plane (emoji) lands where it belongs.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

Entries = list[dict[str, str]]  # {role: "user" | "assistant", text, status}
RUNNING = "running"


def js_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _send(ref_id: str, *op: Any) -> rx.event.EventSpec:
    return rx.set_value(ref_id, list(op))


def _copy(entries: Entries) -> Entries:
    return [{"role": e["role"], "text": e["text"], "status": e.get("status", "")} for e in entries]


def add(entries: Entries, ref_id: str, role: str, text: str = "") -> tuple[Entries, Any]:
    """A new entry; an assistant entry starts out streaming."""
    status = RUNNING if role == "assistant" else ""
    return [*_copy(entries), {"role": role, "text": text, "status": status}], _send(
        ref_id, "add", role, text
    )


def append(entries: Entries, ref_id: str, piece: str) -> tuple[Entries, Any]:
    """The last entry grows by `piece`: the browser receives the piece and where it goes."""
    if not entries:
        return add(entries, ref_id, "assistant", piece)
    new = _copy(entries)
    at = js_length(new[-1]["text"])
    new[-1]["text"] += piece
    return new, _send(ref_id, "put", at, piece)


def replace(entries: Entries, ref_id: str, text: str) -> tuple[Entries, Any]:
    """The last entry's text becomes `text` (a discarded partial answer, a final output that
    differs from what streamed); nothing is sent when it already is."""
    if entries and entries[-1]["text"] == text:
        return entries, None
    if not entries:
        return add(entries, ref_id, "assistant", text)
    new = _copy(entries)
    new[-1]["text"] = text
    return new, _send(ref_id, "put", 0, text)


def end(entries: Entries, ref_id: str, status: str) -> tuple[Entries, Any]:
    """The last entry is finished; `failed` shows a badge."""
    if not entries:
        return entries, None
    new = _copy(entries)
    new[-1]["status"] = status
    return new, _send(ref_id, "end", status)


def everything(entries: Entries, ref_id: str) -> Any:
    """All entries at once: opening a thread, or the browser asking after a lost operation."""
    return _send(ref_id, "all", _copy(entries))
