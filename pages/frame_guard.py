"""The page-head script that keeps oversized websocket frames from vanishing silently."""

from __future__ import annotations

import reflex as rx
from reflex_base.environment import environment


def frame_guard_script() -> rx.Component:
    """Loaded before the app connects, with the server's own frame limit, so the browser
    refuses exactly what the server would drop (see assets/frame_guard.js)."""
    limit = environment.REFLEX_SOCKET_MAX_HTTP_BUFFER_SIZE.get()
    return rx.el.script(src="/frame_guard.js", custom_attrs={"data-max-bytes": str(limit)})
