"""A thin Reflex wrapper of our live chat log (pages/live_log.jsx).

Why a component of our own: Reflex re-sends the whole value of a changed var, so an answer
streamed into a var costs bytes that grow with the square of its length (REFLEX.md). The log
keeps its entries in React and the server sends only what is new (state/live.py)."""

from __future__ import annotations

import reflex as rx


class LiveLog(rx.Component):
    library = f"$/public{rx.asset('live_log.jsx', shared=True)}"
    tag = "LiveLog"

    stream_id: rx.Var[str]  # id of the text that is streaming (browser tests watch it)
    done_id: rx.Var[str]  # id of the last finished answer's text
    bubbles: rx.Var[bool]  # chat bubbles (playground) or plain text (builder's test panel)

    on_gap: rx.EventHandler[rx.event.no_args_event_spec]  # an operation was lost: resend all


live_log = LiveLog.create
