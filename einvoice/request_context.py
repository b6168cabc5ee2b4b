"""The request being served: its id, and who made it, for every log line written on its behalf.

One `RequestContext` per HTTP request (api/observe.py sets it first thing) or per batch a worker
processes (ingest/worker.py, with the id of the request that submitted the batch). It lives in a
context variable, so code far from the request (storage, the registry cache) logs under the right
id without passing it around. The object itself is mutable: the authentication dependency fills in
the client and seller once it knows them, and the access log line, written by the middleware after
the handler returned, reads them from the same object.
"""

from __future__ import annotations

import re
import secrets
from contextvars import ContextVar
from dataclasses import dataclass

# A caller's own id is kept if it looks like an id: 1-128 characters of letters, digits and
# `._:+/=-` (UUIDs, ULIDs, base64 and the usual trace ids). Anything else is replaced, so a header
# cannot put control characters, quotes or megabytes into the logs and the answer.
_SANE_ID = re.compile(rb"[A-Za-z0-9._:+/=-]{1,128}")


@dataclass(slots=True)
class RequestContext:
    request_id: str
    client_id: str | None = None  # the API client's id: never its key
    seller: str | None = None  # the tax code the client acts for, when it acts for one


current: ContextVar[RequestContext | None] = ContextVar("einvoice_request", default=None)


def new_request_id() -> str:
    """128 random bits as 32 hex digits: unique over ten years of national traffic."""
    return secrets.token_hex(16)


def accepted_request_id(sent: bytes | None) -> str:
    """The caller's X-Request-ID if it is a sane id, else a new one."""
    if sent is not None and _SANE_ID.fullmatch(sent):
        return sent.decode("ascii")
    return new_request_id()


def request_id() -> str | None:
    """The id of the request being served, if any."""
    context = current.get()
    return context.request_id if context is not None else None
