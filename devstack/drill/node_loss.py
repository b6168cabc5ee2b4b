"""`scripts/stack drill node-loss --seconds N`: one node of the local cluster lost under load, then
two, against a keyspace with three replicas (docs/reliability.md, "Node loss").

Over N seconds of steady real-time and batch load:
1. a quiet start (15 % of N);
2. the last node is killed with SIGKILL and stays down for 30 % of N: writes at LOCAL_QUORUM and
   claims at LOCAL_SERIAL still have two replicas of three, so acknowledgements go on;
3. it is started again, and repaired (`nodetool repair -full` of the drill's keyspace) so it holds
   what it missed, not only what hints brought back; a quiet 15 %;
4. two nodes are killed and stay down for 15 % of N (at least 10 s): no quorum, so the service
   must answer 503 with Retry-After and acknowledge nothing that was sent meanwhile;
5. both are started again and repaired; the rest of N must see acknowledgements again, without
   restarting the service (it recovers on its own).
The check then reads every acknowledged invoice back at quorum (devstack/drill/ledger.py). An
acknowledgement sent and answered while two nodes were down, no acknowledgement after they came
back, or a 503 without Retry-After are counted as unexpected and fail the drill.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import devstack
from devstack.cassandra import CassandraNode
from devstack.drill.faults import Faults
from devstack.drill.ledger import Report
from devstack.drill.run import Drill, DrillOptions, run_drill
from devstack.process import StackError
from devstack.settings import StackSettings
from einvoice.config import Settings

# An acknowledgement this soon after the second node died may be of a write that reached its
# quorum just before: only requests sent later than this count against the drill.
_SETTLE_S = 1.0


def cluster_settings(settings: Settings, nodes: list[CassandraNode]) -> Settings:
    """The product's settings pointed at the local cluster, three replicas in its data centre."""
    return settings.model_copy(
        update={
            "cassandra_hosts": ",".join(node.host for node in nodes),
            "cassandra_replication": f"NetworkTopologyStrategy:{settings.cassandra_local_dc}=3",
        }
    )


def run_node_loss_drill(
    settings: Settings,
    stack: StackSettings,
    nodes: list[CassandraNode],
    seconds: float,
    options: DrillOptions,
    say: Callable[[str], None],
) -> Report:
    if len(nodes) < 3:
        raise StackError(
            "the node-loss drill needs the local cluster: `scripts/stack up --cassandra-nodes 3`"
        )
    # The stack as it runs: these nodes, not the single one (which `up` would otherwise start).
    stack = stack.model_copy(update={"cassandra_nodes": len(nodes)})
    devstack.up(settings, ["postgres", "redis"], stack)
    Faults.check_ours_before(settings, stack, nodes)

    async def scenario(drill: Drill) -> None:
        await _lose_nodes(drill, nodes, seconds)

    return run_drill(cluster_settings(settings, nodes), stack, options, scenario, say)


async def _lose_nodes(drill: Drill, nodes: list[CassandraNode], seconds: float) -> None:
    note, keyspace = drill.note, drill.settings.cassandra_keyspace
    began = time.monotonic()
    last, second_last = nodes[-1], nodes[-2]

    await asyncio.sleep(0.15 * seconds)
    await Faults.kill(last)
    note(f"{last.name} killed (SIGKILL); load goes on with two replicas of three")
    await asyncio.sleep(0.30 * seconds)
    await _bring_back(drill, [last], keyspace)
    await asyncio.sleep(0.15 * seconds)

    await Faults.kill(second_last)
    await Faults.kill(last)
    window_start = time.monotonic() + _SETTLE_S
    note(f"{second_last.name} and {last.name} killed: no quorum")
    await asyncio.sleep(max(10.0, 0.15 * seconds))
    window_end = time.monotonic()
    await _bring_back(drill, [second_last, last], keyspace)
    back = time.monotonic()
    await asyncio.sleep(max(10.0, seconds - (back - began)))

    acknowledged = drill.load.acknowledged_at
    during = sum(1 for sent, done in acknowledged if sent >= window_start and done <= window_end)
    after = sum(1 for sent, _ in acknowledged if sent >= back)
    note(
        f"acknowledgements sent while two nodes were down: {during}; after they came back: {after}"
    )
    if during:
        drill.ledger.unexpected["acknowledged with two of three nodes down"] += during
    if not after:
        drill.ledger.unexpected["no acknowledgement after the nodes came back"] += 1


async def _bring_back(drill: Drill, nodes: list[CassandraNode], keyspace: str) -> None:
    started = time.monotonic()
    await asyncio.gather(*(Faults.restart(node) for node in nodes))
    names = " and ".join(node.name for node in nodes)
    drill.note(f"{names} back after {time.monotonic() - started:.1f} s")
    for node in nodes:
        started = time.monotonic()
        status = await asyncio.to_thread(node.nodetool, ["repair", "-full", keyspace])
        if status != 0:
            raise StackError(f"{node.name}: nodetool repair exited with {status}")
        drill.note(f"{node.name} repaired in {time.monotonic() - started:.1f} s")
