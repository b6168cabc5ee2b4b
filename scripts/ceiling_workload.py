"""The write loops of the ceiling benchmark (scripts/bench_ceiling.py): statements, rows, shapes,
and a pipeline that keeps a fixed number of statements in flight by chaining driver callbacks.

Each worker process connects after it starts (multiprocessing's spawn), binds every statement of
its share before the clock starts (that CPU is reported apart, as `build`), says it is ready,
waits for the start signal, then only assembles batches and sends. A claim is sent before the
rows of its invoices, the rows before their batch results, as the service will; claim groups of
one partition go one after another (concurrent Paxos rounds on one partition would contend).
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import threading
import time
import traceback
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from cassandra.cluster import Session
from cassandra.query import BatchStatement, BatchType, BoundStatement, Statement

from einvoice.config import Settings
from einvoice.timezone import VIETNAM
from storage.cassandra.client import connect
from storage.cassandra.invoices import ttl_seconds

CLAIM = (
    "INSERT INTO invoice_claim_blocks (seller_tax_code, template, symbol, block, number, code,"
    " invoice_hash, authenticated_at, batch_id, line) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " IF NOT EXISTS USING TTL ?"
)
DOCUMENT = (
    "INSERT INTO invoice_documents (code, document, token_signature, authenticated_at)"
    " VALUES (?, ?, ?, ?) USING TTL ?"
)
SELLER_MONTH = (
    "INSERT INTO invoices_by_seller_month (seller_tax_code, month, bucket, issued_date, code,"
    " template, symbol, number, buyer_tax_code, total_payable, status)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) USING TTL ?"
)
RESULT = (
    "INSERT INTO batch_results (batch_id, line, status, code, authority_token)"
    " VALUES (?, ?, ?, ?, ?)"
)

BATCH_LINES = 10_000  # lines of one ingest batch: consecutive numbers of one seller series
BLOCK = 1_000  # numbers per invoice_claim_blocks partition
SELLERS = 64  # seller series per process in the real-time and reference shapes
DOCUMENT_BYTES = 700
TOKEN_CHARS = 520  # the authority token (JWS) of a batch result line


@dataclass(frozen=True)
class Shape:
    name: str
    description: str
    claim_group: int  # invoices per claim: 0 none, 1 one INSERT IF NOT EXISTS, else a batch
    layout: str  # "batches" (10,000 lines a batch), "spread" (a block per group), "packed"
    rows_per_batch: int  # invoices per unlogged batch of rows; 0 = no rows
    seller_month: bool  # the rows include invoices_by_seller_month
    results: bool  # batch_results rows after the rows
    rows_across_groups: bool  # a rows batch may hold invoices of several claim groups
    in_flight: int  # statements in flight per process


SHAPES: dict[str, Shape] = {
    shape.name: shape
    for shape in (
        Shape(
            "batch",
            "ingest: conditional batch per block, rows + results in unlogged batches",
            BLOCK,
            "batches",
            50,
            seller_month=True,
            results=True,
            rows_across_groups=False,
            in_flight=16,
        ),
        Shape(
            "realtime-one",
            "real-time: 1-row LWT claim, then doc + seller-month in a batch of 2",
            1,
            "spread",
            1,
            seller_month=True,
            results=False,
            rows_across_groups=False,
            in_flight=128,
        ),
        Shape(
            "realtime-grouped",
            "real-time: 16 claims of a block in one conditional batch, rows by <= 50",
            16,
            "packed",
            50,
            seller_month=True,
            results=False,
            rows_across_groups=True,
            in_flight=16,
        ),
        Shape(
            "ref-lwt-one",
            "reference: single-row INSERT IF NOT EXISTS, distinct partitions",
            1,
            "spread",
            0,
            seller_month=False,
            results=False,
            rows_across_groups=False,
            in_flight=128,
        ),
        Shape(
            "ref-cond-100",
            "reference: conditional batch of 100 rows in one partition",
            100,
            "packed",
            0,
            seller_month=False,
            results=False,
            rows_across_groups=False,
            in_flight=16,
        ),
        Shape(
            "ref-unlogged-50",
            "reference: unlogged batches of 50 documents across partitions",
            0,
            "spread",
            50,
            seller_month=False,
            results=False,
            rows_across_groups=False,
            in_flight=16,
        ),
    )
}


@dataclass(frozen=True)
class Params:
    """What one worker process runs; picklable for multiprocessing's spawn."""

    shape: Shape
    claim_group: int
    rows_per_batch: int
    in_flight: int
    invoices: int
    process: int
    tag: str  # distinguishes sellers of different runs in one keyspace
    keyspace: str
    timeout_s: float


@dataclass(frozen=True)
class WorkerReport:
    seconds: float = 0.0
    cpu_s: float = 0.0
    build_cpu_s: float = 0.0
    statements: int = 0
    errors: int = 0
    not_applied: int = 0
    first_error: str = ""


@dataclass
class Task:
    parts: list[BoundStatement]
    batch_type: BatchType | None  # None: parts holds one statement, sent as it is
    conditional: bool = False
    then: Callable[[], list[Task]] | None = None  # tasks released when this one succeeds


class Pipeline:
    """Keeps `limit` statements in flight; each completion (on the driver's event thread) queues
    the tasks it releases and sends the next ones."""

    def __init__(self, session: Session, limit: int) -> None:
        self._session = session
        self._limit = limit
        self._ready: deque[Task] = deque()
        self._in_flight = 0
        self._lock = threading.Lock()
        self._done = threading.Event()
        self.statements = 0
        self.errors = 0
        self.not_applied = 0
        self.first_error = ""

    def run(self, tasks: list[Task], timeout_s: float) -> None:
        self._ready.extend(tasks)
        self._pump()
        if not self._done.wait(timeout_s):
            raise TimeoutError(f"writes not finished after {timeout_s} s")

    def _pump(self) -> None:
        while True:
            with self._lock:
                if not self._ready or self._in_flight >= self._limit:
                    if not self._ready and self._in_flight == 0:
                        self._done.set()
                    return
                task = self._ready.popleft()
                self._in_flight += 1
            statement: Statement
            if task.batch_type is None:
                statement = task.parts[0]
            else:
                statement = BatchStatement(batch_type=task.batch_type)
                for part in task.parts:
                    statement.add(part)
            future = self._session.execute_async(statement)
            future.add_callbacks(
                self._succeeded, self._failed, callback_args=(task,), errback_args=(task,)
            )

    def _succeeded(self, rows: list[dict[str, Any]], task: Task) -> None:
        released: list[Task] = []
        if task.conditional and rows and not rows[0].get("[applied]", True):
            with self._lock:
                self.not_applied += 1
        elif task.then is not None:
            released = task.then()
        with self._lock:
            self.statements += 1
            self._in_flight -= 1
            self._ready.extendleft(reversed(released))
        self._pump()

    def _failed(self, error: BaseException, task: Task) -> None:
        with self._lock:
            self.errors += 1
            if not self.first_error:
                self.first_error = f"{type(error).__name__}: {error}"[:600]
            self._in_flight -= 1
        self._pump()


@dataclass(frozen=True)
class Key:
    seller: str
    symbol: str
    number: int
    batch_id: uuid.UUID | None
    line: int | None


def invoice_keys(params: Params, claim_group: int) -> list[Key]:
    """Business keys of a worker's invoices, laid out as the shape says (distinct per run)."""
    layout, group = params.shape.layout, max(claim_group, 1)
    prefix = f"{params.tag}{params.process:02d}"
    keys = []
    batch_ids: dict[int, uuid.UUID] = {}
    for i in range(params.invoices):
        if layout == "batches":
            batch, line = divmod(i, BATCH_LINES)
            batch_id = batch_ids.setdefault(batch, uuid.uuid1())
            keys.append(Key(f"{prefix}0000", f"K{batch:05d}", line + 1, batch_id, line))
            continue
        g = i // group
        seller, j = f"{prefix}{g % SELLERS:04d}", g // SELLERS
        if layout == "spread":  # each group in a block of its own
            number = (j + 1) * BLOCK + i % group
        else:  # groups fill blocks one after another, as a series' numbers do
            per_block = BLOCK // group
            number = (j // per_block + 1) * BLOCK + (j % per_block) * group + i % group
        keys.append(Key(seller, "C26TAA", number, None, None))
    return keys


def claim_chains(keys: list[Key], claim_group: int, layout: str) -> list[list[list[int]]]:
    """Claim groups (invoice indices), in chains whose groups share a partition."""
    if claim_group == 0:
        return []
    if layout != "batches":
        return [
            [list(range(start, min(start + claim_group, len(keys))))]
            for start in range(0, len(keys), claim_group)
        ]
    blocks: dict[tuple[str, str, int], list[int]] = {}
    for index, key in enumerate(keys):
        blocks.setdefault((key.seller, key.symbol, key.number // BLOCK), []).append(index)
    return [
        [members[start : start + claim_group] for start in range(0, len(members), claim_group)]
        for members in blocks.values()
    ]


class Workload:
    """A worker's invoices as bound statements, and the tasks that write them."""

    def __init__(self, session: Session, params: Params) -> None:
        self.params = params
        shape = params.shape
        self.keys = invoice_keys(params, params.claim_group)
        now = dt.datetime.now(dt.UTC)
        issued = now.astimezone(VIETNAM).date()
        ttl = ttl_seconds(issued, now)
        month = issued.year * 100 + issued.month
        count = len(self.keys)
        claim = session.prepare(CLAIM)
        document = session.prepare(DOCUMENT)
        seller_month = session.prepare(SELLER_MONTH)
        result = session.prepare(RESULT)
        self.claims: list[BoundStatement] = []
        self.rows: list[list[BoundStatement]] = []
        self.results: list[BoundStatement] = []
        noise = os.urandom(count * (17 + 32 + DOCUMENT_BYTES + 64))
        stride = 17 + 32 + DOCUMENT_BYTES + 64
        for i, key in enumerate(self.keys):
            at = i * stride
            code = noise[at : at + 17]
            digest = noise[at + 17 : at + 49]
            body = noise[at + 49 : at + 49 + DOCUMENT_BYTES]
            signature = noise[at + 49 + DOCUMENT_BYTES : at + stride]
            if shape.claim_group:
                block = key.number // BLOCK
                claim_key = (key.seller, "1", key.symbol, block, key.number)
                claimed = (code, digest, now, key.batch_id, key.line, ttl)
                self.claims.append(claim.bind((*claim_key, *claimed)))
            if shape.rows_per_batch:
                rows = [document.bind((code, body, signature, now, ttl))]
                if shape.seller_month:
                    month_key = (key.seller, month, 0, issued, code.hex().upper(), "1")
                    listed = (key.symbol, key.number, "0100109106", Decimal("1250000"))
                    rows.append(seller_month.bind((*month_key, *listed, "authenticated", ttl)))
                self.rows.append(rows)
            if shape.results:
                token = base64.urlsafe_b64encode(os.urandom(TOKEN_CHARS * 3 // 4)).decode()
                self.results.append(
                    result.bind(
                        (key.batch_id, key.line, "authenticated", code.hex().upper(), token)
                    )
                )
        self._buffer: list[int] = []
        self._buffer_lock = threading.Lock()
        self._claims_left = 0

    def tasks(self) -> list[Task]:
        shape = self.params.shape
        chains = claim_chains(self.keys, self.params.claim_group, shape.layout)
        if not chains:
            return self._rows_tasks(list(range(len(self.keys))))
        self._claims_left = sum(len(chain) for chain in chains)
        return [self._claim_task(chain, 0) for chain in chains]

    def _claim_task(self, chain: list[list[int]], position: int) -> Task:
        group = chain[position]

        def then() -> list[Task]:
            released = [self._claim_task(chain, position + 1)] if position + 1 < len(chain) else []
            return released + self._claimed(group)

        parts = [self.claims[i] for i in group]
        kind = BatchType.LOGGED if len(parts) > 1 else None  # LOGGED: how a CAS batch is sent
        return Task(parts, kind, conditional=True, then=then)

    def _claimed(self, group: list[int]) -> list[Task]:
        if not self.params.shape.rows_across_groups:
            return self._rows_tasks(group)
        size = self.params.rows_per_batch
        ready: list[list[int]] = []
        with self._buffer_lock:
            self._buffer.extend(group)
            self._claims_left -= 1
            while len(self._buffer) >= size or (self._buffer and self._claims_left == 0):
                ready.append(self._buffer[:size])
                del self._buffer[:size]
        return [task for chunk in ready for task in self._rows_tasks(chunk)]

    def _rows_tasks(self, indices: list[int]) -> list[Task]:
        if not self.rows:
            return []
        size = self.params.rows_per_batch
        tasks = []
        for start in range(0, len(indices), size):
            chunk = indices[start : start + size]
            parts = [row for i in chunk for row in self.rows[i]]
            then = self._results_then(chunk) if self.results else None
            kind = BatchType.UNLOGGED if len(parts) > 1 else None
            tasks.append(Task(parts, kind, then=then))
        return tasks

    def _results_then(self, chunk: list[int]) -> Callable[[], list[Task]]:
        def then() -> list[Task]:
            parts = [self.results[i] for i in chunk]  # one batch_id: one partition
            return [Task(parts, BatchType.UNLOGGED if len(parts) > 1 else None)]

        return then


def _cpu_s() -> float:
    times = os.times()
    return times.user + times.system


READY = "ready"  # what a worker puts on the queue when it waits for the start


def worker(params: Params, settings: Settings, start: Any, reports: Any) -> None:
    """One client process: connect, bind, say ready, wait for the start, write, report."""
    client = None
    try:
        client = connect(settings)
        client.session.set_keyspace(params.keyspace)
        started = _cpu_s()
        workload = Workload(client.session, params)
        tasks = workload.tasks()
        build_cpu = _cpu_s() - started
        pipeline = Pipeline(client.session, params.in_flight)
        reports.put(READY)
        if not start.wait(params.timeout_s):
            raise TimeoutError("no start signal")
        clock, cpu = time.perf_counter(), _cpu_s()
        pipeline.run(tasks, params.timeout_s)
        reports.put(
            WorkerReport(
                seconds=time.perf_counter() - clock,
                cpu_s=_cpu_s() - cpu,
                build_cpu_s=build_cpu,
                statements=pipeline.statements,
                errors=pipeline.errors,
                not_applied=pipeline.not_applied,
                first_error=pipeline.first_error,
            )
        )
    except BaseException as exc:
        detail = "".join(traceback.format_exception_only(exc)).strip()
        reports.put(WorkerReport(errors=1, first_error=f"worker {params.process}: {detail}"))
    finally:
        if client is not None:
            client.close()
