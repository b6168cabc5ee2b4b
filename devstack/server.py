"""What every server of the local stack has in common: use it if it is there, else start our own."""

from __future__ import annotations

import signal
from typing import Literal

from devstack.process import ManagedProcess, StackError, is_loopback, port_is_open, wait_until
from devstack.settings import StackSettings
from devstack.system import say
from einvoice.config import Settings


class LocalServer:
    """A server at a configured address: started by the stack on loopback, or someone else's.

    `up` is idempotent: our server already running is waited for; a server of someone else that
    answers at the address is used as it is and never stopped; otherwise ours is started.
    The address comes from the product's settings, everything else from the stack's own.
    """

    name: str
    # How the server is asked to shut down cleanly before the grace period ends in SIGKILL.
    stop_signal: signal.Signals = signal.SIGTERM
    readiness_interval_s = 0.25

    def __init__(self, settings: Settings, stack: StackSettings, host: str, port: int) -> None:
        self.settings = settings
        self.stack = stack
        self.host = host
        self.port = port
        self.process = ManagedProcess(self.name, stack.stack_dir / "run", stack.stack_dir / "logs")

    # -- what each server defines ---------------------------------------------------------------

    def start(self) -> None:
        """Install what is missing, prepare the data folder, start the process (not waiting)."""
        raise NotImplementedError

    def check_existing(self) -> None:
        """Raise StackError unless the server answering at the address is one we can use."""
        raise NotImplementedError

    def after_ready(self) -> None:
        """Set-up of our own server once it answers (roles, databases); must be idempotent."""

    # -- shared behaviour -----------------------------------------------------------------------

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def answers(self) -> bool:
        """Something listens at the address (ours or not)."""
        return port_is_open(self.host, self.port)

    def serves(self) -> bool:
        """Our server, once listening, serves requests (`wait_ready`); by default: it listens."""
        return self.answers()

    def describe(self) -> str:
        pid = self.process.running_pid()
        if pid is not None:
            state = "ready" if self.answers() else "starting"
            return f"{state}, ours (pid {pid}), at {self.address}, log {self.process.log_file}"
        if self.answers():
            return f"ready, not ours (left alone by down), at {self.address}"
        return f"stopped, at {self.address}"

    def up(self) -> None:
        if self.begin() != "external":
            self.finish()

    def begin(self) -> Literal["started", "running", "external"]:
        """Use what is there, or start our server; `finish` then waits for ours to answer."""
        if self.process.running_pid() is not None:
            say(f"{self.name}: already running (pid {self.process.running_pid()})")
            return "running"
        if not is_loopback(self.host) or self.answers():
            if not self.answers():
                raise StackError(
                    f"{self.name}: nothing answers at {self.address}, and the stack starts "
                    "servers only on loopback. Start that server, or point the EINVOICE_* "
                    "setting for it at loopback (docs/configuration.md)."
                )
            self.check_existing()
            say(f"{self.name}: using the server already at {self.address} (not ours)")
            return "external"
        self.start()
        return "started"

    def finish(self) -> None:
        """Wait until our server answers, then make sure its set-up is done (idempotent)."""
        self.wait_ready()
        self.after_ready()
        say(f"{self.name}: ready at {self.address} (pid {self.process.running_pid()})")

    def wait_ready(self) -> None:
        def ready() -> bool:
            if self.process.running_pid() is None:
                raise StackError(
                    f"{self.name}: the server exited during start-up. Last lines of "
                    f"{self.process.log_file}:\n{self.process.log_tail()}"
                )
            return self.serves()

        timeout = self.stack.stack_start_timeout_s
        if not wait_until(ready, timeout, self.readiness_interval_s):
            raise StackError(
                f"{self.name}: no answer at {self.address} within {timeout:.0f} s "
                f"(EINVOICE_STACK_START_TIMEOUT_S). It is left running; see "
                f"{self.process.log_file}, or stop it with `scripts/stack down {self.name}`."
            )

    def port_taken_error(self, port: int, what: str) -> StackError:
        return StackError(
            f"{self.name}: the {what} port {port} is taken by another program. Stop it (see "
            f"`ss -ltnp 'sport = :{port}'`) or configure another port, then run "
            "`scripts/stack up` again."
        )

    def down(self) -> bool:
        """Stop our server; False when none of ours was running. Never touches anyone else's."""
        return self.process.stop(
            stop_signal=self.stop_signal, grace_s=self.stack.stack_stop_grace_s
        )
