"""The local stack's Cassandra nodes that the settings point at, for the benchmarks: the single
node, or every node of the local cluster named by EINVOICE_CASSANDRA_HOSTS. Their JVMs' CPU
summed, nodetool on each, their data folders and logs, and how many replicas each invoice has.

So every storage benchmark runs on the cluster unchanged, with the settings `scripts/stack up
--cassandra-nodes 3` prints (EINVOICE_CASSANDRA_HOSTS, EINVOICE_CASSANDRA_REPLICATION).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import devstack
from devstack.cassandra import CassandraNode
from devstack.settings import CHECKOUT_ROOT, get_stack_settings
from einvoice.config import Settings

TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_s(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # fields 14 and 15 of proc(5)


@dataclass(frozen=True)
class LocalNodes:
    nodes: tuple[CassandraNode, ...]
    pids: tuple[int, ...]
    replicas: int  # copies of each row across the keyspace's datacentres
    replication: dict[str, str]

    @classmethod
    def of(cls, settings: Settings) -> LocalNodes:
        hosts = set(settings.cassandra_contact_points)
        stack = get_stack_settings()
        # The single node's object takes the first contact point as its address, so a host may
        # have two candidates: the running one is the node there.
        running = {
            node.host: (node, pid)
            for node in devstack.cassandra_nodes(settings, stack, recorded=True)
            if node.host in hosts and (pid := node.process.running_pid()) is not None
        }
        if set(running) != hosts:
            raise RuntimeError(
                f"no running Cassandra node of the local stack at {sorted(hosts - set(running))} "
                "(is the stack, or the cluster, up?)"
            )
        nodes = [running[host][0] for host in sorted(hosts)]
        pids = [running[host][1] for host in sorted(hosts)]
        replication = settings.cassandra_replication_map()
        replicas = sum(int(value) for key, value in replication.items() if key != "class")
        if replication["class"] == "SimpleStrategy":
            replicas = int(replication["replication_factor"])
        return cls(
            tuple(nodes), tuple(pid for pid in pids if pid is not None), replicas, replication
        )

    def describe(self) -> str:
        names = ", ".join(node.name for node in self.nodes)
        return f"{len(self.nodes)} node(s) ({names}), {self.replicas} replica(s) per row"

    def cpu_s(self) -> float:
        """CPU seconds used so far by every node's JVM together."""
        return sum(process_cpu_s(pid) for pid in self.pids)

    def nodetool(self, node: CassandraNode, arguments: list[str]) -> str:
        """nodetool against one node (`scripts/stack nodetool [--node N]`), its output."""
        which = [] if node.index is None else ["--node", str(node.index)]
        return subprocess.run(
            [sys.executable, "-m", "devstack", "nodetool", *which, *arguments],
            check=True,
            capture_output=True,
            text=True,
            cwd=CHECKOUT_ROOT,  # `python -m devstack` runs from the checkout's root
        ).stdout

    def flush(self, keyspace: str | None = None) -> None:
        """`nodetool flush` (of one keyspace, or all) on every node."""
        for node in self.nodes:
            self.nodetool(node, ["flush", *([keyspace] if keyspace else [])])

    def live_bytes(self, keyspace: str) -> dict[str, int]:
        """`Space used (live)` of each table of a keyspace, summed over the nodes (all
        replicas), after a flush."""
        self.flush(keyspace)
        found: dict[str, int] = {}
        for node in self.nodes:
            stats = self.nodetool(node, ["tablestats", keyspace])
            for block in stats.split("Table: ")[1:]:
                table = block.split("\n", 1)[0].strip()
                match = re.search(r"Space used \(live\): (\d+)", block)
                if match:
                    found[table] = found.get(table, 0) + int(match.group(1))
        return found

    def remove_dropped(self, keyspace: str) -> None:
        """auto_snapshot keeps a dropped keyspace's files; they are ours and unreferenced."""
        for node in self.nodes:
            shutil.rmtree(node.home / "data" / keyspace, ignore_errors=True)

    def logs(self) -> list[Path]:
        return [node.process.log_file for node in self.nodes]

    def yaml(self) -> Path:
        return self.nodes[0].home / "conf" / "cassandra.yaml"
