"""The short node-loss drill (CI's version of `scripts/stack drill node-loss`; the long run's
figures are in docs/reliability.md): a local three-node cluster started beside the single node,
one node lost under load and then two, and every acknowledged invoice read back at quorum.

It starts and kills Cassandra nodes of the local stack, so it runs last (marker `disruptive`),
and it stops the cluster afterwards unless the cluster was running before.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator

import pytest

import devstack
from devstack.settings import CHECKOUT_ROOT, get_stack_settings
from einvoice.config import Settings

pytestmark = pytest.mark.disruptive


@pytest.fixture
def cluster(base_settings: Settings) -> Iterator[None]:
    stack = get_stack_settings().model_copy(update={"cassandra_nodes": 3})
    started = devstack.up(base_settings, ["cassandra"], stack)
    try:
        yield
    finally:
        if started:
            devstack.down(base_settings, started, stack)


def test_short_node_loss_drill_loses_nothing(cluster: None) -> None:
    drill = subprocess.run(
        [
            sys.executable,
            "-m",
            "devstack",
            "drill",
            "node-loss",
            "--seconds=60",
            "--rate=10",
            "--batch-lines=50",
        ],
        cwd=CHECKOUT_ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    output = drill.stdout + drill.stderr
    last = drill.stdout.strip().splitlines()[-1] if drill.stdout.strip() else ""
    found = re.fullmatch(r"acknowledged=(\d+) found=(\d+) lost=(\d+) duplicated=(\d+)", last)
    assert found, output[-6000:]
    acknowledged, stored, lost, duplicated = map(int, found.groups())
    assert (lost, duplicated) == (0, 0), output[-6000:]
    assert acknowledged == stored > 0, output[-6000:]
    assert drill.returncode == 0, output[-6000:]
    assert "acknowledgements sent while two nodes were down: 0;" in output, output[-6000:]
