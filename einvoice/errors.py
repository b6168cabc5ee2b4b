"""The service's one error hierarchy: every error a client can see has a stable code and a status.

Codes are part of the API contract: each comes from the catalogue (einvoice/error_codes.py),
which docs/errors.md lists for people. `field` is a JSON pointer (RFC 6901) into
the request body when the error concerns one field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import orjson

from einvoice.error_codes import ErrorCode
from einvoice.request_context import request_id as current_request_id

# How much of a value a message quotes: enough to recognise it, never a whole oversized header.
_SHOWN_CHARS = 80


def shown(value: object) -> str:
    """`value` as a message quotes it: in JSON, the API's own notation (`"enc"`, `null`, `5`),
    never a programming language's (`'enc'`, `None`), whatever the client was written in."""
    try:
        text = orjson.dumps(value).decode()
    except TypeError:  # not JSON's (a lone surrogate): say what it is instead
        return "a value that is not JSON text"
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 3] + "..."


@dataclass(frozen=True)
class ErrorDetail:
    code: ErrorCode
    message: str
    field: str | None = None

    def as_json(self) -> dict[str, str]:
        body = {"code": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        return body


class ServiceError(Exception):
    """Base of every error answered to a client. Subclasses fix `status` and usually `code`."""

    status: int = 400
    code: ErrorCode = ErrorCode.BAD_REQUEST
    retry_after_s: int | None = None
    headers: Mapping[str, str] = MappingProxyType({})

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        code: ErrorCode | None = None,
        details: list[ErrorDetail] | None = None,
    ) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.details = details or [ErrorDetail(self.code, message, field)]


class NotFound(ServiceError):
    status = 404
    code = ErrorCode.NOT_FOUND


class MethodNotAllowed(ServiceError):
    status = 405
    code = ErrorCode.METHOD_NOT_ALLOWED


class MalformedJson(ServiceError):
    """The body is not JSON at all: 400, nothing in it could be read."""

    status = 400
    code = ErrorCode.MALFORMED_JSON


class NotAcceptable(ServiceError):
    """The resource exists but not in the representation asked for (Accept): 406."""

    status = 406
    code = ErrorCode.XML_NOT_AVAILABLE


class PayloadTooLarge(ServiceError):
    status = 413
    code = ErrorCode.PAYLOAD_TOO_LARGE


class UnsupportedMediaType(ServiceError):
    status = 415
    code = ErrorCode.UNSUPPORTED_MEDIA_TYPE


class InvalidRequest(ServiceError):
    """The request's shape is wrong (JSON, types, required fields): 422 with every problem."""

    status = 422
    code = ErrorCode.INVALID_REQUEST


class Unprocessable(ServiceError):
    """Well-formed, but the content breaks a rule (a weak key, an invalid tax code): 422."""

    status = 422
    code = ErrorCode.UNPROCESSABLE


class Conflict(ServiceError):
    """The thing exists already, or its state forbids the change: 409."""

    status = 409
    code = ErrorCode.CONFLICT


class Unauthenticated(ServiceError):
    """No valid API key: 401. One code and message for every reason, so nothing leaks."""

    status = 401
    code = ErrorCode.UNAUTHENTICATED
    headers = MappingProxyType({"WWW-Authenticate": 'Bearer realm="einvoice"'})


class Forbidden(ServiceError):
    """A valid API key that may not do this: 403."""

    status = 403
    code = ErrorCode.FORBIDDEN


class RateLimited(ServiceError):
    """Over the client's published limit: 429 with Retry-After."""

    status = 429
    code = ErrorCode.RATE_LIMITED

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class BackendUnavailable(ServiceError):
    """A database or cache needed for this request did not answer: retry later."""

    status = 503
    code = ErrorCode.BACKEND_UNAVAILABLE
    retry_after_s = 5


class InternalError(ServiceError):
    """A bug. Answered without details; the log has the traceback."""

    status = 500
    code = ErrorCode.INTERNAL_ERROR


def error_body(details: Sequence[ErrorDetail]) -> dict[str, object]:
    """The one error shape, {"errors": [...], "request_id"}, with the id of the request being
    answered (einvoice/request_context.py); some answers add members beside (docs/errors.md)."""
    body: dict[str, object] = {"errors": [detail.as_json() for detail in details]}
    request_id = current_request_id()
    if request_id is not None:
        body["request_id"] = request_id
    return body
