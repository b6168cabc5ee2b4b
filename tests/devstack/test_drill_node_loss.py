"""The short node-loss drill (CI's version of `scripts/stack drill node-loss`; the long run's
figures are in docs/reliability.md): a local three-node cluster started beside the single node,
one node lost under load and then two, and every acknowledged invoice read back at quorum.

It starts and kills Cassandra nodes of the local stack, so it runs last (marker `disruptive`),
and it stops the cluster afterwards unless the cluster was running before.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import devstack
from devstack.settings import get_stack_settings
from einvoice.config import Settings
from tests.support import run_drill

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
    drill = run_drill("node-loss", "--seconds=60", "--rate=10", "--batch-lines=50", timeout_s=1200)
    assert (drill.lost, drill.duplicated) == (0, 0), drill.output
    assert drill.acknowledged == drill.found > 0, drill.output
    assert drill.returncode == 0, drill.output
    assert "acknowledgements sent while two nodes were down: 0;" in drill.output, drill.output
