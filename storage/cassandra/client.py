"""Building the Cassandra cluster connection once per process, with named execution profiles."""

from __future__ import annotations

from dataclasses import dataclass

from cassandra import ConsistencyLevel
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile, Session
from cassandra.policies import (
    DCAwareRoundRobinPolicy,
    ExponentialReconnectionPolicy,
    TokenAwarePolicy,
)
from cassandra.query import dict_factory

from einvoice.config import Settings

# Profiles by name, so consistency is chosen where a statement is defined, not by driver default
# (the driver's default is LOCAL_ONE). LOCAL_QUORUM everywhere, even on one node (RF=1), so that a
# three-replica cluster needs no code change; lightweight transactions use LOCAL_SERIAL.
PROFILE_LOCAL_QUORUM = EXEC_PROFILE_DEFAULT


@dataclass(frozen=True)
class CassandraClient:
    cluster: Cluster
    session: Session
    keyspace: str

    def close(self) -> None:
        self.cluster.shutdown()


def build_cluster(settings: Settings) -> Cluster:
    profile = ExecutionProfile(
        load_balancing_policy=TokenAwarePolicy(
            DCAwareRoundRobinPolicy(local_dc=settings.cassandra_local_dc)
        ),
        consistency_level=ConsistencyLevel.LOCAL_QUORUM,
        serial_consistency_level=ConsistencyLevel.LOCAL_SERIAL,
        request_timeout=settings.cassandra_request_timeout_s,
        row_factory=dict_factory,
    )
    return Cluster(
        contact_points=settings.cassandra_contact_points,
        port=settings.cassandra_port,
        protocol_version=5,
        execution_profiles={EXEC_PROFILE_DEFAULT: profile},
        connect_timeout=settings.cassandra_connect_timeout_s,
        # Try a node that went away again within 10 s at most (the default backs off to 10 min),
        # so the service recovers promptly when Cassandra is back.
        reconnection_policy=ExponentialReconnectionPolicy(base_delay=0.5, max_delay=10.0),
        # `einvoice migrate` waits up to this long after each DDL statement for every node of a
        # cluster to agree on the schema before it sends the next one.
        max_schema_agreement_wait=30,
    )


def connect(settings: Settings, keyspace: str | None = None) -> CassandraClient:
    """Blocking: connect to the cluster (call it off the event loop, e.g. asyncio.to_thread)."""
    cluster = build_cluster(settings)
    try:
        session = cluster.connect()
    except Exception:
        cluster.shutdown()
        raise
    name = keyspace or settings.cassandra_keyspace
    return CassandraClient(cluster=cluster, session=session, keyspace=name)
