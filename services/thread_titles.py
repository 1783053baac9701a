"""Titles of playground conversations: each one its own, so a list of conversations that all
began with "hi" still tells them apart."""

from __future__ import annotations

import uuid

from sqlmodel import Session, col

from agent_platform.models import Thread
from services.access import Actor
from services.agent_reads import get_agent
from services.run_reads import visible_threads

MAX_TITLE = 48


def shorten(message: str) -> str:
    """The first words of a message on one line, cut at a word boundary."""
    text = " ".join(message.split())
    if len(text) <= MAX_TITLE:
        return text or "New conversation"
    cut = text[:MAX_TITLE].rsplit(" ", 1)[0] if " " in text[:MAX_TITLE] else text[:MAX_TITLE]
    return cut.rstrip(".,;:!?-") + "…"


def title_for(session: Session, actor: Actor, agent_id: uuid.UUID, message: str) -> str:
    """The message's first words, numbered ("hi (2)") when a conversation with this agent
    already has that title. An agent of another organization is NotFound."""
    base = shorten(message)
    agent = get_agent(session, actor, agent_id)
    taken = {
        thread.title
        for thread in session.exec(
            visible_threads(actor).where(
                Thread.agent_id == agent.id,
                col(Thread.title).startswith(base, autoescape=True),
            )
        ).all()
    }
    if base not in taken:
        return base
    number = 2
    while f"{base} ({number})" in taken:
        number += 1
    return f"{base} ({number})"
