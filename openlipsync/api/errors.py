"""Every error leaves as HTTP status + JSON ``{"message": ...}``, FastAPI's own ones included.

Request validation becomes 400 (Magic Hour's validation status) with a message naming the
field, e.g. ``Invalid value for start_seconds: Input should be greater than or equal to 0``.
A database that cannot be reached (PostgreSQL restarting, a network cut) is 503 with
``Retry-After``: the client may try again, and the pool reconnects once it is back.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException

from openlipsync.jobs.errors import (
    InsufficientCredits,
    InvalidRequest,
    LimitReached,
    NotFound,
    ServiceError,
    Unprocessable,
)

log = logging.getLogger(__name__)

STATUS = {InvalidRequest: 400, InsufficientCredits: 402, NotFound: 404, Unprocessable: 422, LimitReached: 429}


def message(status: int, text: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"message": text}, status_code=status, headers=headers)


def _field(loc: tuple) -> str:
    name = ""
    for part in loc[1:] if loc and loc[0] in ("body", "query", "path", "header") else loc:
        name += f"[{part}]" if isinstance(part, int) else f".{part}" if name else str(part)
    return name


def describe(errors: list[dict]) -> str:
    """One line naming each failing field."""
    parts = []
    for error in errors:
        field, kind = _field(tuple(error.get("loc", ()))), error.get("type", "")
        if kind == "json_invalid":
            parts.append(f"Malformed JSON body: {error.get('ctx', {}).get('error', 'invalid JSON')}")
        elif kind == "missing":
            parts.append(f"Missing required field: {field}" if field else "Missing request body")
        elif not field:
            parts.append("Request body must be a JSON object (sent with Content-Type: application/json)")
        else:
            parts.append(f"Invalid value for {field}: {error.get('msg')}")
    return "; ".join(parts) or "Request validation failed"


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return message(400, describe(list(exc.errors())))

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        return message(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(ServiceError)
    async def _service(_: Request, exc: ServiceError) -> JSONResponse:
        retry = getattr(exc, "retry_after_s", None)
        return message(STATUS.get(type(exc), 400), exc.message,
                       {"retry-after": str(retry)} if retry is not None else None)

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: DBAPIError) -> JSONResponse:
        if isinstance(exc, (OperationalError, InterfaceError)) or exc.connection_invalidated:
            log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc.orig)
            return message(503, "Service unavailable: the database cannot be reached; try again shortly",
                           {"retry-after": "5"})
        return await _crash(request, exc)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return message(500, "Internal Server Error")
