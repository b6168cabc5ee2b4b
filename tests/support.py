"""Small helpers for tests (no fixtures here)."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devstack.process import free_port as free_port  # re-exported for the tests
from einvoice.accelerator import PURE_VARIABLE, core

# For the tests that hold the compiled core to the reference: where the service does not use the
# core (EINVOICE_PURE=1, or not installed; einvoice/accelerator.py) there is nothing to compare.
compiled_core = pytest.mark.skipif(
    core is None, reason=f"compares the compiled core, which is not used here ({PURE_VARIABLE})"
)


def wait_for_http(
    url: str, process: subprocess.Popen[bytes], log_path: Path, timeout_s: float
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = log_path.read_text(errors="replace")
            raise RuntimeError(f"the service exited with {process.returncode}:\n{output[-3000:]}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout_s} s")


class ServerProcess:
    """An `einvoice <command>` process for a test, its output in a log file; stopped on exit
    with SIGTERM, or `kill()`ed on purpose."""

    def __init__(self, command: list[str], env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self.log = log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "einvoice.cli", *command],
            env=env,
            stdout=self.log,
            stderr=self.log,
            # Its own process group: granian's worker processes go down with it, even on SIGKILL.
            start_new_session=True,
        )

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        # Whatever is left of the group (a worker process whose parent was killed).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.log.close()


@contextlib.contextmanager
def running_service(env: dict[str, str], log_path: Path, **settings: str) -> Iterator[str]:
    """A real `einvoice serve` on a free port with `env` and these EINVOICE_* `settings` (keyword
    names without the prefix, e.g. TRUSTED_PROXIES="..."); its base URL once /healthz answers."""
    port = free_port()
    extra = {f"EINVOICE_{name}": value for name, value in settings.items()}
    with ServerProcess(
        ["serve"], dict(env, EINVOICE_HTTP_PORT=str(port), **extra), log_path
    ) as process:
        url = f"http://127.0.0.1:{port}"
        wait_for_http(f"{url}/healthz", process.process, log_path, timeout_s=60)
        yield url


@dataclasses.dataclass(frozen=True)
class DrillRun:
    """A `scripts/stack drill ...` run: its output, exit status and last-line figures."""

    output: str
    returncode: int
    acknowledged: int
    found: int
    lost: int
    duplicated: int


def run_drill(*arguments: str, timeout_s: float) -> DrillRun:
    """`python -m devstack drill ARGUMENTS` from the checkout; fails the test when its last line
    is not `acknowledged=N found=N lost=N duplicated=N`."""
    drill = subprocess.run(
        [sys.executable, "-m", "devstack", "drill", *arguments],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    output = drill.stdout + drill.stderr
    last = drill.stdout.strip().splitlines()[-1] if drill.stdout.strip() else ""
    figures = re.fullmatch(r"acknowledged=(\d+) found=(\d+) lost=(\d+) duplicated=(\d+)", last)
    assert figures, output[-6000:]
    acknowledged, found, lost, duplicated = map(int, figures.groups())
    return DrillRun(output, drill.returncode, acknowledged, found, lost, duplicated)


def body_without_request_id(response: httpx.Response) -> Any:
    """An answer's JSON body without its `request_id`, which differs on every request: for
    comparing two answers that must say the same thing."""
    body = response.json()
    if isinstance(body, dict):
        body.pop("request_id", None)
    return body
