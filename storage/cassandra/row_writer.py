"""One per process: rows gathered from concurrent callers and sent to Cassandra as batches.

Cassandra's cost is per request far more than per byte (docs/realtime.md): one unlogged batch of
fifty rows costs the node about what a few single-row writes do. So every plain row of the
submission path (an invoice's document and index rows, batch results) goes through here:

- A caller hands over the rows of one unit of work (an invoice: its two rows) with a *group*:
  `None` for rows that may share a batch with any others (one-row partitions, sent as an unlogged
  batch across partitions), or a partition's key for rows that should share only with rows of the
  same partition (a batch's results: a single-partition batch, which Cassandra applies as one
  mutation).
- Natural batching, not a timer: while fewer than `max_in_flight` batches are in flight, rows go
  at once (with whatever else arrived in the same event-loop iteration); when all are in flight,
  rows wait and the next batch takes all that waited, up to `max_rows` statements and
  `max_bytes`. Idle, a write waits for nothing; busy, batches grow with the load.
- A unit's rows always travel in one batch, and `write` returns only when that batch is
  acknowledged at the session's consistency (LOCAL_QUORUM): a caller answers after its own rows
  are written, so a process killed at any moment has acknowledged nothing that is not stored.
  An unlogged batch is not atomic across partitions; every row here is an idempotent upsert of
  values fixed by the claim, so a failed batch is written again by the retry (the caller's
  failure path), never half-trusted.
- Bounds: 32 KB (as the rows estimate their sizes) and 100 statements a batch, under
  Cassandra's 50 KiB refusal threshold (its warning thresholds are raised to match in
  devstack/templates/cassandra.yaml). Cassandra counts each cell's name, timestamp and TTL, which
  the estimates leave out: batches estimated at 40 KB measured up to 49,379 bytes on the server
  (2026-12-01, a fault drill's 3-line invoices), 1,800 bytes from refusal, so the bound leaves
  room for rows smaller than those, whose overhead weighs more.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

from cassandra.cluster import Session
from cassandra.query import BatchStatement, BatchType, PreparedStatement
from prometheus_client import Histogram

from storage.cassandra.bridge import execute

MAX_ROWS = 100
MAX_BYTES = 32_000
MAX_IN_FLIGHT = 8

ROWS_PER_BATCH = Histogram(
    "einvoice_cassandra_rows_per_batch",
    "Rows the grouped writer sent in one batch",
    buckets=(1, 2, 4, 8, 16, 32, 64, 100),
)


@dataclass(frozen=True)
class Row:
    statement: PreparedStatement
    values: tuple[object, ...]
    size: int  # about how many bytes it adds to a batch


class _Waiter:
    """One caller's wait for its units: resolved when all are acknowledged, or at the first
    failure. One future per caller, not per unit: a batch step hands over thousands of units."""

    __slots__ = ("future", "remaining")

    def __init__(self, future: asyncio.Future[None], remaining: int) -> None:
        self.future = future
        self.remaining = remaining

    def acknowledged(self) -> None:
        self.remaining -= 1
        if not self.remaining and not self.future.done():
            self.future.set_result(None)

    def failed(self, error: BaseException) -> None:
        if not self.future.done():
            self.future.set_exception(error)


@dataclass
class _Unit:
    rows: Sequence[Row]
    size: int
    waiter: _Waiter


@dataclass
class _Queue:
    units: deque[_Unit] = field(default_factory=deque)


class RowWriter:
    def __init__(
        self,
        session: Session,
        *,
        max_rows: int = MAX_ROWS,
        max_bytes: int = MAX_BYTES,
        max_in_flight: int = MAX_IN_FLIGHT,
    ) -> None:
        self.session = session
        self.max_rows = max_rows
        self.max_bytes = max_bytes
        self.max_in_flight = max_in_flight
        self._queues: dict[Hashable, _Queue] = {}
        self._in_flight = 0
        self._scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()

    async def write(self, rows: Sequence[Row], group: Hashable = None) -> None:
        """Write `rows` (one unit, one batch); returns once they are acknowledged."""
        await self.write_many([rows], group)

    async def write_many(self, units: Sequence[Sequence[Row]], group: Hashable = None) -> None:
        """Write several units (each in one batch); returns once all are acknowledged, or raises
        the first error."""
        units = [rows for rows in units if rows]
        if not units:
            return
        loop = asyncio.get_running_loop()
        waiter = _Waiter(loop.create_future(), len(units))
        queue = self._queues.setdefault(group, _Queue()).units
        for rows in units:
            queue.append(_Unit(rows, sum(row.size for row in rows), waiter))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._send_waiting)  # rows of this same iteration go together
        await waiter.future

    def _send_waiting(self) -> None:
        self._scheduled = False
        while self._in_flight < self.max_in_flight and self._queues:
            group = next(iter(self._queues))
            queue = self._queues[group]
            taken = self._take(queue)
            if not queue.units:
                del self._queues[group]
            else:  # the rest of a busy group waits behind the others
                self._queues[group] = self._queues.pop(group)
            self._in_flight += 1
            task = asyncio.ensure_future(self._send(taken))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _take(self, queue: _Queue) -> list[_Unit]:
        taken: list[_Unit] = []
        rows = size = 0
        while queue.units:
            unit = queue.units[0]
            if taken and (
                rows + len(unit.rows) > self.max_rows or size + unit.size > self.max_bytes
            ):
                break
            taken.append(queue.units.popleft())
            rows += len(unit.rows)
            size += unit.size
        return taken

    async def _send(self, units: list[_Unit]) -> None:
        try:
            rows = [row for unit in units for row in unit.rows]
            ROWS_PER_BATCH.observe(len(rows))
            if len(rows) == 1:
                await execute(self.session, rows[0].statement.bind(rows[0].values))
            else:
                batch = BatchStatement(BatchType.UNLOGGED)
                for row in rows:
                    batch.add(row.statement, row.values)
                await execute(self.session, batch)
        except Exception as error:  # handed to every writer of the batch
            for unit in units:
                unit.waiter.failed(error)
        else:
            for unit in units:
                unit.waiter.acknowledged()
        finally:
            self._in_flight -= 1
            if self._queues and not self._scheduled:
                self._scheduled = True
                asyncio.get_running_loop().call_soon(self._send_waiting)
