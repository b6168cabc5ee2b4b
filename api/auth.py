"""Who is calling: `Authorization: Bearer <api key>`, the client's role, and its rate limit.

Every failure (no header, another scheme, a malformed, unknown or revoked key, a wrong secret) is
the same 401 after the same work: the key is checked against a dummy client when it cannot be
parsed, the client lookup is made either way (from the in-process cache), and the secret is
compared in constant time. Roles: `business` (acts for one tax code), `officer`, `admin`.

A key checked in full may cost a registry query (a client not yet in this process's cache), so
random keys are cheap abuse: each caller address has a bucket of such checks (api/ratelimit.py,
class `public`, kind `authenticate`), spent before the lookup and given back when the key turns
out valid. An address that keeps failing gets 429 before any query; keys already verified by this
process (the fast path below) never touch the bucket, so working clients behind a shared address
are not held back by a neighbour's failures once their key is known.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request

from api.client_address import client_address
from api.lifespan import Clients
from einvoice.error_codes import ErrorCode
from einvoice.errors import Forbidden, Unauthenticated
from einvoice.registry.api_keys import DUMMY_HASH, secret_matches, split_api_key
from einvoice.registry.cache import Client
from einvoice.request_context import current as current_request


@dataclass(frozen=True)
class Principal:
    client_id: uuid.UUID
    role: str
    tax_code: str | None
    rate_limit_class: str


# Keys already verified: the key -> (the registry cache's client object it was verified against,
# the principal). A repeated request with the same key skips parsing and hashing as long as the
# registry cache still holds that very object, or an equal one loaded again when the entry
# expired: any change to the client (revocation included) makes it unequal, and the key is
# checked in full again. Only successes are kept, so every failure still does the same work.
# Per process, bounded.
_VERIFIED: dict[str, tuple[Client, Principal]] = {}
_VERIFIED_MAX = 10_000

# The bucket of full key checks per caller address (api/ratelimit.py's LIMITS).
_CHECKS_CLASS, _CHECKS_KIND = "public", "authenticate"


async def authenticated(request: Request, clients: Clients) -> Principal:
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    api_key = credentials.strip() if scheme.lower() == "bearer" else ""
    known = _VERIFIED.get(api_key)
    if known is not None:
        verified_client, principal = known
        current = await clients.registry_cache.client(principal.client_id)
        if current is verified_client:
            return principal
        if current is not None and current == verified_client:
            # The entry expired and was loaded again unchanged (same secret hash, not revoked):
            # the key still holds, without a full check or a token of the address's bucket.
            _VERIFIED[api_key] = (current, principal)
            return principal
    # Raises RateLimited for an address over its failures, before the client is looked up.
    address = client_address(request) or "unknown"
    clients.rate_limiter.take(address, _CHECKS_CLASS, _CHECKS_KIND)
    client_id, secret, well_formed = split_api_key(api_key)
    client = await clients.registry_cache.client(client_id)
    matches = secret_matches(secret, client.secret_hash if client else DUMMY_HASH)
    if not (well_formed and matches and client is not None and not client.revoked):
        raise Unauthenticated("a valid API key is required: Authorization: Bearer <api key>")
    clients.rate_limiter.give_back(address, _CHECKS_CLASS, _CHECKS_KIND)
    principal = Principal(client.id, client.role, client.tax_code, client.rate_limit_class)
    if len(_VERIFIED) >= _VERIFIED_MAX:
        _VERIFIED.clear()
    _VERIFIED[api_key] = (client, principal)
    return principal


def allow(*roles: str, kind: str) -> Callable[[Request], Coroutine[Any, Any, Principal]]:
    """A dependency: the caller has one of `roles`, and is within its `kind` rate limit.

    One flat dependency taking only the request: FastAPI's resolution of nested dependencies
    was a large share of a cached lookup's time (profiled).
    """

    async def check(request: Request) -> Principal:
        clients: Clients = request.state.clients
        principal = await authenticated(request, clients)
        context = current_request.get()
        if context is not None:  # the request's log lines name who made it (never the key)
            context.client_id = str(principal.client_id)
            context.seller = principal.tax_code
        if principal.role not in roles:
            raise Forbidden(
                f"this needs the role {' or '.join(roles)}", code=ErrorCode.ROLE_FORBIDDEN
            )
        clients.rate_limiter.take(principal.client_id, principal.rate_limit_class, kind)
        return principal

    return check


AdminDep = Annotated[Principal, Depends(allow("admin", kind="admin"))]
