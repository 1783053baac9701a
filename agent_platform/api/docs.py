"""`/api/docs` served from this machine: FastAPI's default page loads Swagger UI from a CDN,
so an offline or firewalled install showed a blank page.

The Swagger UI files come from the pinned `fastapi-offline` wheel (it ships Swagger UI 5, which
renders the OpenAPI 3.1 documents FastAPI writes); only its files are used, not its app.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

from services.errors import NotFound

DOCS_URL = "/api/docs"
ASSETS_URL = f"{DOCS_URL}/assets"
_STATIC = Path(fastapi_offline.__file__).resolve().parent / "static"
# A fixed set, so a request can never name another file of the package or the machine.
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon.png": "image/png",
}
# Swagger UI changes only when the pinned wheel changes: let browsers keep it for a day.
_CACHE = {"Cache-Control": "public, max-age=86400"}


def install(api: FastAPI) -> None:
    """Add the docs page and its assets to `api` (created with `docs_url=None`)."""
    router = APIRouter(include_in_schema=False)
    title = f"{api.title} - Swagger UI"
    openapi_url = api.openapi_url or "/api/openapi.json"

    @router.get(DOCS_URL)
    def swagger_page() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=title,
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_URL}/favicon.png",
        )

    @router.get(ASSETS_URL + "/{name}")
    def swagger_asset(name: str) -> FileResponse:
        media_type = ASSETS.get(name)
        if media_type is None:
            raise NotFound("No such file.")
        return FileResponse(_STATIC / name, media_type=media_type, headers=_CACHE)

    api.include_router(router)
