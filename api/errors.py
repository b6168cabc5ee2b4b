"""Turning every error into the one JSON shape:
{"errors": [{"code", "field"?, "message"}], "request_id"}, the request id being the one answered
in X-Request-ID (api/observe.py), so that a caller can quote it.

ServiceError subclasses carry their own status and code. Framework errors (unknown route, wrong
method, request validation) are mapped to codes of ours. A database or cache that does not answer
becomes 503 + Retry-After, counted, never a 500. Anything else is a bug: 500 INTERNAL_ERROR with
no details, and the traceback in the log.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import asyncpg
import orjson
import redis
from cassandra import OperationTimedOut, RequestExecutionException
from cassandra.cluster import NoHostAvailable
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from prometheus_client import Counter
from starlette.exceptions import HTTPException as StarletteHTTPException

from einvoice.error_codes import ErrorCode
from einvoice.errors import (
    BackendUnavailable,
    ErrorDetail,
    InternalError,
    InvalidRequest,
    MalformedJson,
    MethodNotAllowed,
    NotFound,
    ServiceError,
    error_body,
)

log = logging.getLogger(__name__)

BACKEND_ERRORS = Counter(
    "einvoice_backend_errors_total",
    "Requests answered 503 because a backend did not answer",
    ["backend"],
)

# Exceptions that mean "a backend is unavailable right now", by backend.
_TRANSIENT: tuple[tuple[str, tuple[type[Exception], ...]], ...] = (
    ("cassandra", (NoHostAvailable, OperationTimedOut, RequestExecutionException)),
    (
        "postgres",
        (
            asyncpg.CannotConnectNowError,
            asyncpg.ConnectionDoesNotExistError,
            asyncpg.InterfaceError,
            asyncpg.PostgresConnectionError,
            # A statement cancelled by the server (its statement_timeout, an administrator) or
            # refused for lack of connections: PostgreSQL is in trouble, not the request.
            asyncpg.exceptions.OperatorInterventionError,
            asyncpg.exceptions.InsufficientResourcesError,
        ),
    ),
    ("redis", (redis.ConnectionError, redis.TimeoutError)),
    # A connection refused or reset, or a timeout, below any driver's own error types (asyncpg
    # raises the OS's ConnectionRefusedError when a pool opens a connection to a stopped server).
    ("connection", (ConnectionError, TimeoutError)),
)


def error_response(error: ServiceError) -> Response:
    headers = dict(error.headers)
    if error.retry_after_s:
        headers["Retry-After"] = str(error.retry_after_s)
    body = error_body(error.details)
    return Response(
        orjson.dumps(body), status_code=error.status, media_type="application/json", headers=headers
    )


async def _service_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, ServiceError)
    return error_response(error)


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, StarletteHTTPException)
    if error.status_code == 404:
        return error_response(NotFound("no such resource"))
    if error.status_code == 405:
        return error_response(MethodNotAllowed(f"{request.method} is not allowed here"))
    generic = ServiceError(str(error.detail))
    generic.status = error.status_code
    return error_response(generic)


async def _validation_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    details = [
        ErrorDetail(
            code=_validation_code(item.get("type", "")),
            message=str(item.get("msg", "invalid value")),
            field=_json_pointer(item.get("loc", ())),
        )
        for item in error.errors()
    ]
    if any(detail.code == ErrorCode.MALFORMED_JSON for detail in details):
        return error_response(MalformedJson("the body is not valid JSON"))
    return error_response(InvalidRequest("the request is invalid", details=details))


async def _backend_unavailable(request: Request, error: Exception) -> Response:
    response = _outage_response(error)
    if response is None:  # pragma: no cover - registered for the outage classes only
        raise AssertionError(f"{type(error).__name__} is not a backend outage")
    return response


async def _unexpected_error(request: Request, error: Exception) -> Response:
    return unexpected_error_response(error, request.method, request.url.path)


def unexpected_error_response(error: Exception, method: str, path: str) -> Response:
    """The answer to an exception no handler took: 503 for a backend outage raised outside the
    router, else a bug, logged with its traceback and answered 500 with no details."""
    response = _outage_response(error)
    if response is not None:
        return response
    log.error("unhandled error on %s %s", method, path, exc_info=error)
    return error_response(InternalError("internal error"))


def _outage_response(error: Exception) -> Response | None:
    """503 + Retry-After, counted by backend, when `error` means a backend did not answer."""
    for backend, kinds in _TRANSIENT:
        if isinstance(error, kinds):
            BACKEND_ERRORS.labels(backend).inc()
            log.warning("%s unavailable: %s", backend, error)
            return error_response(BackendUnavailable(f"{backend} is unavailable; retry later"))
    return None


def _validation_code(pydantic_type: str) -> ErrorCode:
    if pydantic_type == "missing":
        return ErrorCode.FIELD_REQUIRED
    if pydantic_type in ("json_invalid", "value_error.jsondecode"):
        return ErrorCode.MALFORMED_JSON
    return ErrorCode.INVALID_FIELD


def _json_pointer(location: Sequence[Any]) -> str:
    # FastAPI prefixes the location with where it was found ("body", "query", "path").
    parts = list(location[1:]) if location and location[0] == "body" else list(location)
    escaped = (str(part).replace("~", "~0").replace("/", "~1") for part in parts)
    return "/" + "/".join(escaped) if parts else ""


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    # Outages by their own classes: Starlette answers those in its exception middleware and is
    # done. A handler for `Exception` runs in its server-error middleware, which re-raises after
    # answering, so the server logged a traceback for every 503 (the fuzz saw the log flood
    # during an outage). Only bugs go there now.
    for _, kinds in _TRANSIENT:
        for kind in kinds:
            app.add_exception_handler(kind, _backend_unavailable)
    app.add_exception_handler(Exception, _unexpected_error)
