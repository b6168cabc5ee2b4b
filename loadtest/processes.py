"""The service's and the workers' processes on this machine, and the CPU time they use, from /proc
(Linux), for the capacity run's per-process figures.

- API processes: those holding the listening socket of the port the run targets (granian's main
  process and its workers all hold it; its workers, the ones whose parent holds it too, are the
  processes that serve).
- Workers: `einvoice worker` processes whose EINVOICE_CASSANDRA_KEYSPACE is the run's: they read
  the batch queue the run fills (its keys are named after the keyspace), and no other's.
On a shared machine another engineer's service on another port, or workers of another keyspace,
are not counted. A target on another machine finds none: the run then says so.

CPU counts utime + stime + cutime + cstime (proc(5)), so a child that ends inside a step moves its
time into its parent's count instead of losing it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
PROC = Path("/proc")
_LISTEN = "0A"  # TCP_LISTEN in /proc/net/tcp's st column


@dataclass(frozen=True)
class ProcStat:
    """One process's line of /proc/<pid>/stat, what the capacity run and the benchmarks
    (scripts/bench_cpu.py) read of it."""

    pid: int
    ppid: int
    comm: str
    start_ticks: int
    cpu_ticks: int  # utime + stime + cutime + cstime


def read_stat(pid: int) -> ProcStat | None:
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may hold spaces or parentheses itself.
    comm = text[text.index("(") + 1 : text.rindex(")")]
    fields = text[text.rindex(")") + 2 :].split()
    # fields[0] is field 3 (state) of proc(5): ppid 4, utime 14 .. cstime 17, starttime 22.
    cpu = sum(int(value) for value in fields[11:15])
    return ProcStat(pid, int(fields[1]), comm, int(fields[19]), cpu)


def cpu_seconds(pids: Iterable[int]) -> float:
    """CPU seconds used so far by `pids` together (a process gone counts nothing)."""
    ticks = sum(stat.cpu_ticks for pid in pids if (stat := read_stat(pid)) is not None)
    return ticks / CLOCK_TICKS


def _pids() -> list[int]:
    try:
        return [int(entry.name) for entry in PROC.iterdir() if entry.name.isdigit()]
    except OSError:
        return []


def _listening_inodes(port: int) -> set[str]:
    inodes = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = (PROC / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == _LISTEN and int(local.rsplit(":", 1)[1], 16) == port:
                inodes.add(inode)
    return inodes


def listening_pids(port: int) -> set[int]:
    """Processes holding a listening socket on `port` (any local address)."""
    wanted = {f"socket:[{inode}]" for inode in _listening_inodes(port)}
    if not wanted:
        return set()
    found = set()
    for pid in _pids():
        try:
            descriptors = list((PROC / str(pid) / "fd").iterdir())
        except OSError:
            continue
        for descriptor in descriptors:
            try:
                if os.readlink(descriptor) in wanted:
                    found.add(pid)
                    break
            except OSError:
                continue
    return found


def serving(pids: set[int]) -> set[int]:
    """Of processes sharing a listening socket, those whose parent holds it too (a pre-fork
    server's workers); all of them when none does (a single process)."""
    children = {pid for pid in pids if (stat := read_stat(pid)) and stat.ppid in pids}
    return children or pids


def _is_worker(arguments: list[str]) -> bool:
    if "worker" not in arguments:
        return False
    return any(arg == "einvoice.cli" or arg.endswith("/einvoice") for arg in arguments)


def worker_pids(keyspace: str, default_keyspace: str) -> set[int]:
    """`einvoice worker` processes of the deployment whose Cassandra keyspace is `keyspace`."""
    found = set()
    for pid in _pids():
        try:
            arguments = (PROC / str(pid) / "cmdline").read_bytes().decode().split("\0")
            if not _is_worker(arguments):
                continue
            environment = (PROC / str(pid) / "environ").read_bytes().decode().split("\0")
        except (OSError, UnicodeDecodeError):
            continue
        variables = dict(item.split("=", 1) for item in environment if "=" in item)
        if variables.get("EINVOICE_CASSANDRA_KEYSPACE", default_keyspace) == keyspace:
            found.add(pid)
    return found
