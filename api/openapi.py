"""The OpenAPI document as the contract: every operation's request body, every answer it can give
in the service's real shapes, and the bearer security scheme (issue #18).

FastAPI writes the document from the routes; three things it cannot know are added here, without
any cost to a request (the document is built once, on first ask):
- Bodies the hot routes read raw (a submission, a batch, a notice): declared per route with
  `operation(body=...)`, their schemas from the models (the invoice's JSON Schema is
  einvoice/invoice/model.py's INVOICE, the one the rules validate against).
- Answers: each route names the statuses it can give beyond the common ones of its kind (an
  authenticated route: 401, 403, 429, 503); every error answer is the one error shape
  (api/schemas.py `Error`), with an example. FastAPI's own `HTTPValidationError` is replaced:
  the service never answers it (api/errors.py turns validation errors into the one shape).
- Security: `bearerAuth` (the API key as `Authorization: Bearer <key>`), on the routes that take a
  key; FastAPI adds schemes only for its security dependencies, which the routes do not use (one
  flat dependency per route: api/auth.py).
tests/api/test_openapi_contract.py checks the document; the fuzz (tests/fuzz/test_openapi.py)
checks every answer it gets against it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic.json_schema import models_json_schema

from api.schemas import MODELS, Error
from einvoice.error_codes import ErrorCode
from einvoice.invoice.model import INVOICE

BEARER = "bearerAuth"
_REF = "#/components/schemas/{model}"

# What each error status means here, for every route that can give it.
ERROR_STATUSES: Mapping[int, str] = {
    400: "The request cannot be read: not JSON (or XML), a member named twice, a body too deep.",
    401: "No valid API key: missing, malformed, unknown, revoked or wrong (one answer for all).",
    403: "The key's role may not do this, or the seller is not the key's business or not active.",
    404: "No such resource, or not one this key may see (one answer for both).",
    406: "The representation asked for in Accept is not available for this resource.",
    408: "The body did not arrive in time: send it again.",
    409: "The state forbids it: a number held by another invoice, an original replaced or "
    "cancelled, a registry entry that exists.",
    413: "The body is larger than the route accepts.",
    415: "The Content-Type is not one the route accepts.",
    422: "Well-formed, but breaking a rule: each error names its field.",
    429: "Over the client's (or address's) rate limit, or the batch backlog is full: retry after "
    "Retry-After seconds.",
    503: "A database or the cache did not answer: retry after Retry-After seconds; nothing "
    "half-done was kept.",
}
# The answers of every route that takes an API key: a bad key, a role that may not, the
# client's rate limit, and a backend outage.
AUTHENTICATED = (401, 403, 429, 503)
# Routes that read a body: unreadable, too slow, too large, the wrong type, breaking a rule.
WITH_BODY = (400, 408, 413, 415, 422)

_EXAMPLE_CODES: Mapping[int, tuple[ErrorCode, str | None]] = {
    400: (ErrorCode.MALFORMED_JSON, None),
    401: (ErrorCode.UNAUTHENTICATED, None),
    403: (ErrorCode.ROLE_FORBIDDEN, None),
    404: (ErrorCode.INVOICE_NOT_FOUND, None),
    406: (ErrorCode.XML_NOT_AVAILABLE, None),
    408: (ErrorCode.REQUEST_TIMEOUT, None),
    409: (ErrorCode.INVOICE_NUMBER_USED, "/invoice/number"),
    413: (ErrorCode.PAYLOAD_TOO_LARGE, None),
    415: (ErrorCode.UNSUPPORTED_MEDIA_TYPE, None),
    422: (ErrorCode.FIELD_REQUIRED, "/invoice/buyer/name"),
    429: (ErrorCode.RATE_LIMITED, None),
    503: (ErrorCode.BACKEND_UNAVAILABLE, None),
}


def _error_example(status: int) -> dict[str, Any]:
    code, field = _EXAMPLE_CODES[status]
    item: dict[str, Any] = {"code": code.value, "message": ERROR_STATUSES[status]}
    if field is not None:
        item["field"] = field
    return {"errors": [item], "request_id": "3f1c2a9e5b7d4e8f9a0b1c2d3e4f5a6b"}


def json_body(schema: str, description: str) -> dict[str, Any]:
    """A request body of one JSON schema of components (api/schemas.py's, or Invoice)."""
    return {
        "required": True,
        "description": description,
        "content": {"application/json": {"schema": {"$ref": _REF.format(model=schema)}}},
    }


def operation(
    summary: str,
    *,
    answers: Mapping[int, dict[str, Any]],
    errors: tuple[int, ...] = (),
    authenticated: bool = True,
    body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A route decorator's documentation keywords: its summary, its answers (`answers`: the
    successes, by status, as `answer()` makes them; `errors`: the error statuses beyond the
    common ones of an authenticated route), its request body and security."""
    statuses = sorted({*errors, *(AUTHENTICATED if authenticated else ())})
    # A comprehension, not dict(): the keys widen to FastAPI's `int | str` (mypy: invariance).
    responses: dict[int | str, dict[str, Any]] = {  # noqa: C416
        status: documented for status, documented in answers.items()
    }
    for status in statuses:
        responses[status] = {
            "model": Error,
            "description": ERROR_STATUSES[status],
            "content": {"application/json": {"example": _error_example(status)}},
        }
    extra: dict[str, Any] = {}
    if body is not None:
        extra["requestBody"] = body
    if authenticated:
        extra["security"] = [{BEARER: []}]
    # response_model None: the answers are documented above; FastAPI's model inferred from a
    # route's return annotation (dict[str, Any]) would only add an empty schema beside them, and
    # validate every answer for nothing.
    return {
        "summary": summary,
        "responses": responses,
        "openapi_extra": extra or None,
        "response_model": None,
    }


def answer(
    description: str, model: type | None = None, *, media_type: str = "application/json"
) -> dict[str, Any]:
    """A success answer: its description and, when given, its schema (a model of
    api/schemas.py) under `media_type`."""
    if model is None:
        return {"description": description}
    if media_type == "application/json":
        return {"description": description, "model": model}
    schema = {"$ref": _REF.format(model=model.__name__)}
    return {"description": description, "content": {media_type: {"schema": schema}}}


def install(app: FastAPI) -> None:
    """Serve the contract as the app's OpenAPI document."""

    def contract() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build(app)
        return app.openapi_schema

    app.openapi = contract  # type: ignore[method-assign]


def build(app: FastAPI) -> dict[str, Any]:
    document = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    schemas: dict[str, Any] = document.setdefault("components", {}).setdefault("schemas", {})
    invoice = INVOICE.json_schema(ref_template=_REF)
    schemas.update(invoice.pop("$defs", {}))
    schemas["Invoice"] = invoice
    _, models = models_json_schema(
        [(model, "serialization") for model in MODELS], ref_template=_REF
    )
    schemas.update(models.get("$defs", {}))
    for name in ("Submission", "InvoiceDocument"):
        schemas[name]["properties"]["invoice"] = {"$ref": _REF.format(model="Invoice")}
    _replace_validation_errors(document)
    _document_request_ids(document)
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    document["components"]["securitySchemes"] = {
        BEARER: {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key from the registry (docs/registry.md): "
            "`Authorization: Bearer <key>`.",
        }
    }
    return document


def _replace_validation_errors(document: dict[str, Any]) -> None:
    """FastAPI documents 422 as its HTTPValidationError; the service answers the one shape."""
    for operations in document["paths"].values():
        for spec in operations.values():
            answered = spec.get("responses", {}).get("422")
            if answered is None:
                continue
            answered["description"] = ERROR_STATUSES[422]
            answered["content"] = {
                "application/json": {
                    "schema": {"$ref": _REF.format(model="Error")},
                    "example": _error_example(422),
                }
            }


_REQUEST_ID = (
    "The request's id: the caller's own `X-Request-ID` when it sent one of 1-128 characters of "
    "letters, digits and `._:+/=-`, else a new one. Every answer carries it (and every error "
    "body, as `request_id`); quote it to the operator (docs/operations.md)."
)


def _document_request_ids(document: dict[str, Any]) -> None:
    """Every operation takes an optional X-Request-ID and every answer carries one
    (api/observe.py does it for all of them, outside the routes)."""
    parameter = {
        "name": "X-Request-ID",
        "in": "header",
        "required": False,
        "description": _REQUEST_ID,
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:+/=-]{1,128}$"},
    }
    header = {"description": _REQUEST_ID, "schema": {"type": "string"}}
    for operations in document["paths"].values():
        for spec in operations.values():
            spec.setdefault("parameters", []).append(parameter)
            for answered in spec.get("responses", {}).values():
                answered.setdefault("headers", {})["X-Request-ID"] = header
