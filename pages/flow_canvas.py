"""A thin Reflex wrapper of our own React Flow canvas (pages/flow_canvas.jsx).

Why our own: the component keeps nodes in React and calls the server once per finished
gesture (REFLEX.md: a plain wrapper sends one websocket frame per mouse move)."""

from __future__ import annotations

from typing import Any

import reflex as rx


class FlowCanvas(rx.Component):
    library = f"$/public{rx.asset('flow_canvas.jsx', shared=True)}"
    tag = "FlowCanvas"
    lib_dependencies: list[str] = ["@xyflow/react@12.12.1"]

    graph: rx.Var[dict[str, Any]]
    details: rx.Var[dict[str, Any]]
    palette: rx.Var[list[dict[str, Any]]]
    read_only: rx.Var[bool]

    on_graph_change: rx.EventHandler[rx.event.passthrough_event_spec(dict[str, Any])]
    on_select: rx.EventHandler[rx.event.passthrough_event_spec(str)]


flow_canvas = FlowCanvas.create
