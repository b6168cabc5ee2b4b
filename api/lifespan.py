"""The API process's clients: the shared runtime (einvoice/runtime.py) plus what only the API uses.

Opened in the lifespan, so after the server has forked its workers. Handlers read them from
`request.state.clients`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import TypedDict

from fastapi import FastAPI

from api.ratelimit import RateLimiter
from einvoice import logs
from einvoice.config import Settings
from einvoice.runtime import Runtime, open_runtime
from lookup.service import LookupService


@dataclass(frozen=True)
class Clients(Runtime):
    """The runtime's clients and services, and the API's own: its rate limiter and lookups."""

    rate_limiter: RateLimiter
    lookups: LookupService

    @classmethod
    def of(cls, runtime: Runtime) -> Clients:
        shared = {field.name: getattr(runtime, field.name) for field in dataclasses.fields(runtime)}
        rate_limiter = RateLimiter()
        lookups = LookupService(
            invoices=runtime.invoices,
            cache=runtime.redis,
            registry=runtime.registry,
            registry_cache=runtime.registry_cache,
            keyring=runtime.authority.keyring,
            rate_limiter=rate_limiter,
            page_token_secret=runtime.settings.page_token_secret,
        )
        return cls(**shared, rate_limiter=rate_limiter, lookups=lookups)


class State(TypedDict):
    clients: Clients


def lifespan_for(settings: Settings) -> Callable[[FastAPI], AbstractAsyncContextManager[State]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[State]:
        try:
            async with open_runtime(settings, write_through=True) as runtime:
                yield {"clients": Clients.of(runtime)}
        finally:
            logs.flush()  # granian may end this process without running its exit handlers

    return lifespan
