"""What a listing's page shows, as the plain values `ListingState` holds (one place that
turns a `ListingDetail` into rows, so the state keeps to its events)."""

from __future__ import annotations

from typing import Any

from services.marketplace import details
from services.marketplace.listings import price_label
from state.base import format_utc


def listing_vars(detail: details.ListingDetail) -> dict[str, Any]:
    out: dict[str, Any] = {}
    row = detail.listing
    out["listing"] = {
        "title": row.title,
        "summary": row.summary,
        "publisher": detail.publisher,
        "category": row.category,
        "price": price_label(row.price_cents),
        "paid": "yes" if row.price_cents else "",
        "kind": row.kind.value,
        "status": row.status.value,
        "note": row.moderation_note if detail.is_seller else "",
        "rating": f"{row.rating:.1f}",
        "reviews": str(row.rating_count),
        "downloads": str(row.downloads),
        "icon": f"/api/v1/marketplace/files/{row.icon_key}" if row.icon_key else "",
        "latest": str(row.latest_version),
    }
    out["description_html"] = row.description_html
    out["_edit_source"] = {
        "title": row.title,
        "summary": row.summary,
        "description": row.description,
        "category": row.category,
        "tags": ", ".join(str(t) for t in row.tags),
        "price": f"{row.price_cents / 100:.2f}",
    }
    out["tags"] = [str(t) for t in row.tags]
    out["screenshots"] = [f"/api/v1/marketplace/files/{k}" for k in row.screenshot_keys]
    out["versions"] = [
        {
            "version": str(v.version),
            "changelog": v.changelog,
            "when": format_utc(v.created_at),
            "verified": "yes" if v.verified else "",
        }
        for v in detail.versions
    ]
    latest = detail.latest
    out["needs_integrations"] = [
        f"{i.get('provider') or 'an integration'}: {i.get('action')}"
        for i in latest.required_integrations
    ]
    out["needs_models"] = [str(m) for m in latest.required_models]
    badge = detail.badge
    out["badge"] = {
        "verified": "yes" if badge["verified"] else "",
        "checked": (badge.get("checked_at") or "")[:16].replace("T", " "),
        "ran": (badge.get("tests_ran_at") or "")[:16].replace("T", " "),
        "basis": detail.badge_basis,
    }
    out["scores"] = [
        {
            "suite": str(s["suite"]),
            "status": str(s["status"]),
            "score": "" if s["score"] is None else f"{float(s['score']):.0%}",
            "cases": f"{s['passed_cases']} passed, {s['failed_cases']} failed",
        }
        for s in badge.get("suites", [])
    ]
    out["badge_reasons"] = [str(r) for r in badge.get("reasons", [])]
    out["review_rows"] = [
        {
            "id": str(r.id),
            "org": r.org_name,
            "stars": "★" * r.rating + "☆" * (5 - r.rating),
            "body": r.body,
            "reply": r.reply or "",
            "when": format_utc(r.updated_at),
            "mine": "yes" if r.mine else "",
        }
        for r in detail.reviews
    ]
    out["is_seller"] = detail.is_seller
    install = detail.install
    out["install_id"] = str(install.id) if install else ""
    out["installed_agent"] = str(install.agent_id) if install and install.agent_id else ""
    out["update_available"] = str(detail.update_available or "")
    mine = next((r for r in detail.reviews if r.mine), None)
    if mine is not None:
        out["own_review"] = {"rating": str(mine.rating), "body": mine.body}
    return out
