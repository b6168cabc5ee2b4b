"""Dependency aliases, declared once: handlers take `clients: ClientsDep`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.lifespan import Clients


def _clients(request: Request) -> Clients:
    clients: Clients = request.state.clients
    return clients


ClientsDep = Annotated[Clients, Depends(_clients)]
