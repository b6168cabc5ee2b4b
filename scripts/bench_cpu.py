"""CPU time of the processes a benchmark run involves, from /proc, for CPU-ms per request.

A group is a root process and all its descendants (granian's workers under `einvoice serve`,
PostgreSQL's backends under the postmaster). Each member counts utime + stime + cutime + cstime:
when a member exits and its parent reaps it, its whole time moves into the parent's cutime, so the
difference of two sums stays right across backends that come and go within a run (as long as the
root lives). The load generator is measured by the caller (getrusage), since it is our child.
"""

from __future__ import annotations

import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

# devstack/ (the local stack) is not installed: it is read from the checkout's root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from devstack.process import ManagedProcess
from devstack.settings import StackSettings
from loadtest.processes import CLOCK_TICKS, ProcStat, read_stat

T = TypeVar("T")


def all_stats() -> dict[int, ProcStat]:
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := read_stat(int(entry.name))) is not None:
            stats[stat.pid] = stat
    return stats


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def with_descendants(roots: set[int], stats: dict[int, ProcStat]) -> set[int]:
    members = {pid for pid in roots if pid in stats}
    children: dict[int, list[int]] = {}
    for stat in stats.values():
        children.setdefault(stat.ppid, []).append(stat.pid)
    pending = list(members)
    while pending:
        for child in children.get(pending.pop(), []):
            if child not in members:
                members.add(child)
                pending.append(child)
    return members


Finder = Callable[[dict[int, ProcStat]], set[int]]


def tree_of(pid: int) -> Finder:
    return lambda stats: with_descendants({pid}, stats)


def stack_server(stack: StackSettings, name: str, fallback: Callable[[ProcStat], bool]) -> Finder:
    """A server of the local stack: the pid it recorded, else the process that looks like it
    (a stack run outside `scripts/stack`), with its descendants."""
    recorded = ManagedProcess(name, stack.stack_dir / "run", stack.stack_dir / "logs")
    pid = recorded.running_pid()

    def find(stats: dict[int, ProcStat]) -> set[int]:
        if pid is not None:
            return with_descendants({pid}, stats)
        matches = {stat.pid for stat in stats.values() if fallback(stat)}
        # Roots only (the postmaster, not its backends): with_descendants adds those back.
        roots = {p for p in matches if stats[p].ppid not in matches}
        return with_descendants(roots, stats)

    return find


def stack_groups(stack: StackSettings) -> dict[str, Finder]:
    return {
        "cassandra": stack_server(
            stack,
            "cassandra",
            lambda stat: stat.comm == "java" and "CassandraDaemon" in cmdline(stat.pid),
        ),
        "postgres": stack_server(stack, "postgres", lambda stat: stat.comm == "postgres"),
        "redis": stack_server(stack, "redis", lambda stat: stat.comm == "redis-server"),
    }


@dataclass(frozen=True)
class Snapshot:
    ticks: dict[str, int]  # by group
    members: dict[str, int]  # processes in each group
    generator_s: float
    box_ticks: int  # busy time of all the machine's cores


def box_busy_ticks() -> int:
    """All cores' busy time (/proc/stat's first line less idle and iowait), in clock ticks."""
    values = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    # user nice system idle iowait irq softirq steal (guest time is already within user).
    return sum(values[:8]) - values[3] - values[4]


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def self_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def snapshot(groups: dict[str, Finder], generator: Callable[[], float]) -> Snapshot:
    stats = all_stats()
    ticks, members = {}, {}
    for name, find in groups.items():
        pids = find(stats)
        ticks[name] = sum(stats[pid].cpu_ticks for pid in pids)
        members[name] = len(pids)
    return Snapshot(ticks, members, generator(), box_busy_ticks())


def cpu_ms(before: Snapshot, after: Snapshot) -> dict[str, float]:
    """CPU milliseconds each group, the load generator and the rest of the box used between two
    snapshots."""
    used = {
        name: (after.ticks[name] - before.ticks[name]) * 1000 / CLOCK_TICKS for name in after.ticks
    }
    used["generator"] = (after.generator_s - before.generator_s) * 1000
    # Everything else the machine ran meanwhile (and this script's own share): on a shared box,
    # a large figure means the run's others were not alone.
    box = (after.box_ticks - before.box_ticks) * 1000 / CLOCK_TICKS
    used["other"] = max(0.0, box - sum(used.values()))
    return used


def measured(
    groups: dict[str, Finder], generator: Callable[[], float], run: Callable[[], T]
) -> tuple[T, dict[str, float], float]:
    """`run()`, with the CPU-ms each process group used meanwhile and the wall time it took."""
    before = snapshot(groups, generator)
    started = time.perf_counter()
    result = run()
    wall_s = time.perf_counter() - started
    return result, cpu_ms(before, snapshot(groups, generator)), wall_s
