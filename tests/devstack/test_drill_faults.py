"""The short fault drill (CI's version of `scripts/stack drill faults`; the long run's figures are
in docs/reliability.md): every process killed once under load, PostgreSQL frozen, and then every
acknowledged invoice found, none lost or given two codes.

It kills servers of the shared local stack, so it runs last (marker `disruptive`), and only when
the stack started them itself (the drill refuses to kill anyone else's).
"""

from __future__ import annotations

import pytest

import devstack as stack
from einvoice.config import Settings
from tests.support import run_drill

pytestmark = pytest.mark.disruptive


def test_short_fault_drill_loses_nothing(base_settings: Settings) -> None:
    if any(server.process.running_pid() is None for server in stack.servers(base_settings)):
        pytest.skip("a server is not run by the local stack; the drill never kills others'")
    drill = run_drill(
        "faults",
        "--rounds=1",
        "--gap=3",
        "--postgres-stop=15",
        "--rate=10",
        "--batch-lines=50",
        timeout_s=900,
    )
    assert (drill.lost, drill.duplicated) == (0, 0), drill.output
    assert drill.acknowledged == drill.found > 0, drill.output
    assert drill.returncode == 0, drill.output
    # Every fault happened: the drill says so as it goes.
    for fault in ("api", "worker", "redis", "cassandra"):
        assert f"round 1: {fault} killed" in drill.output, drill.output
    assert "postgres resumed" in drill.output, drill.output
