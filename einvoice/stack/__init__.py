"""The local development stack: Cassandra, PostgreSQL and Redis on loopback (`einvoice stack`).

Production runs these servers elsewhere (compose.yaml, or a real cluster); the service only needs
their addresses. This package exists so that a newcomer, the test suite and CI get real servers
from one command on a machine without Docker.
"""

from __future__ import annotations

from einvoice.config import Settings
from einvoice.stack.cassandra import CassandraNode
from einvoice.stack.postgres import PostgresServer
from einvoice.stack.process import StackError
from einvoice.stack.redis import RedisServer
from einvoice.stack.server import LocalServer

# Start order: Cassandra first, since it takes longest to come up and the others start meanwhile.
COMPONENTS = ("cassandra", "postgres", "redis")

__all__ = ["COMPONENTS", "StackError", "down", "servers", "status", "up"]


def servers(settings: Settings, names: list[str] | None = None) -> list[LocalServer]:
    chosen = names or list(COMPONENTS)
    unknown = sorted(set(chosen) - set(COMPONENTS))
    if unknown:
        raise StackError(f"unknown component(s) {unknown}; choose from {list(COMPONENTS)}")
    factories = {"cassandra": CassandraNode, "postgres": PostgresServer, "redis": RedisServer}
    return [factories[name](settings) for name in COMPONENTS if name in chosen]


def up(settings: Settings, names: list[str] | None = None) -> list[str]:
    """Start what is not running, wait until every server answers; the names started now.

    Idempotent. All servers are started before any is waited for, so the slow Cassandra start
    overlaps the others'.
    """
    begun = [(server, server.begin()) for server in servers(settings, names)]
    for server, outcome in begun:
        if outcome != "external":
            server.finish()
    return [server.name for server, outcome in begun if outcome == "started"]


def down(settings: Settings, names: list[str] | None = None) -> list[str]:
    """Stop the servers this stack started (never anyone else's); the names of those stopped."""
    return [server.name for server in reversed(servers(settings, names)) if server.down()]


def status(settings: Settings) -> dict[str, str]:
    return {server.name: server.describe() for server in servers(settings)}
