"""The faults a drill injects: the service's own processes and the stack's servers, killed hard.

- `api` and `worker`: SIGKILL to the process group of the drill's `einvoice serve` / `einvoice
  worker` (granian's worker processes die with it), then the same command started again.
- `redis` and `cassandra`: SIGKILL to the stack's server, then `up` starts it again from its
  files (Redis replays its append-only file, Cassandra its commit log) and waits until it answers.
- `postgres`: SIGSTOP to the postmaster and every backend for a while, then SIGCONT: a server
  that hangs without closing a single connection, the worst case for timeouts.
Only servers the stack started are touched (`scripts/stack status` says "ours").
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx

from devstack.cassandra import CassandraNode
from devstack.postgres import PostgresServer
from devstack.process import StackError
from devstack.redis import RedisServer
from devstack.server import LocalServer
from devstack.settings import StackSettings
from einvoice.config import Settings


class ServiceProcess:
    """An `einvoice serve` or `einvoice worker` of the drill, in its own process group."""

    def __init__(self, command: str, env: dict[str, str], log_path: Path) -> None:
        self.command = command
        self.env = env
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "einvoice.cli", self.command],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def kill(self) -> None:
        self._signal_group(signal.SIGKILL)
        if self.process is not None:
            self.process.wait()

    def stop(self) -> None:
        """SIGTERM (a clean stop), SIGKILL after 20 s; whatever is left of the group goes too."""
        if self.process is not None and self.process.poll() is None:
            self._signal_group(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=20)
        self.kill()

    def _signal_group(self, sig: signal.Signals) -> None:
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)


async def wait_for_health(url: str, process: ServiceProcess, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(timeout=2) as client:
        while time.monotonic() < deadline:
            if process.process is not None and process.process.poll() is not None:
                raise StackError(f"{process.command} exited; see {process.log_path}")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(f"{url}/healthz")).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    raise StackError(f"{url}/healthz did not answer within {timeout_s:.0f} s")


class Faults:
    """One method per fault; each returns once the fault is over and the victim is back."""

    NAMES = ("api", "worker", "redis", "cassandra")

    def __init__(
        self,
        settings: Settings,
        stack: StackSettings,
        api: ServiceProcess,
        api_url: str,
        worker: ServiceProcess,
    ) -> None:
        self.settings = settings
        self.stack = stack
        self.api = api
        self.api_url = api_url
        self.worker = worker

    @staticmethod
    def check_ours_before(
        settings: Settings, stack: StackSettings, nodes: Sequence[CassandraNode]
    ) -> None:
        """Refuse before a drill starts when a server it may kill is not the stack's own."""
        for server in [RedisServer(settings, stack), *nodes, PostgresServer(settings, stack)]:
            if server.process.running_pid() is None:
                raise StackError(
                    f"{server.name} at {server.address} is not running as the stack's own "
                    "server, so the drill may not kill it; run `scripts/stack up` (and stop "
                    "anyone else's server there first)"
                )

    async def inject(self, name: str) -> None:
        if name == "api":
            self.api.kill()
            self.api.start()
            await wait_for_health(self.api_url, self.api)
        elif name == "worker":
            self.worker.kill()
            self.worker.start()
        elif name == "redis":
            await asyncio.to_thread(_kill_and_restart, RedisServer(self.settings, self.stack))
        elif name == "cassandra":
            await asyncio.to_thread(_kill_and_restart, CassandraNode(self.settings, self.stack))
        else:
            raise ValueError(f"unknown fault {name!r}")

    @staticmethod
    async def kill(server: LocalServer) -> None:
        """SIGKILL a server of the stack and wait until it is gone; it stays down."""
        if not await asyncio.to_thread(server.process.stop, stop_signal=signal.SIGKILL, grace_s=10):
            raise StackError(f"{server.name}: not running as the stack's own server")

    @staticmethod
    async def restart(server: LocalServer) -> None:
        """Start a killed server again and wait until it answers."""
        await asyncio.to_thread(server.up)

    async def freeze_postgres(self, seconds: float) -> None:
        with frozen(PostgresServer(self.settings, self.stack)):
            await asyncio.sleep(seconds)


@contextlib.contextmanager
def frozen(server: LocalServer) -> Iterator[None]:
    """The stack's server and every process it forked stopped (SIGSTOP) inside the block: its
    connections stay open and silent. The parent first, so it forks nothing new meanwhile."""
    parent = server.process.running_pid()
    if parent is None:
        raise StackError(f"{server.name}: not running as the stack's own server")
    stopped = [parent, *_children(parent)]
    try:
        for pid in stopped:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)
        yield
    finally:
        for pid in reversed(stopped):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


def _kill_and_restart(server: LocalServer) -> None:
    """SIGKILL the server (no shutdown of any kind), then start it again and wait until ready."""
    if not server.process.stop(stop_signal=signal.SIGKILL, grace_s=10):
        raise StackError(f"{server.name}: not running as the stack's own server")
    server.up()


def _children(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(stat[1]) == parent:
                found.append(int(entry.name))
    return found
