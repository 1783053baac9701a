"""A page load carries only its own page's state.

Why: a tab keeps one state tree on the server for as long as it lives, and a page load (the
websocket's hydrate) sends every var of that tree that differs from its default. Without this,
opening the agents list after the builder and a conversation also sends the graph, the palette,
the conversation and its trace. Before the hydrate snapshot is taken, the page states of the
other pages (the states whose `load` is some page's on_load) go back to their defaults, which
Reflex leaves out of the snapshot since the browser already has them. Each page's own `load`
fills it again when it is opened, so nothing is lost that the page would have kept.

Only leaf page states are reset: `SessionState` (the session token and who is signed in) and any
state with substates stay, and so do states that keep browser storage.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from reflex.constants import CompileVars
from reflex.event import Event
from reflex.middleware import Middleware
from reflex.state import BaseState, State

if TYPE_CHECKING:
    from reflex.app import App


def _state_classes(load_events: Any) -> set[type[BaseState]]:
    found: set[type[BaseState]] = set()
    for event in Event.from_event_type(load_events or []):
        name = event.name.rpartition(".")[0]
        try:
            found.add(State.get_class_substate(name))
        except ValueError:
            continue
    return found


def _resettable(cls: type[BaseState]) -> bool:
    return not cls.get_substates() and not any(
        cls._is_client_storage(name) for name in cls.base_vars
    )


def _page_states(app: App) -> frozenset[type[BaseState]]:
    """Every leaf state that is some page's on_load state."""
    found: set[type[BaseState]] = set()
    for load_events in app._load_events.values():
        found |= _state_classes(load_events)
    return frozenset(cls for cls in found if _resettable(cls))


def _hydrate_names() -> frozenset[str]:
    return frozenset(
        f"{State.get_full_name()}.{name}"
        for name in (CompileVars.HYDRATE, CompileVars.HYDRATE_AND_LOAD)
    )


class PageScope(Middleware):
    """Reset the other pages' states just before a page load's snapshot."""

    async def preprocess(self, app: App, state: BaseState, event: Event) -> None:
        if event.name not in _hydrate_names():
            return None
        own = _state_classes(app.get_load_events(state.router.url.path or "/"))
        for cls in _page_states(app) - own:
            path = cls.get_full_name().split(".")
            try:
                substate = state.get_substate(path)
            except ValueError:  # not loaded for this tab
                continue
            substate.reset()
        return None
