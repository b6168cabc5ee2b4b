"""The local development stack: Cassandra, PostgreSQL and Redis on loopback (`scripts/stack`),
and on request a Prometheus scraping the local service.

Production runs these servers elsewhere (compose.yaml, or a real cluster); the service only needs
their addresses. This package exists so that a newcomer, the test suite and CI get real servers
from one command on a machine without Docker. It is not part of the product: it runs from the
checkout (`python -m devstack`), is in neither the wheel nor the image, and may import `einvoice`
(the addresses come from `einvoice.config.Settings`) while the product never imports it.
"""

from __future__ import annotations

from devstack.cassandra import CassandraNode, cluster_indexes
from devstack.postgres import PostgresServer
from devstack.process import StackError
from devstack.prometheus import PrometheusServer
from devstack.redis import RedisServer
from devstack.server import LocalServer
from devstack.settings import StackSettings, get_stack_settings
from einvoice.config import Settings

# Start order: Cassandra first, since it takes longest to come up and the others start meanwhile.
COMPONENTS = ("cassandra", "postgres", "redis")
# Started only when named (`scripts/stack up prometheus`); `status` shows them, and a bare `down`
# stops them with the rest.
OPTIONAL = ("prometheus",)

__all__ = [
    "COMPONENTS",
    "OPTIONAL",
    "StackError",
    "StackSettings",
    "cassandra_nodes",
    "down",
    "servers",
    "status",
    "up",
]

# Every function takes the product's settings (where the servers are) and, optionally, the stack's
# own (where it keeps them; from the environment when not given).


def servers(
    settings: Settings,
    names: list[str] | None = None,
    stack: StackSettings | None = None,
    *,
    recorded: bool = False,
) -> list[LocalServer]:
    """The servers named (by default COMPONENTS, and with `recorded` the OPTIONAL ones too).
    `cassandra` is the single node, or every node of the local cluster when
    EINVOICE_CASSANDRA_NODES > 1; `cassandra-<n>` is one cluster node. With `recorded`, cluster
    nodes that have a pid file are included whatever the settings say, so `down` and `status`
    find a cluster started with `--cassandra-nodes` without the variable."""
    stack = stack or get_stack_settings()
    chosen = names or [*COMPONENTS, *(OPTIONAL if recorded else ())]
    nodes = cassandra_nodes(settings, stack, recorded=recorded)
    node_names = {node.name for node in nodes}
    unknown = sorted(set(chosen) - {*COMPONENTS, *OPTIONAL} - node_names)
    if unknown:
        raise StackError(
            "unknown component(s) "
            f"{unknown}; choose from {[*COMPONENTS, *OPTIONAL, *sorted(node_names)]}"
        )
    found: list[LocalServer] = []
    for name in (*COMPONENTS, *OPTIONAL):
        if name == "cassandra":
            found.extend(node for node in nodes if "cassandra" in chosen or node.name in chosen)
        elif name in chosen:
            found.append(_server(name, settings, stack))
    return found


def _server(name: str, settings: Settings, stack: StackSettings) -> LocalServer:
    if name == "postgres":
        return PostgresServer(settings, stack)
    if name == "redis":
        return RedisServer(settings, stack)
    return PrometheusServer(settings, stack)


def cassandra_nodes(
    settings: Settings, stack: StackSettings, *, recorded: bool = False
) -> list[CassandraNode]:
    """The stack's Cassandra nodes: the single one, or the cluster's (see `servers`)."""
    indexes = (
        set(cluster_indexes(stack.cassandra_nodes, stack.cassandra_datacentres))
        if stack.cassandra_nodes > 1
        else set()
    )
    if recorded:
        for pid_file in (stack.stack_dir / "run").glob("cassandra-*.json"):
            suffix = pid_file.stem.removeprefix("cassandra-")
            if suffix.isdigit():
                indexes.add(int(suffix))
    nodes = [CassandraNode(settings, stack, index) for index in sorted(indexes)]
    single_recorded = recorded and (stack.stack_dir / "run" / "cassandra.json").exists()
    if stack.cassandra_nodes == 1 or single_recorded:
        nodes.insert(0, CassandraNode(settings, stack))
    return nodes


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
    stopping = servers(settings, names, stack, recorded=True)
    return [server.name for server in reversed(stopping) if server.down()]


def status(settings: Settings, stack: StackSettings | None = None) -> dict[str, str]:
    return {
        server.name: server.describe() for server in servers(settings, None, stack, recorded=True)
    }
