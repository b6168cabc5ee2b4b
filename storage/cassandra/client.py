"""Building the Cassandra cluster connection once per process, with named execution profiles."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from cassandra import ConsistencyLevel
from cassandra.cluster import (
    EXEC_PROFILE_DEFAULT,
    Cluster,
    ExecutionProfile,
    NoHostAvailable,
    Session,
)
from cassandra.metadata import NetworkTopologyStrategy
from cassandra.policies import (
    DCAwareRoundRobinPolicy,
    ExponentialReconnectionPolicy,
    HostDistance,
    TokenAwarePolicy,
)
from cassandra.query import dict_factory

from einvoice.config import Settings
from einvoice.datacentres import PAUSED, SellerHomes, claim_safety_problem
from storage.errors import SchemaError

# Profiles by name, so consistency is chosen where a statement is defined, not by driver default
# (the driver's default is LOCAL_ONE). LOCAL_QUORUM everywhere, even on one node (RF=1), so that a
# three-replica cluster needs no code change; lightweight transactions use LOCAL_SERIAL (or SERIAL
# across datacentres, EINVOICE_CASSANDRA_CLAIM_CONSISTENCY).
PROFILE_LOCAL_QUORUM = EXEC_PROFILE_DEFAULT


def home_profile(datacentre: str) -> str:
    """The execution profile of claims homed in `datacentre` (einvoice/datacentres.py)."""
    return f"claims@{datacentre}"


@dataclass(frozen=True)
class ClaimRouting:
    """Which execution profile runs a seller's claims: the default one, or with homed sellers
    the profile whose coordinators are in the seller's home datacentre, so that LOCAL_SERIAL
    is that datacentre's quorum wherever the request arrived."""

    homes: SellerHomes | None = None

    def profile_for(self, seller_tax_code: str) -> str | None:
        """The profile of a seller's claim rounds; None: the default profile."""
        if self.homes is None:
            return None
        home = self.homes.home_of(seller_tax_code)
        if home == PAUSED:
            # The driver's own "nowhere to send it" error, so callers already answer 503 with
            # Retry-After (api/errors.py) and workers wait (ingest/outage.py).
            raise NoHostAvailable(
                f"claims of tax-code prefix {seller_tax_code[:2]} are paused (re-homing)", {}
            )
        return home_profile(home)

    def read_profile_for(self, seller_tax_code: str) -> str | None:
        """The profile of a seller's claim reads: the home's, which saw its latest rounds; for a
        paused prefix the local datacentre's (a read decides nothing, so lookups by number and
        retries' original answers go on during a move)."""
        if self.homes is not None and self.homes.home_of(seller_tax_code) == PAUSED:
            return None
        return self.profile_for(seller_tax_code)


@dataclass(frozen=True)
class CassandraClient:
    cluster: Cluster
    session: Session
    keyspace: str
    claim_routing: ClaimRouting = field(default_factory=ClaimRouting)

    def close(self) -> None:
        self.cluster.shutdown()


def _profile(settings: Settings, datacentre: str, serial: int) -> ExecutionProfile:
    return ExecutionProfile(
        # Coordinators of `datacentre` only (the driver's default: no remote hosts at all), so a
        # claim homed there never falls back to another datacentre's quorum.
        load_balancing_policy=TokenAwarePolicy(
            DCAwareRoundRobinPolicy(local_dc=datacentre, used_hosts_per_remote_dc=0)
        ),
        consistency_level=ConsistencyLevel.LOCAL_QUORUM,
        serial_consistency_level=serial,
        request_timeout=settings.cassandra_request_timeout_s,
        row_factory=dict_factory,
    )


def build_cluster(settings: Settings) -> Cluster:
    serial = (
        ConsistencyLevel.SERIAL
        if settings.cassandra_claim_consistency == "serial"
        else ConsistencyLevel.LOCAL_SERIAL
    )
    profiles = {EXEC_PROFILE_DEFAULT: _profile(settings, settings.cassandra_local_dc, serial)}
    homes = settings.seller_homes()
    for datacentre in sorted(homes.datacentres if homes else ()):
        profiles[home_profile(datacentre)] = _profile(
            settings, datacentre, ConsistencyLevel.LOCAL_SERIAL
        )
    return Cluster(
        contact_points=settings.cassandra_contact_points,
        port=settings.cassandra_port,
        protocol_version=5,
        execution_profiles=profiles,
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
    _wait_for_pools(cluster, session, settings.cassandra_connect_timeout_s)
    name = keyspace or settings.cassandra_keyspace
    return CassandraClient(
        cluster=cluster,
        session=session,
        keyspace=name,
        claim_routing=ClaimRouting(settings.seller_homes()),
    )


def _wait_for_pools(cluster: Cluster, session: Session, timeout_s: float) -> None:
    """The driver's session is ready once the pool of *one* host is, and opens the others in the
    background. A statement whose profile allows only hosts without a pool yet (one datacentre's
    coordinators, for homed claims) fails meanwhile; so wait, briefly, for every host that is up
    and in reach to have its pool. A host that is down is not waited for."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        wanted = {
            host
            for host in cluster.metadata.all_hosts()
            if host.is_up and cluster.profile_manager.distance(host) != HostDistance.IGNORED
        }
        if wanted <= set(session.get_pool_state()):
            return
        time.sleep(0.02)


def check_claims_stay_unique(client: CassandraClient, settings: Settings) -> None:
    """Blocking: raise SchemaError when the keyspace's live replication (which an operator may
    have altered since the settings were checked) and the claim settings would let two
    datacentres decide one invoice number (einvoice/datacentres.py)."""
    metadata = client.cluster.metadata
    keyspace = metadata.keyspaces.get(client.keyspace)
    if keyspace is None:
        raise SchemaError(f"keyspace {client.keyspace} does not exist; run `einvoice migrate`")
    strategy = keyspace.replication_strategy
    datacentres: frozenset[str] | None
    if isinstance(strategy, NetworkTopologyStrategy):
        factors = strategy.dc_replication_factors
        datacentres = frozenset(name for name, factor in factors.items() if int(factor) > 0)
    else:
        hosts_in = {host.datacenter for host in metadata.all_hosts()}
        if len(hosts_in) > 1:
            raise SchemaError(
                f"keyspace {client.keyspace} uses {type(strategy).__name__} on a cluster with "
                f"several datacentres ({', '.join(sorted(map(str, hosts_in)))}): its replicas "
                "ignore datacentres, so no claim consistency keeps numbers unique; use "
                "NetworkTopologyStrategy (docs/datacentres.md)"
            )
        datacentres = None
    problem = claim_safety_problem(
        datacentres,
        settings.cassandra_claim_consistency,
        settings.seller_homes(),
        settings.cassandra_local_dc,
    )
    if problem:
        raise SchemaError(f"keyspace {client.keyspace}: {problem}")
