"""The top-level members of a JSON request body: an object with only the members named. One
check for every route whose body is such an object ({invoice, signature}, {notice, signature}),
so they refuse alike: INVALID_TYPE at "" for what is not an object, UNKNOWN_FIELD at each member
the request does not define."""

from __future__ import annotations

from typing import Any

from einvoice.error_codes import ErrorCode
from einvoice.errors import ErrorDetail, InvalidRequest


def request_members(body: Any, names: tuple[str, ...], what: str) -> tuple[Any, ...]:
    """The values of `names` in `body` (None when absent), in order; InvalidRequest otherwise.
    `what` names the request in messages ("a submission")."""
    if not isinstance(body, dict):
        shape = ", ".join(names)
        raise InvalidRequest(
            f"the body is an object {{{shape}}}", code=ErrorCode.INVALID_TYPE, field=""
        )
    unknown = sorted(set(body) - set(names))
    if unknown:
        raise InvalidRequest(
            "unknown fields",
            details=[
                ErrorDetail(ErrorCode.UNKNOWN_FIELD, f"not part of {what}", f"/{name}")
                for name in unknown
            ],
        )
    return tuple(body.get(name) for name in names)
