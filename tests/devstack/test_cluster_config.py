"""The local Cassandra cluster's shape (no server started): names, addresses, folders, ports and
the configuration each node is given. tests/devstack/test_cluster.py starts a real one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import devstack
from devstack.cassandra import JMX_PORT, CassandraNode, cluster_hosts
from devstack.cli import cluster_settings_hint
from devstack.settings import StackSettings
from einvoice.config import Settings


def test_one_node_is_the_default_and_keeps_its_old_name_and_folder(
    base_settings: Settings, tmp_path: Path
) -> None:
    stack = StackSettings(stack_dir=tmp_path)
    (node,) = devstack.servers(base_settings, ["cassandra"], stack)
    assert isinstance(node, CassandraNode)
    assert (node.name, node.host, node.jmx_port) == ("cassandra", "127.0.0.1", JMX_PORT)
    assert node.home == tmp_path / "cassandra"


def test_a_cluster_has_a_node_per_address_with_its_own_folder_and_jmx_port(
    base_settings: Settings, tmp_path: Path
) -> None:
    stack = StackSettings(stack_dir=tmp_path, cassandra_nodes=3)
    nodes = devstack.servers(base_settings, ["cassandra"], stack)
    assert [node.name for node in nodes] == ["cassandra-1", "cassandra-2", "cassandra-3"]
    assert [node.host for node in nodes] == ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
    assert [node.jmx_port for node in nodes if isinstance(node, CassandraNode)] == [
        JMX_PORT + 1,
        JMX_PORT + 2,
        JMX_PORT + 3,
    ]
    assert len({node.home for node in nodes if isinstance(node, CassandraNode)}) == 3
    assert cluster_hosts(3) == "127.0.0.2,127.0.0.3,127.0.0.4"
    # One node of it by name; every server with the rest.
    assert [n.name for n in devstack.servers(base_settings, ["cassandra-2"], stack)] == [
        "cassandra-2"
    ]
    assert [n.name for n in devstack.servers(base_settings, None, stack)] == [
        "cassandra-1",
        "cassandra-2",
        "cassandra-3",
        "postgres",
        "redis",
    ]


def test_down_and_status_find_a_cluster_started_without_the_setting(
    base_settings: Settings, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    run.mkdir()
    for index in (1, 2, 3):
        (run / f"cassandra-{index}.json").write_text(json.dumps({"pid": 1, "start_ticks": 0}))
    stack = StackSettings(stack_dir=tmp_path)
    names = [node.name for node in devstack.servers(base_settings, None, stack, recorded=True)]
    assert names[:4] == ["cassandra", "cassandra-1", "cassandra-2", "cassandra-3"]
    assert "cassandra-1" in devstack.status(base_settings, stack)


def test_each_cluster_node_is_configured_for_the_cluster(
    base_settings: Settings, tmp_path: Path
) -> None:
    stack = StackSettings(stack_dir=tmp_path, cassandra_nodes=3)
    node = CassandraNode(base_settings, stack, 2)
    conf = node._write_config()
    yaml = conf.read_text()
    assert "listen_address: 127.0.0.3" in yaml
    assert "endpoint_snitch: GossipingPropertyFileSnitch" in yaml
    assert 'seeds: "127.0.0.2:7000"' in yaml
    assert "auto_bootstrap: false" in yaml
    rackdc = (conf.parent / "cassandra-rackdc.properties").read_text()
    assert f"dc={base_settings.cassandra_local_dc}" in rackdc
    assert f"-Dcassandra.jmx.local.port={JMX_PORT + 2}" in node._command("java", tmp_path, conf)

    single = CassandraNode(base_settings, StackSettings(stack_dir=tmp_path / "one"))._write_config()
    assert "endpoint_snitch: SimpleSnitch" in single.read_text()
    assert "auto_bootstrap" not in single.read_text()


def test_the_hint_names_the_settings_that_reach_the_cluster(base_settings: Settings) -> None:
    hint = cluster_settings_hint(base_settings, StackSettings(cassandra_nodes=3))
    assert "EINVOICE_CASSANDRA_HOSTS=127.0.0.2,127.0.0.3,127.0.0.4" in hint
    assert (
        f"EINVOICE_CASSANDRA_REPLICATION=NetworkTopologyStrategy:{base_settings.cassandra_local_dc}=3"
        in hint
    )
    assert "SELLER_HOMES" not in hint


def test_a_two_datacentre_cluster_has_nodes_and_folders_of_its_own(
    base_settings: Settings, tmp_path: Path
) -> None:
    stack = StackSettings(stack_dir=tmp_path, cassandra_nodes=4, cassandra_datacentres=2)
    nodes = devstack.servers(base_settings, ["cassandra"], stack)
    assert [node.name for node in nodes] == [f"cassandra-{index}" for index in (21, 22, 23, 24)]
    assert [node.host for node in nodes] == [f"127.0.0.{index}" for index in (22, 23, 24, 25)]
    datacentres = []
    for node in nodes:
        assert isinstance(node, CassandraNode)
        conf = node._write_config()
        assert 'seeds: "127.0.0.22:7000,127.0.0.23:7000"' in conf.read_text()
        datacentres.append((conf.parent / "cassandra-rackdc.properties").read_text().split()[0])
    assert datacentres == ["dc=datacenter1", "dc=datacenter2"] * 2

    hint = cluster_settings_hint(base_settings, stack)
    assert "EINVOICE_CASSANDRA_HOSTS=127.0.0.22,127.0.0.23,127.0.0.24,127.0.0.25" in hint
    assert "NetworkTopologyStrategy:datacenter1=2,datacenter2=2" in hint
    assert "EINVOICE_CASSANDRA_SELLER_HOMES=datacenter1=00-49,datacenter2=50-99" in hint


def test_an_unknown_node_is_a_clear_error(base_settings: Settings, tmp_path: Path) -> None:
    stack = StackSettings(stack_dir=tmp_path, cassandra_nodes=3)
    with pytest.raises(devstack.StackError, match="cassandra-4"):
        devstack.servers(base_settings, ["cassandra-4"], stack)
