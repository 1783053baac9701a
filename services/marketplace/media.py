"""A listing's icon and screenshots: checked here, stored through `storage`, written only
once the transaction commits (a rolled-back change leaves no file behind; a replaced or removed
file goes the same way)."""

from __future__ import annotations

import uuid

from sqlmodel import Session

from agent_platform.db import after_commit
from agent_platform.models import Role
from services.access import Actor, require_role
from services.errors import Invalid, NotFound
from services.marketplace import storage
from services.marketplace.listings import get_own_listing


def set_icon(session: Session, actor: Actor, listing_id: uuid.UUID, data: bytes) -> str:
    require_role(actor, Role.BUILDER)
    listing = get_own_listing(session, actor, listing_id)
    kind = storage.image_kind(data)
    key = storage.new_key(listing.id, kind)
    old = listing.icon_key
    listing.icon_key = key
    session.add(listing)
    store = storage.file_store()
    after_commit(session, lambda: store.put(key, data, storage.CONTENT_TYPES[kind]))
    if old:
        after_commit(session, lambda: store.delete(old))
    return key


def add_screenshot(session: Session, actor: Actor, listing_id: uuid.UUID, data: bytes) -> str:
    require_role(actor, Role.BUILDER)
    listing = get_own_listing(session, actor, listing_id)
    if len(listing.screenshot_keys) >= storage.MAX_SCREENSHOTS:
        raise Invalid(f"A listing has at most {storage.MAX_SCREENSHOTS} screenshots.")
    kind = storage.image_kind(data)
    key = storage.new_key(listing.id, kind)
    listing.screenshot_keys = [*listing.screenshot_keys, key]
    session.add(listing)
    store = storage.file_store()
    after_commit(session, lambda: store.put(key, data, storage.CONTENT_TYPES[kind]))
    return key


def remove_screenshot(session: Session, actor: Actor, listing_id: uuid.UUID, key: str) -> None:
    require_role(actor, Role.BUILDER)
    listing = get_own_listing(session, actor, listing_id)
    if key not in listing.screenshot_keys:
        raise NotFound("No such screenshot.")
    listing.screenshot_keys = [k for k in listing.screenshot_keys if k != key]
    session.add(listing)
    store = storage.file_store()
    after_commit(session, lambda: store.delete(key))


def listed_file(key: str) -> tuple[bytes, str]:
    """A listing's file and its content type, for the files route: any key that fits the
    shape and the store holds (keys are random; pending listings' files carry no secret)."""
    storage.check_key(key)
    return storage.file_store().get(key), storage.content_type_of(key)
