"""One place where domain errors become HTTP responses: status from the error, its message only."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.errors import DomainError


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain_error(request: Request, exc: DomainError) -> JSONResponse:
        body: dict[str, object] = {"error": exc.message}
        if exc.fields:
            body["fields"] = exc.fields
        return JSONResponse(body, status_code=exc.status)
