"""Benchmark: the ceiling of Cassandra writes for issue 12. Raw cassandra-driver loops write the
rows the service will write, in the same shapes, at the same consistency (LOCAL_QUORUM, LWT at
LOCAL_SERIAL, the profile of storage/cassandra/client.py) and the node's commit-log mode, from
several client processes, and report invoices/s and the CPU each invoice costs Cassandra (utime +
stime of its JVM from /proc) and the clients.

Shapes (scripts/ceiling_workload.py): `batch` (the main ceiling), `realtime-one`,
`realtime-grouped`, and `reference` (= ref-lwt-one, ref-cond-100, ref-unlogged-50, comparable
with issue 12's table). Before each shape, probes find the largest sizes Cassandra accepts up to
the shape's own: a conditional batch of one block (1,000, 500, 250, 100 rows; conditional
batches are not subject to batch_size_fail_threshold) and the invoices whose rows one unlogged
batch carries (50, 40, 32, 25, 16; a multi-partition batch over batch_size_fail_threshold,
50 KiB, is refused). The shape then runs with those; the result lists what was refused and why.

Needs the local stack up. Works in a scratch keyspace (SimpleStrategy RF 1, snapshot.cql, then
changes/0005, a no-op where the snapshot has it) that it drops at the end, with the snapshot the
drop leaves behind.

    .venv/bin/python scripts/bench_ceiling.py [--invoices 20000] [--small-invoices 4000]
        [--processes 2] [--shapes batch,realtime-one,realtime-grouped,reference] [--rounds 1]
        [--warmup 1000] [--rows-per-batch N] [--in-flight N]

--small-invoices is for the shapes with one lightweight transaction an invoice (realtime-one,
ref-lwt-one); every other shape writes --invoices. Each shape runs once unmeasured (--warmup)
first; with --rounds N the shapes alternate and the median round (by invoices/s) is shown. The
box is shared: Cassandra's CPU-ms per invoice is the steadier figure, invoices/s moves with
whatever else runs.

Another script reuses it: `measure(shape, invoices, processes, settings)` -> CeilingResult.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import multiprocessing
import os
import queue
import re
import secrets
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from multiprocessing.queues import Queue
from pathlib import Path
from typing import Any

from cassandra.cluster import Session
from cassandra.query import BatchStatement, BatchType

sys.path.insert(0, str(Path(__file__).resolve().parent))
# devstack/ (the local stack) is not installed: it is read from the checkout's root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ceiling_workload import BLOCK, CLAIM, SHAPES, Params, Shape, WorkerReport, Workload, worker
from local_nodes import LocalNodes

from einvoice.config import Settings, get_settings
from storage.cassandra.client import CassandraClient, connect
from storage.cassandra.migrate import SCHEMA_DIR, split_statements

CLAIM_SIZES = (1000, 500, 250, 100)  # rows of one conditional batch, tried in turn
ROWS_SIZES = (50, 40, 32, 25, 16)  # invoices of one unlogged rows batch, tried in turn
REFERENCE = ("ref-lwt-one", "ref-cond-100", "ref-unlogged-50")


@dataclass(frozen=True)
class CeilingResult:
    shape: str
    invoices: int
    processes: int
    replicas: int  # copies of each row: the Cassandra CPU below is for all of them
    seconds: float
    invoices_per_s: float
    cassandra_cpu_ms_per_invoice: float  # every node's JVM together
    # Flushing the run's memtables afterwards (outside the clock), which the run deferred.
    cassandra_flush_cpu_ms_per_invoice: float
    client_cpu_ms_per_invoice: float  # sending, all client processes together
    client_build_cpu_ms_per_invoice: float  # binding the statements, before the clock
    client_core_share: float  # the busiest client process's CPU / wall time (1.0 = one core)
    box_busy: float  # share of all cores busy during the run (every process on the box)
    claim_group: int
    rows_per_batch: int
    probe_notes: list[str] = field(default_factory=list)
    errors: int = 0
    not_applied: int = 0
    first_error: str = ""
    log_warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ProbeResult:
    group: int  # the largest accepted conditional batch of one block, in rows
    refused: dict[int, str]  # size -> Cassandra's error


# -- the node --------------------------------------------------------------------------------


def box_cpu_ticks() -> tuple[int, int]:
    """(busy, total) ticks of all cores."""
    values = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def commitlog_mode(nodes: LocalNodes) -> str:
    """The commit-log lines of the yaml the stack wrote (devstack/cassandra.py)."""
    path = nodes.yaml()
    try:
        text = path.read_text()
    except OSError:
        return f"unknown ({path} unreadable)"
    found = re.findall(r"^(commitlog_sync\w*|paxos_variant):\s*(\S+)", text, re.MULTILINE)
    return ", ".join(f"{name}={value}" for name, value in found)


class LogWatch:
    """WARN and ERROR lines Cassandra logs from now on, grouped with their numbers masked."""

    def __init__(self, nodes: LocalNodes) -> None:
        self.offsets = {path: path.stat().st_size if path.exists() else 0 for path in nodes.logs()}

    def lines(self) -> list[str]:
        text = ""
        for path, offset in self.offsets.items():
            if path.exists():
                with path.open("rb") as log:
                    log.seek(offset)
                    text += log.read().decode(errors="replace")
        counts: Counter[str] = Counter()
        examples: dict[str, str] = {}
        for line in text.splitlines():
            if not line.startswith(("WARN", "ERROR")):
                continue
            message = line.split(" - ", 1)[-1]
            pattern = re.sub(r"\d+(\.\d+)?", "#", message)
            counts[pattern] += 1
            examples.setdefault(pattern, f"{line.split()[0]} {message}"[:400])
        return [f"{count}x {examples[pattern]}" for pattern, count in counts.most_common()]


# -- the scratch keyspace ------------------------------------------------------------------------


@contextlib.contextmanager
def scratch_keyspace(settings: Settings) -> Iterator[str]:
    """A keyspace with the schema at version 5, dropped (with its snapshot) on the way out."""
    name = f"bench_ceiling_{secrets.token_hex(4)}"
    client = connect(settings)
    session = client.session
    try:
        options = ", ".join(
            f"'{k}': '{v}'" for k, v in settings.cassandra_replication_map().items()
        )
        session.execute(f"CREATE KEYSPACE {name} WITH replication = {{{options}}}", timeout=60)
        session.set_keyspace(name)
        for path in (
            SCHEMA_DIR / "snapshot.cql",
            SCHEMA_DIR / "changes" / "0005_grouped_claims.cql",
        ):
            for statement in split_statements(path.read_text()):
                session.execute(statement, timeout=60)
        yield name
    finally:
        try:
            session.execute(f"DROP KEYSPACE IF EXISTS {name}", timeout=60)
            LocalNodes.of(settings).remove_dropped(name)
        finally:
            client.close()


def flush(nodes: LocalNodes, keyspace: str | None = None) -> None:
    """`nodetool flush` (of one keyspace, or all) on every node: memtables written out as
    SSTables. A run that ends before its memtables are flushed leaves part of its writes' cost to
    whatever runs next, so both benchmarks flush everything before they start the clock, and their
    own keyspace after they stop it, reporting the CPU that took beside the run's (nodetool's own
    start-up, a JVM of a few seconds, stays out of the clock)."""
    nodes.flush(keyspace)


def _session(settings: Settings, keyspace: str) -> CassandraClient:
    client = connect(settings)
    client.session.set_keyspace(keyspace)
    return client


def probe_conditional_batch(session: Session, sizes: tuple[int, ...]) -> ProbeResult:
    """The largest conditional batch (all rows IF NOT EXISTS in one block) Cassandra accepts."""
    claim = session.prepare(CLAIM)
    now = dt.datetime.now(dt.UTC)
    refused: dict[int, str] = {}
    tag = secrets.token_hex(4)
    for size in sizes:
        batch = BatchStatement(batch_type=BatchType.LOGGED)
        for number in range(BLOCK, BLOCK + size):
            key = (f"probe-{tag}-{size}", "1", "C26TAA", 1, number)
            batch.add(claim, (*key, os.urandom(17), os.urandom(32), now, None, None, 315_360_000))
        try:
            rows = session.execute(batch, timeout=60).all()
        except Exception as exc:
            refused[size] = f"{type(exc).__name__}: {exc}"[:600]
            continue
        if rows and rows[0].get("[applied]"):
            return ProbeResult(size, refused)
        refused[size] = f"not applied: {rows[:1]}"
    raise RuntimeError(f"every conditional batch size was refused: {refused}")


def probe_rows_batch(
    session: Session, keyspace: str, shape: Shape, sizes: tuple[int, ...]
) -> ProbeResult:
    """The most invoices whose rows (as the shape writes them) one unlogged batch may carry."""
    refused: dict[int, str] = {}
    for size in sizes:
        params = Params(shape, 0, size, 1, size, 99, secrets.token_hex(4), keyspace, 60.0)
        batch = BatchStatement(batch_type=BatchType.UNLOGGED)
        for rows in Workload(session, params).rows:
            for row in rows:
                batch.add(row)
        try:
            session.execute(batch, timeout=60)
        except Exception as exc:
            refused[size] = f"{type(exc).__name__}: {exc}"[:600]
            continue
        return ProbeResult(size, refused)
    raise RuntimeError(f"every rows batch size was refused: {refused}")


def _sizes(first: int, fallbacks: tuple[int, ...]) -> tuple[int, ...]:
    return (first, *(size for size in fallbacks if size < first))


def probe(
    settings: Settings, keyspace: str, shape: Shape, claim_group: int | None, rows: int | None
) -> tuple[int, int, list[str]]:
    """The claim group and rows per batch to use where not given, and what the probes saw."""
    client, watch, notes = _session(settings, keyspace), LogWatch(LocalNodes.of(settings)), []
    try:
        if claim_group is None and shape.claim_group > 1:
            found = probe_conditional_batch(client.session, _sizes(shape.claim_group, CLAIM_SIZES))
            claim_group = found.group
            notes.append(f"conditional batch of one block: {found.group} rows accepted")
            notes += [f"  {size} rows refused: {err}" for size, err in found.refused.items()]
        if rows is None and shape.rows_per_batch > 1:
            sizes = _sizes(shape.rows_per_batch, ROWS_SIZES)
            found = probe_rows_batch(client.session, keyspace, shape, sizes)
            rows = found.group
            notes.append(f"unlogged rows batch: {found.group} invoices accepted")
            notes += [f"  {size} invoices refused: {err}" for size, err in found.refused.items()]
    finally:
        client.close()
    time.sleep(0.5)  # let the log's appender catch up
    notes += [f"  cassandra.log: {line}" for line in watch.lines()]
    return (
        shape.claim_group if claim_group is None else claim_group,
        shape.rows_per_batch if rows is None else rows,
        notes,
    )


# -- measuring --------------------------------------------------------------------------------


def _collect(
    reports: Queue[Any], children: Sequence[BaseProcess], timeout_s: float, count: int | None = None
) -> list[Any]:
    """`count` messages (default one a child) from the workers; fails if one died silently."""
    wanted = len(children) if count is None else count
    received: list[Any] = []
    deadline = time.monotonic() + timeout_s
    while len(received) < wanted:
        try:
            received.append(reports.get(timeout=1.0))
        except queue.Empty:
            dead = [c.exitcode for c in children if c.exitcode not in (None, 0)]
            if dead or time.monotonic() > deadline:
                raise RuntimeError(f"workers failed (exit codes {dead}) or timed out") from None
    return received


def measure(
    shape: str,
    invoices: int,
    processes: int,
    settings: Settings,
    *,
    keyspace: str | None = None,
    claim_group: int | None = None,
    rows_per_batch: int | None = None,
    in_flight: int | None = None,
    timeout_s: float = 600.0,
) -> CeilingResult:
    """Write `invoices` invoices in the shape from `processes` processes; the figures of the run.

    Without a keyspace it makes a scratch one. Without a claim group or rows per batch, probes find
    the largest that Cassandra accepts up to the shape's own (see `probe`)."""
    if keyspace is None:
        with scratch_keyspace(settings) as scratch:
            return measure(
                shape,
                invoices,
                processes,
                settings,
                keyspace=scratch,
                claim_group=claim_group,
                rows_per_batch=rows_per_batch,
                in_flight=in_flight,
                timeout_s=timeout_s,
            )
    spec = SHAPES[shape]
    claim_group, rows_per_batch, notes = probe(
        settings, keyspace, spec, claim_group, rows_per_batch
    )
    context = multiprocessing.get_context("spawn")  # no driver threads cross a fork
    start = context.Event()
    reports = context.Queue()
    tag = f"{secrets.randbelow(10**6):06d}"
    children = []
    for process in range(processes):
        params = Params(
            shape=spec,
            claim_group=claim_group,
            rows_per_batch=rows_per_batch,
            in_flight=in_flight or spec.in_flight,
            invoices=invoices // processes + (1 if process < invoices % processes else 0),
            process=process,
            tag=tag,
            keyspace=keyspace,
            timeout_s=timeout_s,
        )
        child = context.Process(target=worker, args=(params, settings, start, reports))
        child.start()
        children.append(child)
    nodes = LocalNodes.of(settings)
    watch = LogWatch(nodes)
    try:
        ready = _collect(reports, children, timeout_s)
        failed = [report for report in ready if isinstance(report, WorkerReport)]
        flush(nodes)
        clock, cassandra, box = time.perf_counter(), nodes.cpu_s(), box_cpu_ticks()
        start.set()
        done = failed + _collect(reports, children, timeout_s, len(children) - len(failed))
        seconds = time.perf_counter() - clock
        busy, total = (after - before for after, before in zip(box_cpu_ticks(), box, strict=True))
        written = nodes.cpu_s()
        flush(nodes, keyspace)  # the run's memtables too: their cost is part of its writes
        flushed = nodes.cpu_s()
        cassandra, cassandra_flush = written - cassandra, flushed - written
    finally:
        for child in children:
            child.join(timeout=30)
            if child.is_alive():
                child.kill()
    time.sleep(0.5)  # let the log's appender catch up
    per_invoice = 1000 / invoices
    return CeilingResult(
        shape=shape,
        invoices=invoices,
        processes=processes,
        replicas=nodes.replicas,
        seconds=seconds,
        invoices_per_s=invoices / seconds,
        cassandra_cpu_ms_per_invoice=cassandra * per_invoice,
        cassandra_flush_cpu_ms_per_invoice=cassandra_flush * per_invoice,
        client_cpu_ms_per_invoice=sum(r.cpu_s for r in done) * per_invoice,
        client_build_cpu_ms_per_invoice=sum(r.build_cpu_s for r in done) * per_invoice,
        client_core_share=max(r.cpu_s / r.seconds if r.seconds else 0.0 for r in done),
        box_busy=busy / total if total else 0.0,
        claim_group=claim_group,
        rows_per_batch=rows_per_batch,
        probe_notes=notes,
        errors=sum(r.errors for r in done),
        not_applied=sum(r.not_applied for r in done),
        first_error=next((r.first_error for r in done if r.first_error), ""),
        log_warnings=watch.lines(),
    )


# -- the command line -------------------------------------------------------------------------


def _header(settings: Settings, processes: int) -> str:
    nodes = LocalNodes.of(settings)
    client = connect(settings)
    try:
        row = client.session.execute("SELECT release_version FROM system.local").one()
    finally:
        client.close()
    return "\n".join(
        [
            f"# Cassandra write ceiling, {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}",
            f"cpu_count {os.cpu_count()}, Cassandra {row['release_version']}, "
            f"{commitlog_mode(nodes)}, client processes {processes}",
            f"Cassandra: {nodes.describe()} (C* ms/inv: all nodes together)",
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--invoices", type=int, default=20_000)
    parser.add_argument(
        "--small-invoices", type=int, default=4_000, help="for the shapes of one LWT an invoice"
    )
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--rows-per-batch", type=int, default=None)
    parser.add_argument("--in-flight", type=int, default=None, help="statements per process")
    parser.add_argument("--shapes", default="batch,realtime-one,realtime-grouped,reference")
    parser.add_argument("--warmup", type=int, default=1_000, help="invoices per shape, unmeasured")
    parser.add_argument(
        "--rounds", type=int, default=1, help="rounds over the shapes; the median round is shown"
    )
    args = parser.parse_args()
    names = [
        name
        for requested in args.shapes.split(",")
        for name in (REFERENCE if requested == "reference" else (requested,))
    ]
    unknown = [name for name in names if name not in SHAPES]
    if unknown:
        parser.error(f"unknown shapes {unknown}; known: {', '.join(SHAPES)}, reference")
    settings = get_settings()
    print(_header(settings, args.processes), flush=True)
    rounds: dict[str, list[CeilingResult]] = {name: [] for name in names}
    with scratch_keyspace(settings) as keyspace:

        def run(name: str, invoices: int) -> CeilingResult:
            return measure(
                name,
                invoices,
                args.processes,
                settings,
                keyspace=keyspace,
                rows_per_batch=args.rows_per_batch,
                in_flight=args.in_flight,
            )

        for name in names if args.warmup else ():
            run(name, args.warmup)
        for round_ in range(args.rounds):
            for name in names:
                one_lwt_each = SHAPES[name].claim_group == 1
                result = run(name, args.small_invoices if one_lwt_each else args.invoices)
                rounds[name].append(result)
                print(
                    f"  round {round_ + 1} {name}: {result.invoices_per_s:,.0f} invoices/s",
                    file=sys.stderr,
                )
    results = [
        sorted(runs, key=lambda r: r.invoices_per_s)[len(runs) // 2] for runs in rounds.values()
    ]
    print()
    print(
        f"{'shape':<17} {'invoices':>8} {'group':>5} {'rows':>4} {'inv/s':>8} {'C* ms/inv':>9} "
        f"{'+ flush':>7} {'client ms/inv':>13} {'build ms/inv':>12} {'client core':>11} "
        f"{'box busy':>8} errors"
    )
    for r in results:
        print(
            f"{r.shape:<17} {r.invoices:>8} {r.claim_group:>5} {r.rows_per_batch:>4} "
            f"{r.invoices_per_s:>8,.0f} "
            f"{r.cassandra_cpu_ms_per_invoice:>9.3f} {r.cassandra_flush_cpu_ms_per_invoice:>7.3f} "
            f"{r.client_cpu_ms_per_invoice:>13.3f} "
            f"{r.client_build_cpu_ms_per_invoice:>12.3f} {r.client_core_share:>11.0%} "
            f"{r.box_busy:>8.0%} {r.errors + r.not_applied}"
        )
    for name, shape in ((n, SHAPES[n]) for n in names):
        print(f"  {name}: {shape.description}")
    for r in results:
        for note in r.probe_notes:
            print(f"{r.shape}: probe: {note}")
    for r in (r for runs in rounds.values() for r in runs):
        if r.first_error:
            print(f"{r.shape}: first error: {r.first_error}")
        for warning in r.log_warnings:
            print(f"{r.shape}: cassandra.log {warning}")
    failed = any(r.errors or r.not_applied for runs in rounds.values() for r in runs)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
