"""Background server processes of the local stack: start, recognise, wait for, stop.

A server that `scripts/stack up` starts is recorded in a pid file (`<stack_dir>/run/<name>.json`)
with its pid and the kernel's start time of that process. `down` signals only a pid whose start
time still matches, so a pid reused by another program after a crash is never touched. (Command
lines do not serve: Redis and PostgreSQL rewrite their process titles.)
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path


class StackError(Exception):
    """A stack command cannot go on; the message says what to do. The CLI exits non-zero."""


@dataclass(frozen=True)
class Recorded:
    pid: int
    start_ticks: int


def _process_start_ticks(pid: int) -> int | None:
    """When a live pid started (clock ticks since boot), or None when it is gone or dead.

    A thread-group leader that has exited shows as a zombie while its other threads still run
    (a JVM finishing its shutdown hooks does this), so a zombie counts as dead only when it has
    no thread left.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        if stat[0] == "Z":
            status = Path(f"/proc/{pid}/status").read_text()
            threads = int(status.split("Threads:", 1)[1].split()[0])
            if threads <= 1:
                return None
        return int(stat[19])
    except (OSError, IndexError, ValueError):
        return None


# Servers started by this process, kept so they are reaped when stopped (tests start and stop
# servers in-process) and so that Python does not warn about a child it forgot.
_children: dict[int, subprocess.Popen[bytes]] = {}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_is_open(host: str, port: int, timeout_s: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def is_loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")


class ManagedProcess:
    """One server process of the stack, known by name."""

    def __init__(self, name: str, run_dir: Path, log_dir: Path) -> None:
        self.name = name
        self.pid_file = run_dir / f"{name}.json"
        self.log_file = log_dir / f"{name}.log"

    def recorded(self) -> Recorded | None:
        try:
            data = json.loads(self.pid_file.read_text())
            return Recorded(pid=int(data["pid"]), start_ticks=int(data["start_ticks"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def running_pid(self) -> int | None:
        """The pid of our server if it is alive (and really ours), else None."""
        recorded = self.recorded()
        if recorded is None:
            return None
        if _process_start_ticks(recorded.pid) != recorded.start_ticks:
            return None
        return recorded.pid

    def start(
        self,
        argv: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        user: str | None = None,
        cwd: Path | None = None,
    ) -> int:
        """Start `argv` detached from this terminal, output appended to the log; record its pid."""
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            process = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Survives the CLI; a Ctrl-C in the terminal does not reach the server.
                start_new_session=True,
                env=env,
                user=user,
                cwd=cwd,
            )
        _children[process.pid] = process
        start_ticks = _process_start_ticks(process.pid) or 0
        self.pid_file.write_text(json.dumps({"pid": process.pid, "start_ticks": start_ticks}))
        return process.pid

    def stop(self, *, stop_signal: signal.Signals, grace_s: float) -> bool:
        """Signal our server, wait up to `grace_s`, then SIGKILL. False when it was not running."""
        pid = self.running_pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, stop_signal)
        if not wait_until(lambda: self.running_pid() is None, grace_s):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            wait_until(lambda: self.running_pid() is None, 10.0)
        child = _children.pop(pid, None)
        if child is not None:
            child.wait(timeout=10)  # reap our own child: no zombie left behind
        self.pid_file.unlink(missing_ok=True)
        return True

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def wait_until(condition: Callable[[], bool], timeout_s: float, interval_s: float = 0.25) -> bool:
    deadline = time.monotonic() + timeout_s
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval_s)
