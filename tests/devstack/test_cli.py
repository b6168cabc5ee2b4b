"""`python -m devstack` (what `scripts/stack` runs) from the checkout, against the shared stack.

Only commands that change nothing on the shared servers run here: `up` (idempotent) and `status`.
"""

from __future__ import annotations

import subprocess
import sys

import devstack
from devstack.settings import CHECKOUT_ROOT
from einvoice.config import Settings


def _devstack(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "devstack", *arguments],
        cwd=CHECKOUT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_status_names_every_server(stack_up: None) -> None:
    """The optional ones too (the local Prometheus), running or not."""
    result = _devstack("status")

    assert result.returncode == 0, result.stderr
    names = [line.split()[0] for line in result.stdout.splitlines()]
    assert names == [*devstack.COMPONENTS, *devstack.OPTIONAL]
    assert all(" at 127.0.0.1:" in line for line in result.stdout.splitlines())


def test_up_against_the_running_stack_starts_nothing(
    base_settings: Settings, stack_up: None
) -> None:
    pids_before = {s.name: s.process.running_pid() for s in devstack.servers(base_settings)}

    result = _devstack("up")

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("stack up in ")
    assert {s.name: s.process.running_pid() for s in devstack.servers(base_settings)} == pids_before


def test_an_unknown_component_is_a_clear_error() -> None:
    result = _devstack("down", "mysql")

    assert result.returncode == 1
    assert result.stderr.startswith("scripts/stack down: unknown component(s) ['mysql']")


def test_the_product_command_has_no_stack_commands_and_no_demo_seeding() -> None:
    """The local stack and seeding demo data are devstack's (`scripts/stack`), never the
    product's. `einvoice demo submit` is the product's: a client of a running service that reads
    a demo registry file (issue #18)."""
    refused = [("stack", "--help"), ("demo", "seed", "--help")]
    for command in refused:
        result = subprocess.run(
            [sys.executable, "-m", "einvoice.cli", *command],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 2, command
        assert "invalid choice" in result.stderr
