"""The marketplace over REST (/api/v1/marketplace). HTTP only: every rule lives in
`services.marketplace`; errors become statuses in `api/errors.py`.

Browsing needs no key (live listings are public); a key, when sent, also shows the caller's
own pending listings and install state. Every write needs a key with the write scope;
moderation needs the instance admin's key (as /api/v1/admin does).

    GET    /listings                      browse: search, category, price, verified, min_rating,
                                          sort (popular|newest|rating), page, per_page
    GET    /listings/{id}                 the listing page: versions, badge, reviews, install
    POST   /listings                      publish an agent's current version (201)
    PATCH  /listings/{id}                 edit text, category, tags, price
    POST   /listings/{id}/versions        list the agent's current version, with a changelog
    PUT    /listings/{id}/icon            an image body;  POST /listings/{id}/screenshots
    DELETE /listings/{id}/screenshots/{key}
    GET    /files/{key}                   an icon or screenshot
    POST   /listings/{id}/install         a template's copy in your organization
    GET    /installs                      your installs, with "update available"
    POST   /installs/{id}/update          take the listing's latest version
    PUT    /listings/{id}/review          write or edit your organization's review
    POST   /reviews/{id}/reply            the seller's answer
    POST   /listings/{id}/reports         report a listing or one of its reviews
    GET    /mine                          your organization's listings
    GET    /moderation                    instance admin: pending listings, open reports
    POST   /moderation/listings/{id}/approve | /take-down;  POST /moderation/reports/{id}
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Header, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from agent_platform.models import ListingVersion, MarketplaceInstall, MarketplaceListing
from services import api_keys, instance_admin
from services.access import Actor
from services.marketplace import details, installs, listings, media, moderation, reviews, search

from .v1 import ApiActor, RequestSession, WriteActor, bearer

router = APIRouter(prefix="/api/v1/marketplace", tags=["marketplace"])
MAX_IMAGE_BODY = 2_000_000


def optional_actor(
    session: RequestSession, authorization: Annotated[str | None, Header()] = None
) -> Actor | None:
    """Browsing is public; a key that is sent must still be a valid one."""
    secret = bearer(authorization)
    return api_keys.principal_for(session, secret).actor if secret else None


MaybeActor = Annotated[Actor | None, Depends(optional_actor)]


def admin_user(
    session: RequestSession, authorization: Annotated[str | None, Header()] = None
) -> uuid.UUID:
    secret = (authorization or "").removeprefix("Bearer ").strip()
    return instance_admin.admin_for_key(session, secret)


AdminUser = Annotated[uuid.UUID, Depends(admin_user)]


def file_url(key: str | None) -> str | None:
    return f"/api/v1/marketplace/files/{key}" if key else None


class CardOut(BaseModel):
    id: str
    title: str
    summary: str
    category: str
    tags: list[str]
    price_cents: int
    currency: str
    kind: str
    verified: bool
    rating: float
    rating_count: int
    downloads: int
    icon_url: str | None
    publisher: str


class BrowseOut(BaseModel):
    total: int
    page: int
    per_page: int
    pages: int
    listings: list[CardOut]


class VersionOut(BaseModel):
    version: int
    agent_version: int
    changelog: str
    required_integrations: list[dict[str, str]]
    required_models: list[str]
    verified: bool
    verified_checked_at: datetime | None
    verification: dict[str, Any]
    created_at: datetime


class ReviewOut(BaseModel):
    id: str
    organization: str
    rating: int
    body: str
    reply: str | None
    created_at: datetime
    updated_at: datetime


class InstallOut(BaseModel):
    id: str
    listing_id: str
    version: int
    agent_id: str | None
    update_available: int | None


class ListingOut(BaseModel):
    id: str
    status: str
    title: str
    summary: str
    description: str
    description_html: str
    category: str
    tags: list[str]
    price_cents: int
    currency: str
    kind: str
    verified: bool
    rating: float
    rating_count: int
    downloads: int
    latest_version: int
    icon_url: str | None
    screenshot_urls: list[str]
    moderation_note: str | None  # shown to the seller only
    created_at: datetime


class ListingDetailOut(ListingOut):
    publisher: str
    badge: dict[str, Any]
    versions: list[VersionOut]
    reviews: list[ReviewOut]
    install: InstallOut | None


class PublishIn(BaseModel):
    agent_id: uuid.UUID
    title: str
    summary: str = ""
    description: str = ""
    category: str = "other"
    tags: list[str] = Field(default_factory=list)
    price_cents: int = 0
    kind: Literal["template", "service"] = "template"


class InstalledOut(BaseModel):
    install: InstallOut
    agent_id: str
    dropped: list[str]
    placeholders: list[str]


class ReviewIn(BaseModel):
    rating: int
    body: str = ""


class ReportIn(BaseModel):
    reason: str
    review_id: uuid.UUID | None = None


class ModerationOut(BaseModel):
    pending: list[dict[str, Any]]
    reports: list[dict[str, Any]]


def _listing_out(listing: MarketplaceListing, *, seller: bool) -> dict[str, Any]:
    return {
        "id": str(listing.id),
        "status": listing.status.value,
        "title": listing.title,
        "summary": listing.summary,
        "description": listing.description,
        "description_html": listing.description_html,
        "category": listing.category,
        "tags": [str(t) for t in listing.tags],
        "price_cents": listing.price_cents,
        "currency": listing.currency,
        "kind": listing.kind.value,
        "verified": listing.verified,
        "rating": listing.rating,
        "rating_count": listing.rating_count,
        "downloads": listing.downloads,
        "latest_version": listing.latest_version,
        "icon_url": file_url(listing.icon_key),
        "screenshot_urls": [file_url(str(k)) or "" for k in listing.screenshot_keys],
        "moderation_note": listing.moderation_note if seller else None,
        "created_at": listing.created_at,
    }


def _version_out(row: ListingVersion) -> VersionOut:
    return VersionOut(
        version=row.version,
        agent_version=row.agent_version_number,
        changelog=row.changelog,
        required_integrations=[dict(i) for i in row.required_integrations],
        required_models=[str(m) for m in row.required_models],
        verified=row.verified,
        verified_checked_at=row.verified_checked_at,
        verification=row.verification,
        created_at=row.created_at,
    )


def _install_out(install: MarketplaceInstall, latest: int | None) -> InstallOut:
    return InstallOut(
        id=str(install.id),
        listing_id=str(install.listing_id),
        version=install.version,
        agent_id=str(install.agent_id) if install.agent_id else None,
        update_available=latest if latest is not None and latest > install.version else None,
    )


def _installed(copy: installs.InstalledCopy, latest: int) -> InstalledOut:
    return InstalledOut(
        install=_install_out(copy.install, latest),
        agent_id=str(copy.agent.id),
        dropped=copy.dropped,
        placeholders=copy.placeholders,
    )


@router.get("/listings", response_model=BrowseOut)
def browse(
    session: RequestSession,
    actor: MaybeActor,
    search_text: Annotated[str, Query(alias="search")] = "",
    category: str = "",
    price: str = "any",
    verified: bool = False,
    min_rating: float = 0,
    sort: str = "popular",
    page: int = 1,
    per_page: int = 24,
) -> BrowseOut:
    found = search.browse(
        session,
        {
            "search": search_text,
            "category": category,
            "price": price,
            "verified": verified,
            "min_rating": min_rating,
            "sort": sort,
            "page": page,
            "per_page": per_page,
        },
    )
    return BrowseOut(
        total=found.total,
        page=found.page,
        per_page=found.per_page,
        pages=found.pages,
        listings=[
            CardOut(
                id=str(c.id),
                title=c.title,
                summary=c.summary,
                category=c.category,
                tags=c.tags,
                price_cents=c.price_cents,
                currency=c.currency,
                kind=c.kind.value,
                verified=c.verified,
                rating=c.rating,
                rating_count=c.rating_count,
                downloads=c.downloads,
                icon_url=file_url(c.icon_key),
                publisher=c.publisher,
            )
            for c in found.cards
        ],
    )


@router.get("/listings/{listing_id}", response_model=ListingDetailOut)
def listing_page(
    session: RequestSession, actor: MaybeActor, listing_id: uuid.UUID
) -> ListingDetailOut:
    detail = details.listing_detail(session, actor, listing_id)
    return ListingDetailOut(
        **_listing_out(detail.listing, seller=detail.is_seller),
        publisher=detail.publisher,
        badge=detail.badge,
        versions=[_version_out(v) for v in detail.versions],
        reviews=[
            ReviewOut(
                id=str(r.id),
                organization=r.org_name,
                rating=r.rating,
                body=r.body,
                reply=r.reply,
                created_at=r.created_at,
                updated_at=r.updated_at,
            )
            for r in detail.reviews
        ],
        install=_install_out(detail.install, detail.listing.latest_version)
        if detail.install
        else None,
    )


@router.post("/listings", response_model=ListingOut, status_code=201)
def publish(session: RequestSession, actor: WriteActor, body: PublishIn) -> ListingOut:
    data = body.model_dump(exclude={"agent_id"})
    listing = listings.publish_listing(session, actor, body.agent_id, data)
    return ListingOut(**_listing_out(listing, seller=True))


@router.patch("/listings/{listing_id}", response_model=ListingOut)
def edit(
    session: RequestSession,
    actor: WriteActor,
    listing_id: uuid.UUID,
    body: Annotated[dict[str, Any], Body()],
) -> ListingOut:
    listing = listings.update_listing(session, actor, listing_id, body)
    return ListingOut(**_listing_out(listing, seller=True))


class VersionIn(BaseModel):
    changelog: str


@router.post("/listings/{listing_id}/versions", response_model=VersionOut, status_code=201)
def new_version(
    session: RequestSession, actor: WriteActor, listing_id: uuid.UUID, body: VersionIn
) -> VersionOut:
    return _version_out(listings.add_version(session, actor, listing_id, changelog=body.changelog))


async def _image(request: Request) -> bytes:
    data = await request.body()
    return data[: MAX_IMAGE_BODY + 1]


@router.put("/listings/{listing_id}/icon")
async def put_icon(
    session: RequestSession, actor: WriteActor, listing_id: uuid.UUID, request: Request
) -> dict[str, str]:
    key = media.set_icon(session, actor, listing_id, await _image(request))
    return {"url": file_url(key) or ""}


@router.post("/listings/{listing_id}/screenshots", status_code=201)
async def add_screenshot(
    session: RequestSession, actor: WriteActor, listing_id: uuid.UUID, request: Request
) -> dict[str, str]:
    key = media.add_screenshot(session, actor, listing_id, await _image(request))
    return {"url": file_url(key) or ""}


@router.delete("/listings/{listing_id}/screenshots/{key:path}", status_code=204)
def remove_screenshot(
    session: RequestSession, actor: WriteActor, listing_id: uuid.UUID, key: str
) -> Response:
    media.remove_screenshot(session, actor, listing_id, key)
    return Response(status_code=204)


@router.get("/files/{key:path}")
def listing_file(key: str) -> Response:
    data, content_type = media.listed_file(key)
    return Response(
        data,
        media_type=content_type,
        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )


@router.post("/listings/{listing_id}/install", response_model=InstalledOut, status_code=201)
def install(session: RequestSession, actor: WriteActor, listing_id: uuid.UUID) -> InstalledOut:
    copy = installs.install_listing(session, actor, listing_id)
    return _installed(copy, copy.install.version)


@router.get("/installs", response_model=list[InstallOut])
def my_installs(session: RequestSession, actor: ApiActor) -> list[InstallOut]:
    return [
        _install_out(install, listing.latest_version)
        for install, listing in installs.list_installs(session, actor)
    ]


@router.post("/installs/{install_id}/update", response_model=InstalledOut)
def update_install(
    session: RequestSession, actor: WriteActor, install_id: uuid.UUID
) -> InstalledOut:
    copy = installs.update_install(session, actor, install_id)
    return _installed(copy, copy.install.version)


@router.put("/listings/{listing_id}/review", response_model=ReviewOut)
def write_review(
    session: RequestSession, actor: WriteActor, listing_id: uuid.UUID, body: ReviewIn
) -> ReviewOut:
    review = reviews.review_listing(session, actor, listing_id, body.model_dump())
    return ReviewOut(
        id=str(review.id),
        organization="",
        rating=review.rating,
        body=review.body,
        reply=review.reply,
        created_at=review.created_at,
        updated_at=review.updated_at,
    )


class ReplyIn(BaseModel):
    reply: str


@router.post("/reviews/{review_id}/reply", status_code=204)
def reply(
    session: RequestSession, actor: WriteActor, review_id: uuid.UUID, body: ReplyIn
) -> Response:
    reviews.reply_to_review(session, actor, review_id, body.reply)
    return Response(status_code=204)


@router.post("/listings/{listing_id}/reports", status_code=201)
def report(
    session: RequestSession, actor: WriteActor, listing_id: uuid.UUID, body: ReportIn
) -> dict[str, str]:
    row = reviews.report(session, actor, listing_id, body.reason, review_id=body.review_id)
    return {"id": str(row.id)}


@router.get("/mine", response_model=list[ListingOut])
def mine(session: RequestSession, actor: ApiActor) -> list[ListingOut]:
    return [
        ListingOut(**_listing_out(row, seller=True)) for row in listings.my_listings(session, actor)
    ]


@router.get("/moderation", response_model=ModerationOut)
def queue(session: RequestSession, admin: AdminUser) -> ModerationOut:
    return ModerationOut(
        pending=[
            {"id": str(p.id), "title": p.title, "publisher": p.publisher, "summary": p.summary}
            for p in moderation.pending_listings(session, admin)
        ],
        reports=[
            {
                "id": str(r.id),
                "listing_id": str(r.listing_id),
                "listing": r.listing_title,
                "review_id": str(r.review_id) if r.review_id else None,
                "review": r.review_text,
                "reason": r.reason,
                "reported_by": r.reporter_org,
            }
            for r in moderation.open_reports(session, admin)
        ],
    )


@router.post("/moderation/listings/{listing_id}/approve", response_model=ListingOut)
def approve(session: RequestSession, admin: AdminUser, listing_id: uuid.UUID) -> ListingOut:
    return ListingOut(
        **_listing_out(moderation.approve_listing(session, admin, listing_id), seller=True)
    )


class TakeDownIn(BaseModel):
    note: str


@router.post("/moderation/listings/{listing_id}/take-down", response_model=ListingOut)
def take_down(
    session: RequestSession, admin: AdminUser, listing_id: uuid.UUID, body: TakeDownIn
) -> ListingOut:
    listing = moderation.take_down_listing(session, admin, listing_id, body.note)
    return ListingOut(**_listing_out(listing, seller=True))


class ResolveIn(BaseModel):
    action: Literal["dismiss", "hide_review", "take_down"]


@router.post("/moderation/reports/{report_id}", status_code=204)
def resolve(
    session: RequestSession, admin: AdminUser, report_id: uuid.UUID, body: ResolveIn
) -> Response:
    moderation.resolve_report(session, admin, report_id, body.action)
    return Response(status_code=204)
