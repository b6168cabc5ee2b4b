"""The short fault drill (CI's version of `scripts/stack drill faults`; the long run's figures are
in docs/reliability.md): every process killed once under load, PostgreSQL frozen, and then every
acknowledged invoice found, none lost or given two codes.

It kills servers of the shared local stack, so it runs last (marker `disruptive`), and only when
the stack started them itself (the drill refuses to kill anyone else's).
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

import devstack as stack
from devstack.settings import CHECKOUT_ROOT
from einvoice.config import Settings

pytestmark = pytest.mark.disruptive


def test_short_fault_drill_loses_nothing(base_settings: Settings) -> None:
    if any(server.process.running_pid() is None for server in stack.servers(base_settings)):
        pytest.skip("a server is not run by the local stack; the drill never kills others'")
    drill = subprocess.run(
        [
            sys.executable,
            "-m",
            "devstack",
            "drill",
            "faults",
            "--rounds=1",
            "--gap=3",
            "--postgres-stop=15",
            "--rate=10",
            "--batch-lines=50",
        ],
        cwd=CHECKOUT_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    output = drill.stdout + drill.stderr
    last = drill.stdout.strip().splitlines()[-1] if drill.stdout.strip() else ""
    found = re.fullmatch(r"acknowledged=(\d+) found=(\d+) lost=(\d+) duplicated=(\d+)", last)
    assert found, output
    acknowledged, stored, lost, duplicated = map(int, found.groups())
    assert (lost, duplicated) == (0, 0), output
    assert acknowledged == stored > 0, output
    assert drill.returncode == 0, output
    # Every fault happened: the drill says so as it goes.
    for fault in ("api", "worker", "redis", "cassandra"):
        assert f"round 1: {fault} killed" in output, output
    assert "postgres resumed" in output, output
