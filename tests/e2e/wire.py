"""What a page sends and receives over its websocket, frame by frame (Playwright frame events).

Shared by the streaming browser test and `benchmarks/ui.py`: both count payload bytes as the
browser hands them to the page (after permessage-deflate), which is what Reflex's encoder
produced and what grows when state is re-sent whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# A Socket.IO message carrying a Reflex state update: `42/_event,["event",{...}]`.
EVENT_MARK = '["event"'


def _size(payload: str | bytes) -> int:
    return len(payload) if isinstance(payload, bytes) else len(payload.encode())


@dataclass
class Frame:
    size: int
    head: str  # the first characters, to tell state updates from pings and handshakes
    text: str


@dataclass
class FrameLog:
    """Every websocket frame of one page, received and sent, in order."""

    received: list[Frame] = field(default_factory=list)
    sent: list[Frame] = field(default_factory=list)

    @classmethod
    def attach(cls, page: Any) -> FrameLog:
        """Listen before the navigation that opens the socket (Reflex opens one per load)."""
        log = cls()
        page.on("websocket", log._on_socket)
        return log

    def _on_socket(self, ws: Any) -> None:
        ws.on("framereceived", lambda payload: self.received.append(_frame(payload)))
        ws.on("framesent", lambda payload: self.sent.append(_frame(payload)))

    def mark(self) -> tuple[int, int]:
        return len(self.received), len(self.sent)

    def received_since(self, mark: tuple[int, int]) -> list[Frame]:
        return self.received[mark[0] :]

    def sent_since(self, mark: tuple[int, int]) -> list[Frame]:
        return self.sent[mark[1] :]

    def first_update_since(self, mark: tuple[int, int]) -> Frame | None:
        """The first state update after `mark`: on a page load, the hydrate snapshot."""
        return next((f for f in self.received_since(mark) if EVENT_MARK in f.head), None)


def _frame(payload: str | bytes) -> Frame:
    text = payload.decode(errors="replace") if isinstance(payload, bytes) else payload
    return Frame(size=_size(payload), head=text[:32], text=text)


def total(frames: list[Frame]) -> int:
    return sum(f.size for f in frames)


# Records every text the element with `element_id` shows while it exists, so a test can check
# that a stream only ever grew at its end (in order, nothing lost or repeated).
WATCH_TEXT_JS = """(elementId) => {
  window.__apSeen = window.__apSeen || {};
  const seen = (window.__apSeen[elementId] = []);
  const record = () => {
    const el = document.getElementById(elementId);
    if (el && seen[seen.length - 1] !== el.textContent) seen.push(el.textContent);
  };
  new MutationObserver(record).observe(document.body, {
    subtree: true, childList: true, characterData: true,
  });
}"""


def seen_texts(page: Any, element_id: str) -> list[str]:
    return page.evaluate("(id) => (window.__apSeen || {})[id] || []", element_id)
