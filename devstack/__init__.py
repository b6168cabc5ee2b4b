"""The local development stack: Cassandra, PostgreSQL and Redis on loopback (`scripts/stack`).

Production runs these servers elsewhere (compose.yaml, or a real cluster); the service only needs
their addresses. This package exists so that a newcomer, the test suite and CI get real servers
from one command on a machine without Docker. It is not part of the product: it runs from the
checkout (`python -m devstack`), is in neither the wheel nor the image, and may import `einvoice`
(the addresses come from `einvoice.config.Settings`) while the product never imports it.
"""

from __future__ import annotations

from devstack.cassandra import CassandraNode
from devstack.postgres import PostgresServer
from devstack.process import StackError
from devstack.redis import RedisServer
from devstack.server import LocalServer
from devstack.settings import StackSettings, get_stack_settings
from einvoice.config import Settings

# Start order: Cassandra first, since it takes longest to come up and the others start meanwhile.
COMPONENTS = ("cassandra", "postgres", "redis")

__all__ = ["COMPONENTS", "StackError", "StackSettings", "down", "servers", "status", "up"]

# Every function takes the product's settings (where the servers are) and, optionally, the stack's
# own (where it keeps them; from the environment when not given).


def servers(
    settings: Settings, names: list[str] | None = None, stack: StackSettings | None = None
) -> list[LocalServer]:
    chosen = names or list(COMPONENTS)
    unknown = sorted(set(chosen) - set(COMPONENTS))
    if unknown:
        raise StackError(f"unknown component(s) {unknown}; choose from {list(COMPONENTS)}")
    stack = stack or get_stack_settings()
    factories = {"cassandra": CassandraNode, "postgres": PostgresServer, "redis": RedisServer}
    return [factories[name](settings, stack) for name in COMPONENTS if name in chosen]


def up(
    settings: Settings, names: list[str] | None = None, stack: StackSettings | None = None
) -> list[str]:
    """Start what is not running, wait until every server answers; the names started now.

    Idempotent. All servers are started before any is waited for, so the slow Cassandra start
    overlaps the others'.
    """
    begun = [(server, server.begin()) for server in servers(settings, names, stack)]
    for server, outcome in begun:
        if outcome != "external":
            server.finish()
    return [server.name for server, outcome in begun if outcome == "started"]


def down(
    settings: Settings, names: list[str] | None = None, stack: StackSettings | None = None
) -> list[str]:
    """Stop the servers this stack started (never anyone else's); the names of those stopped."""
    return [server.name for server in reversed(servers(settings, names, stack)) if server.down()]


def status(settings: Settings, stack: StackSettings | None = None) -> dict[str, str]:
    return {server.name: server.describe() for server in servers(settings, None, stack)}
