"""A capacity estimate: from measured throughput per process and bytes per invoice, how many API
processes, ingest workers and Cassandra nodes hold the national peak and ten years of data.

Every input is a measurement of this project's own benchmarks or replays (docs/); the rules of
thumb are stated where they are used, so a reader can redo the arithmetic. `python -m
loadtest.capacity` prints the national estimate from the figures measured on the local
three-node cluster (`CLUSTER_2026_12_01`, docs/capacity.md); with `--run FIGURES.json` (written by
`einvoice loadtest capacity`), the API processes and workers are sized from that run's own
per-process figures instead (`RunFigures`), the Cassandra nodes still from the cluster's.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

ANNUAL_INVOICES = 8e9
AVERAGE_RATE = ANNUAL_INVOICES / (365.25 * 24 * 3600)  # 253.5 invoices/s
# Expired rows stay on disk until their 90-day compaction window's newest row expires, up to about
# 270 days with 180 days of backdating (docs/retention.md): counted in full, to be safe.
EXPIRED_ON_DISK_DAYS = 270


@dataclass(frozen=True)
class ClusterCost:
    """CPU per invoice measured on a cluster, per process and per Cassandra replica, so that it
    scales to machines of any size: a process uses one core; a Cassandra node of `cores` cores
    applies `cores x 1000 / ms` replica-writes a second.

    Cassandra's figures are every node's JVM together for one invoice (writing plus flushing its
    memtables), measured with `replicas` copies of each row."""

    replicas: int
    cassandra_batch_ms: float  # scripts/bench_ingest.py on the cluster
    cassandra_realtime_ms: float  # scripts/bench_submit.py, open loop, on the cluster
    service_realtime_ms: float  # API CPU per real-time submission (same run)
    worker_ms: float  # ingest worker CPU per batch invoice (scripts/bench_ingest.py)
    lookups_per_process: float  # cached lookups/s one API process answers (scripts/bench_lookup.py)
    bytes_per_replica: float  # scripts/measure_bytes.py, varied invoices, per replica

    def replica_ms(self, real_time_share: float) -> float:
        """Cassandra CPU-ms of one replica's share of one invoice of the national mix."""
        mixed = (
            real_time_share * self.cassandra_realtime_ms
            + (1 - real_time_share) * self.cassandra_batch_ms
        )
        return mixed / self.replicas

    def measured(self, node_cores: int, real_time_share: float = 0.10) -> Measured:
        """Per-process and per-node throughput at full use of a process's one core and of a
        node's `node_cores` cores (`estimate` applies the headroom)."""
        return Measured(
            submissions_per_api_process=1000 / self.service_realtime_ms,
            lookups_per_api_process=self.lookups_per_process,
            invoices_per_worker=1000 / self.worker_ms,
            invoices_per_cassandra_node=node_cores * 1000 / self.replica_ms(real_time_share),
            bytes_per_invoice=self.bytes_per_replica,
        )


# Measured 2026-12-01 on this 2-core box: three Cassandra 5.0 nodes (127.0.0.2-4, RF=3, commit log
# group sync) beside the service, PostgreSQL and Redis (docs/capacity.md has the runs).
CLUSTER_2026_12_01 = ClusterCost(
    replicas=3,
    cassandra_batch_ms=1.36 + 0.07,
    cassandra_realtime_ms=4.64,
    # The API's CPU per submission moved between 1.51 (on the cluster) and 2.53 ms (the single
    # node, an hour later, the box busier) the same day: the larger one.
    service_realtime_ms=2.53,
    worker_ms=0.40,
    lookups_per_process=2_700,
    # 1,115 measured on the cluster; the buyer-by-month index (issue #17) added 50 bytes an
    # invoice, measured on one node the same day (docs/realtime.md): 1,115 + 50.
    bytes_per_replica=1_151,
)


@dataclass(frozen=True)
class Measured:
    submissions_per_api_process: float  # real-time submissions/s one API process sustains
    lookups_per_api_process: float  # cached lookups/s one API process sustains
    invoices_per_worker: float  # batch invoices/s one ingest worker sustains
    invoices_per_cassandra_node: float  # invoices/s (claim + rows) one Cassandra node takes
    bytes_per_invoice: float  # on disk, one replica, from nodetool tablestats
    # Invoices/s of the national mix (its real-time share, batches, lookups and checks) one API
    # process sustains, measured by a capacity run; when set, it sizes the API processes instead
    # of the two separate rates above (a run measures the API's CPU for the mix as a whole).
    mix_per_api_process: float | None = None


@dataclass(frozen=True)
class RunFigures:
    """Per-process figures of a capacity run (`einvoice loadtest capacity`), at its highest step
    held. CPU is what the run's API and worker processes used during that step (/proc), per
    invoice acknowledged: a process uses one core, so it sustains 1,000 / CPU-ms a second. Without
    CPU (processes not found: a remote target), the rate held divided by the processes the run was
    told about, which is a floor: those processes were not necessarily busy."""

    date: str
    held_rate: float  # invoices/s of the mix acknowledged at the highest step held
    api_processes: int
    workers: int
    api_cpu_ms: float | None  # API CPU per invoice of the mix, its lookups and checks included
    worker_cpu_ms: float | None  # worker CPU per batch invoice
    real_time_share: float
    lookups_per_invoice: float  # lookups and public checks together

    @property
    def mix_per_api_process(self) -> float:
        if self.api_cpu_ms:
            return 1000 / self.api_cpu_ms
        return self.held_rate / max(1, self.api_processes)

    @property
    def invoices_per_worker(self) -> float:
        if self.worker_cpu_ms:
            return 1000 / self.worker_cpu_ms
        return self.held_rate * (1 - self.real_time_share) / max(1, self.workers)

    def measured(self, base: Measured) -> Measured:
        """`base` (the cluster's figures) with the API and worker rates of this run; Cassandra's
        and the bytes per invoice are not measured by a run and stay `base`'s."""
        return dataclasses.replace(
            base,
            mix_per_api_process=self.mix_per_api_process,
            invoices_per_worker=self.invoices_per_worker,
        )

    def to_json(self) -> bytes:
        return orjson.dumps(dataclasses.asdict(self), option=orjson.OPT_INDENT_2)

    @classmethod
    def from_json(cls, data: bytes) -> RunFigures:
        loaded: dict[str, Any] = orjson.loads(data)
        names = {item.name for item in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in loaded.items() if key in names})


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
    years: float = 10,
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
    if measured.mix_per_api_process:
        # A run's figure is for its own mix (by default the same 10 % and 0.5 lookups).
        api = national_peak / (measured.mix_per_api_process * utilisation)
    else:
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m loadtest.capacity",
        description="The national estimate from the figures measured on the local cluster.",
    )
    parser.add_argument("--peak-factor", type=float, default=10.0, help="peak / average rate")
    parser.add_argument("--node-cores", type=int, default=8)
    parser.add_argument("--node-disk-tb", type=float, default=4.0)
    parser.add_argument("--disk-fill", type=float, default=0.5)
    parser.add_argument("--utilisation", type=float, default=0.6)
    parser.add_argument("--replicas", type=int, default=3, help="per datacentre")
    parser.add_argument("--datacentres", type=int, default=2, help="each holding every invoice")
    parser.add_argument(
        "--run",
        type=Path,
        help="figures.json of a capacity run: its API and worker rates instead of the cluster's",
    )
    args = parser.parse_args(argv)

    cost = CLUSTER_2026_12_01
    measured = cost.measured(args.node_cores)
    run = RunFigures.from_json(args.run.read_bytes()) if args.run else None
    if run is not None:
        measured = run.measured(measured)
    peak = AVERAGE_RATE * args.peak_factor
    result = estimate(
        measured,
        national_peak=peak,
        years=10 + EXPIRED_ON_DISK_DAYS / 365.25,
        replication=args.replicas,
        utilisation=args.utilisation,
        node_disk_terabytes=args.node_disk_tb,
        disk_fill=args.disk_fill,
    )
    for_data, for_load = result.cassandra_nodes_for_data, result.cassandra_nodes_for_load
    deciding = "the data decides" if for_data >= for_load else "the load decides"
    print(
        f"{ANNUAL_INVOICES:.0e} invoices a year, average {AVERAGE_RATE:.0f}/s, peak "
        f"{peak:,.0f}/s (x{args.peak_factor:g}); RF={args.replicas}, ten years; processes and "
        f"nodes at {args.utilisation:.0%} of what was measured"
    )
    if run is not None:
        per_api = (
            f"per API process: {measured.mix_per_api_process:,.0f} invoices/s of the national mix "
            f"(capacity run of {run.date}, held {run.held_rate:,.0f}/s)"
        )
    else:
        per_api = (
            f"per API process: {measured.submissions_per_api_process:,.0f} submissions/s or "
            f"{measured.lookups_per_api_process:,.0f} cached lookups/s"
        )
    print(
        f"{per_api}; per worker "
        f"{measured.invoices_per_worker:,.0f} invoices/s; per {args.node_cores}-core Cassandra "
        f"node {measured.invoices_per_cassandra_node:,.0f} replica-writes/s "
        f"({cost.replica_ms(0.10):.3f} CPU-ms each); {cost.bytes_per_replica:,.0f} bytes/replica"
    )
    print(
        f"Cassandra nodes: {result.cassandra_nodes_for_load} for the load, "
        f"{result.cassandra_nodes_for_data} for {result.stored_terabytes:,.1f} TB "
        f"({args.node_disk_tb:g} TB disks {args.disk_fill:.0%} full) -> "
        f"{result.cassandra_nodes} per datacentre, {result.cassandra_nodes * args.datacentres} "
        f"in all; {deciding}"
    )
    print(
        f"API processes: {result.api_processes}; ingest workers: {result.workers} "
        "(per datacentre that takes the whole load)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
