"""`scripts/stack up` twice is harmless: the second call starts nothing and changes no server."""

from __future__ import annotations

import devstack
from einvoice.config import Settings


def test_up_again_starts_nothing(base_settings: Settings, stack_up: None) -> None:
    pids_before = {s.name: s.process.running_pid() for s in devstack.servers(base_settings)}

    started = devstack.up(base_settings)

    assert started == []
    assert {s.name: s.process.running_pid() for s in devstack.servers(base_settings)} == pids_before
