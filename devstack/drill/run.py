"""`scripts/stack drill faults`: kill every part of the running system under load, then prove
that no acknowledged invoice was lost or given two codes (docs/reliability.md).

The drill sets up its own world on the running stack: a keyspace and a database of its own,
migrated, one seller with a key and an API key, an authority key, and its own `einvoice serve`
and `einvoice worker` processes. It then:
1. sends the load (devstack/drill/load.py) and, after a quiet `gap`, injects each fault in turn,
   `rounds` times: the API, the worker, Redis and Cassandra killed with SIGKILL (and restarted),
   then PostgreSQL frozen with SIGSTOP for `postgres_stop_s`; a quiet gap after every fault;
2. stops starting new invoices, lets the ones still retrying finish (`drain_s`), waits until
   every batch answered 202 is completed, and reads back what is stored;
3. prints the report (devstack/drill/ledger.py); its last line is
   `acknowledged=N found=N lost=0 duplicated=0`, and the exit status is 0 only when nothing was
   lost or duplicated and nothing unexpected was answered.
Its keyspace, database and queue keys are dropped at the end unless `keep` is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson
from cryptography.hazmat.primitives.serialization import load_pem_private_key

import devstack
from devstack.cassandra import CassandraNode
from devstack.demo import make_sellers, register
from devstack.drill.faults import Faults, ServiceProcess, wait_for_health
from devstack.drill.ledger import (
    InvoiceKey,
    Ledger,
    LineOutcome,
    Report,
    Stored,
    check,
    keys_to_read,
)
from devstack.drill.load import DrillSeller, Load, LoadShape
from devstack.process import free_port
from devstack.scratch import scratch_deployment
from devstack.settings import StackSettings
from einvoice.authority_keys import generate_key_file
from einvoice.config import Settings
from storage.cassandra.batches import BatchStore
from storage.cassandra.client import connect as connect_cassandra
from storage.cassandra.invoices import InvoiceStore
from storage.cassandra.row_writer import RowWriter
from storage.postgres.pool import create_pool
from storage.postgres.registry import Registry

_AUTHORITY_KID = "drill-1"
_READ_CONCURRENCY = 32


@dataclass(frozen=True)
class DrillOptions:
    rounds: int = 5
    gap_s: float = 10.0
    postgres_stop_s: float = 60.0
    drain_s: float = 60.0
    batches_timeout_s: float = 300.0
    shape: LoadShape = field(default_factory=LoadShape)
    keep: bool = False
    faults: tuple[str, ...] = Faults.NAMES
    # The worker's takeover time for a killed worker's batch (EINVOICE_BATCH_CLAIM_IDLE_S): short,
    # so the drill does not wait a minute after each worker kill.
    claim_idle_s: float = 5.0


@dataclass
class Drill:
    """What a scenario works with: the drill's deployment, its processes and load, and a log."""

    settings: Settings
    stack: StackSettings
    options: DrillOptions
    faults: Faults
    load: Load
    ledger: Ledger
    note: Callable[[str], None]


Scenario = Callable[[Drill], Awaitable[None]]


def run_faults_drill(
    settings: Settings, stack: StackSettings, options: DrillOptions, say: Callable[[str], None]
) -> Report:
    """Each process killed `rounds` times, then PostgreSQL frozen (the module's docstring)."""
    devstack.up(settings, None, stack)
    Faults.check_ours_before(settings, stack, [CassandraNode(settings, stack)])
    return run_drill(settings, stack, options, _faults_scenario, say)


def run_drill(
    settings: Settings,
    stack: StackSettings,
    options: DrillOptions,
    scenario: Scenario,
    say: Callable[[str], None],
) -> Report:
    """Set up the drill's world on the stack, run `scenario` under load, and check the answers.
    `settings` say where Cassandra is and how the drill's keyspace is replicated."""
    devstack.up(settings, None, stack)
    with scratch_deployment(settings, "drill", keep=options.keep) as drill:
        say(f"drill: keyspace {drill.cassandra_keyspace}, database {drill.postgres_database}")
        if options.keep:
            say("drill: the keyspace and database are kept (--keep)")
        with tempfile.TemporaryDirectory(prefix="einvoice-drill-") as folder:
            return asyncio.run(_drill(drill, stack, options, scenario, Path(folder), say))


async def _drill(
    settings: Settings,
    stack: StackSettings,
    options: DrillOptions,
    scenario: Scenario,
    folder: Path,
    say: Callable[[str], None],
) -> Report:
    seller = await _seed_seller(settings, folder)
    generate_key_file(folder / "authority-keys", _AUTHORITY_KID)
    port = free_port()
    env = dict(
        os.environ,
        EINVOICE_CASSANDRA_HOSTS=settings.cassandra_hosts,
        EINVOICE_CASSANDRA_REPLICATION=settings.cassandra_replication,
        EINVOICE_CASSANDRA_KEYSPACE=settings.cassandra_keyspace,
        EINVOICE_POSTGRES_DATABASE=settings.postgres_database,
        EINVOICE_AUTHORITY_KEYS_DIR=str(folder / "authority-keys"),
        EINVOICE_AUTHORITY_ACTIVE_KID=_AUTHORITY_KID,
        EINVOICE_HTTP_HOST="127.0.0.1",
        EINVOICE_HTTP_PORT=str(port),
        EINVOICE_HTTP_WORKERS="1",
        EINVOICE_METRICS_PORT="0",
        EINVOICE_BATCH_CLAIM_IDLE_S=str(options.claim_idle_s),
    )
    logs = stack.stack_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    api = ServiceProcess("serve", env, logs / f"{settings.cassandra_keyspace}-api.log")
    worker = ServiceProcess("worker", env, logs / f"{settings.cassandra_keyspace}-worker.log")
    url = f"http://127.0.0.1:{port}"
    faults = Faults(settings, stack, api, url, worker)
    ledger = Ledger()
    began = time.monotonic()

    def note(text: str) -> None:
        say(f"drill [{time.monotonic() - began:6.1f} s] {text}")

    with _running(api, worker):
        await wait_for_health(url, api)
        connections = options.shape.connections
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        async with httpx.AsyncClient(base_url=url, limits=limits) as client:
            load = Load(client, seller, ledger, options.shape)
            stop = asyncio.Event()
            running = asyncio.ensure_future(load.run(stop))
            try:
                await scenario(Drill(settings, stack, options, faults, load, ledger, note))
            finally:
                stop.set()
                await running
            note(f"load stopped; draining retries for up to {options.drain_s:.0f} s")
            await load.drain(options.drain_s)
            note(load.stats.summary())
        note(f"waiting for {len(ledger.batches)} batches to complete")
        stored, results = await _read_back(settings, ledger, options.batches_timeout_s, note)
    report = check(ledger, stored, results)
    note(f"checked in {time.monotonic() - began:.0f} s")
    return report


async def _faults_scenario(drill: Drill) -> None:
    faults, options, note = drill.faults, drill.options, drill.note
    counts = dict.fromkeys(options.faults, 0)
    for round_number in range(1, options.rounds + 1):
        for name in options.faults:
            await asyncio.sleep(options.gap_s)
            started = time.monotonic()
            await faults.inject(name)
            counts[name] += 1
            back_after = time.monotonic() - started
            note(f"round {round_number}: {name} killed, back after {back_after:.1f} s")
    if options.postgres_stop_s > 0:
        await asyncio.sleep(options.gap_s)
        note(f"postgres frozen (SIGSTOP) for {options.postgres_stop_s:.0f} s")
        await faults.freeze_postgres(options.postgres_stop_s)
        note("postgres resumed (SIGCONT)")
    await asyncio.sleep(options.gap_s)
    note(f"faults done: {counts}, postgres stopped {options.postgres_stop_s:.0f} s")


@contextlib.contextmanager
def _running(*processes: ServiceProcess) -> Iterator[None]:
    for process in processes:
        process.start()
    try:
        yield
    finally:
        for process in processes:
            process.stop()


async def _seed_seller(settings: Settings, folder: Path) -> DrillSeller:
    (made,) = make_sellers(1, folder)
    pool = await create_pool(settings)
    try:
        manifest = await register(
            Registry(pool), {"admins": [], "officers": [], "sellers": []}, [made]
        )
    finally:
        await pool.close()
    entry = manifest["sellers"][0]
    private = load_pem_private_key(made.private_key_path.read_bytes(), password=None)
    return DrillSeller(made.tax_code, made.kid, made.algorithm, private, entry["api_key"])  # type: ignore[arg-type]


async def _read_back(
    settings: Settings, ledger: Ledger, batches_timeout_s: float, note: Callable[[str], None]
) -> tuple[dict[InvoiceKey, Stored], dict[uuid.UUID, dict[int, LineOutcome]]]:
    client = await asyncio.to_thread(connect_cassandra, settings)
    try:
        client.session.set_keyspace(settings.cassandra_keyspace)
        batches = BatchStore(client.session)
        invoices = InvoiceStore(client.session, RowWriter(client.session))
        await _wait_for_batches(batches, list(ledger.batches), batches_timeout_s, note)
        results: dict[uuid.UUID, dict[int, LineOutcome]] = {}
        for batch_id in ledger.batches:
            results[batch_id] = {
                result.line: LineOutcome(result.status, result.code, _first_code(result.errors))
                for result in await batches.all_results(batch_id)
            }
        stored: dict[InvoiceKey, Stored] = {}
        keys = sorted(keys_to_read(ledger))
        gate = asyncio.Semaphore(_READ_CONCURRENCY)

        async def read(key: InvoiceKey) -> None:
            async with gate:
                claim = await invoices.claim_of(
                    key.seller_tax_code, key.template, key.symbol, key.number
                )
                if claim is None:
                    return
                document = await invoices.by_code(claim.code)
                stored[key] = Stored(
                    claim.code, claim.invoice_hash, document.invoice_hash if document else None
                )

        await asyncio.gather(*(read(key) for key in keys))
        note(f"read back {len(keys)} invoices and {len(results)} batches' results")
        return stored, results
    finally:
        client.close()


async def _wait_for_batches(
    batches: BatchStore,
    batch_ids: list[uuid.UUID],
    timeout_s: float,
    note: Callable[[str], None],
) -> None:
    deadline = time.monotonic() + timeout_s
    waiting = set(batch_ids)
    while waiting:
        for batch_id in list(waiting):
            row = await batches.get(batch_id)
            if row is not None and row.status in ("completed", "failed"):
                waiting.discard(batch_id)
        if not waiting:
            return
        if time.monotonic() > deadline:
            note(f"{len(waiting)} batches still unfinished after {timeout_s:.0f} s")
            return
        await asyncio.sleep(1)


def _first_code(errors: str | None) -> str | None:
    if not errors:
        return None
    try:
        return str(orjson.loads(errors)[0]["code"])
    except (ValueError, KeyError, IndexError, TypeError):
        return None
