"""A capacity estimate: from measured throughput per process and bytes per invoice, how many API
processes, ingest workers and Cassandra nodes hold the national peak and ten years of data.

Every input is a measurement of this project's own benchmarks or replays (docs/); the rules of
thumb are stated where they are used, so a reader can redo the arithmetic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Measured:
    submissions_per_api_process: float  # real-time submissions/s one API process sustains
    lookups_per_api_process: float  # cached lookups/s one API process sustains
    invoices_per_worker: float  # batch invoices/s one ingest worker sustains
    invoices_per_cassandra_node: float  # invoices/s (claim + rows) one Cassandra node takes
    bytes_per_invoice: float  # on disk, one replica, from nodetool tablestats


@dataclass(frozen=True)
class Estimate:
    api_processes: int
    workers: int
    cassandra_nodes_for_load: int
    cassandra_nodes_for_data: int
    stored_terabytes: float

    @property
    def cassandra_nodes(self) -> int:
        return max(self.cassandra_nodes_for_load, self.cassandra_nodes_for_data, 3)


def estimate(
    measured: Measured,
    *,
    national_peak: float,
    annual_invoices: float = 8e9,
    real_time_share: float = 0.10,
    lookups_per_invoice: float = 0.5,
    years: int = 10,
    replication: int = 3,
    utilisation: float = 0.6,
    node_disk_terabytes: float = 4.0,
    disk_fill: float = 0.5,
) -> Estimate:
    """Processes and nodes for `national_peak` invoices/s, each run at `utilisation` of what was
    measured (headroom for failures and spikes).

    Batches may wait: workers are sized for the peak of the batch share too (they keep the
    backlog short at month ends). Cassandra nodes: every replica does the write work, so the
    load needs peak x replication / per-node rate; data needs the ten years x replication at
    `disk_fill` of each node's disk (compaction needs room).
    """
    real_time = national_peak * real_time_share
    batch = national_peak - real_time
    lookups = national_peak * lookups_per_invoice
    api = real_time / (measured.submissions_per_api_process * utilisation) + lookups / (
        measured.lookups_per_api_process * utilisation
    )
    workers = batch / (measured.invoices_per_worker * utilisation)
    load_nodes = national_peak * replication / (measured.invoices_per_cassandra_node * utilisation)
    stored = annual_invoices * years * measured.bytes_per_invoice * replication / 1e12
    data_nodes = stored / (node_disk_terabytes * disk_fill)
    return Estimate(
        api_processes=math.ceil(api),
        workers=math.ceil(workers),
        cassandra_nodes_for_load=math.ceil(load_nodes),
        cassandra_nodes_for_data=math.ceil(data_nodes),
        stored_terabytes=round(stored, 1),
    )
