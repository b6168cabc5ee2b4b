"""Benchmark: batch ingest end to end (accepted -> every line authenticated and stored), in
invoices/s, beside the ceiling of the same writes in the same run.

The ceiling (scripts/bench_ceiling.py, shape `batch`) writes the rows the service writes for a
batch (claims in conditional batches of one block, documents and index rows in unlogged
batches, results in single-partition batches) straight through the driver from several
processes, at the same consistency and commit-log mode, and reports Cassandra's CPU per invoice.

Needs the local stack up and migrated. The ingest runs in a keyspace of its own, migrated for the
run and dropped after it, as the ceiling's is. It registers a seller, signs --invoices invoices
(ES256), measures the ceiling, then starts `einvoice serve` and --workers `einvoice worker`
processes (as `scripts/start` does), posts the invoices as batches of 10,000 and times until
every batch is completed; it reads /proc for the CPU each process used. Both runs start with
every memtable flushed and flush their own keyspace afterwards, outside the clock, reporting
that CPU too (scripts/bench_ceiling.py's `flush`).

    .venv/bin/python scripts/bench_ingest.py [--invoices 20000] [--workers <cores>]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import orjson

from einvoice.authority_keys import generate_key_file
from einvoice.config import Settings, get_settings
from einvoice.invoice.samples import sample_invoice
from signing.seller import sign_invoice
from storage.cassandra.client import connect
from storage.cassandra.migrate import migrate

sys.path.insert(0, str(Path(__file__).resolve().parent))
# devstack/ (the local stack) is not installed: it is read from the checkout's root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench_ceiling import CeilingResult, measure
from bench_submit import free_port, register_seller, wait_ready
from local_nodes import LocalNodes, process_cpu_s


def tree_cpu_s(pid: int) -> float:
    """CPU seconds of a process and its children (granian's workers)."""
    total = process_cpu_s(pid)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                total += tree_cpu_s(int(entry))
    return total


@contextlib.contextmanager
def fresh_keyspace(settings: Settings) -> Iterator[str]:
    """A keyspace of this run, migrated as `einvoice migrate` does, dropped afterwards: the ingest
    run starts from empty tables like the ceiling's, and no run pays for compacting the last
    one's invoices."""
    name = f"bench_ingest_{secrets.token_hex(4)}"
    client = connect(settings)
    try:
        migrate(client.session, name, settings.cassandra_replication_map())
        yield name
    finally:
        try:
            client.session.execute(f"DROP KEYSPACE IF EXISTS {name}", timeout=60)
            LocalNodes.of(settings).remove_dropped(name)
        finally:
            client.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--invoices", type=int, default=20_000)
    parser.add_argument("--ceiling-invoices", type=int, default=20_000)
    parser.add_argument("--ceiling-processes", type=int, default=2)
    # As many as scripts/start runs: one per core.
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()

    settings = get_settings()
    tax_code, kid, key, api_key = asyncio.run(register_seller())
    today = dt.datetime.now(dt.UTC).date()
    lines = [
        orjson.dumps(
            {
                "invoice": (
                    inv := sample_invoice(seller_tax_code=tax_code, number=n, issued=today)
                ),
                "signature": sign_invoice(inv, key, kid=kid, alg="ES256"),
            }
        )
        for n in range(1, args.invoices + 1)
    ]
    ceiling = measure("batch", args.ceiling_invoices, args.ceiling_processes, settings)
    with fresh_keyspace(settings) as keyspace:
        return ingest(args, settings, keyspace, lines, api_key, ceiling)


def ingest(
    args: argparse.Namespace,
    settings: Settings,
    keyspace: str,
    lines: list[bytes],
    api_key: str,
    ceiling: CeilingResult,
) -> int:
    work = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    generate_key_file(work / "authority", "bench-1")
    port = free_port()
    env = dict(
        os.environ,
        EINVOICE_HTTP_PORT=str(port),
        EINVOICE_CASSANDRA_KEYSPACE=keyspace,
        EINVOICE_AUTHORITY_KEYS_DIR=str(work / "authority"),
        EINVOICE_METRICS_PORT="0",  # not the port a running `scripts/start` holds
    )

    def launch(command: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "einvoice.cli", command],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    api = launch("serve")
    workers = [launch("worker") for _ in range(args.workers)]
    url = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {api_key}"}
    nodes = LocalNodes.of(settings)
    try:
        wait_ready(url)
        time.sleep(2)  # the workers connect
        nodes.flush()
        cpu_before = {
            "api": tree_cpu_s(api.pid),
            "workers": sum(process_cpu_s(w.pid) for w in workers),
            "cassandra": nodes.cpu_s(),
        }
        started = time.perf_counter()
        batch_ids = []
        for start in range(0, len(lines), 10_000):
            request = urllib.request.Request(  # noqa: S310 - loopback only
                f"{url}/v1/batches",
                data=b"\n".join(lines[start : start + 10_000]),
                headers={**headers, "Content-Type": "application/x-ndjson"},
            )
            with urllib.request.urlopen(request, timeout=120) as answer:  # noqa: S310
                batch_ids.append(orjson.loads(answer.read())["batch_id"])
        accepted = time.perf_counter() - started
        counts = {"authenticated": 0, "rejected": 0, "duplicates": 0}
        for batch_id in batch_ids:
            while True:
                request = urllib.request.Request(f"{url}/v1/batches/{batch_id}", headers=headers)  # noqa: S310
                with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
                    status = orjson.loads(answer.read())
                if status["status"] in ("completed", "failed"):
                    break
                time.sleep(0.2)
            for name in counts:
                counts[name] += status[name]
        elapsed = time.perf_counter() - started
        cpu = {
            "api": tree_cpu_s(api.pid) - cpu_before["api"],
            "workers": sum(process_cpu_s(w.pid) for w in workers) - cpu_before["workers"],
            "cassandra": nodes.cpu_s() - cpu_before["cassandra"],
        }
        written = nodes.cpu_s()
        nodes.flush(keyspace)  # as the ceiling does: the run's memtables too
        cpu["cassandra flush"] = nodes.cpu_s() - written
    finally:
        for process in [api, *workers]:
            process.send_signal(signal.SIGTERM)
        for process in [api, *workers]:
            process.wait(timeout=30)

    rate = len(lines) / elapsed
    per_invoice = {name: seconds * 1000 / len(lines) for name, seconds in cpu.items()}
    print(f"date {dt.date.today()}, cores {os.cpu_count()}, {args.workers} workers, 1 API process")
    print(f"Cassandra: {nodes.describe()}; its CPU below is every node's together")
    print(
        f"{'what':50} {'invoices/s':>11} {'ratio':>6} {'Cassandra CPU-ms/inv':>21} {'+ flush':>8}"
    )
    print(
        f"{f'ceiling: raw driver, batch shape, {ceiling.processes} processes':50} "
        f"{ceiling.invoices_per_s:11,.0f} {1.0:6.2f} {ceiling.cassandra_cpu_ms_per_invoice:21.2f} "
        f"{ceiling.cassandra_flush_cpu_ms_per_invoice:8.2f}"
    )
    print(
        f"{'batch ingest end to end (HTTP, workers)':50} {rate:11,.0f} "
        f"{rate / ceiling.invoices_per_s:6.2f} {per_invoice['cassandra']:21.2f} "
        f"{per_invoice['cassandra flush']:8.2f}"
    )
    print(
        f"CPU-ms per invoice: workers {per_invoice['workers']:.2f}, API {per_invoice['api']:.2f}, "
        f"Cassandra {per_invoice['cassandra']:.2f}; ceiling clients "
        f"{ceiling.client_cpu_ms_per_invoice:.2f}"
    )
    print(
        f"({len(lines)} invoices: {counts['authenticated']} authenticated, {counts['rejected']} "
        f"rejected, {counts['duplicates']} duplicates; accepting took {accepted:.1f} s of "
        f"{elapsed:.1f} s)"
    )
    print("targets: >= 2,000 invoices/s and >= 0.60 of the ceiling")
    return 0


if __name__ == "__main__":
    sys.exit(main())
