"""Dependency aliases, declared once: handlers take `clients: ClientsDep`, `lookups: LookupDep`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.lifespan import Clients
from lookup.service import LookupService


async def _clients(request: Request) -> Clients:
    # async on purpose: FastAPI runs a plain `def` dependency in a thread pool, a thread hop on
    # every request for a dictionary lookup.
    clients: Clients = request.state.clients
    return clients


async def _lookups(request: Request) -> LookupService:
    clients: Clients = request.state.clients
    return clients.lookups


ClientsDep = Annotated[Clients, Depends(_clients)]
LookupDep = Annotated[LookupService, Depends(_lookups)]
