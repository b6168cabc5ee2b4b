"""Baselines for real-time submissions: a raw loop of single-row lightweight transactions
(prepared INSERT ... IF NOT EXISTS, one new row each, as the claim of one invoice) from one Python
process with cassandra-driver, a fixed number in flight through execute_async callbacks; and the
same claims at a fixed rate (open loop), each followed by its document row, for latency.

The rows go to a scratch table `bench_lwt_<random>` in the configured keyspace (so it has the
keyspace's replication), created before and dropped after; the table is shaped like the claim
table's key. Nothing of the service's own tables is touched.
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from cassandra.query import PreparedStatement

from einvoice.config import Settings
from storage.cassandra.client import CassandraClient, connect

_CREATE = """
CREATE TABLE {table} (
    seller_tax_code text,
    template text,
    symbol text,
    number bigint,
    code text,
    invoice_hash text,
    claimed_at timestamp,
    PRIMARY KEY ((seller_tax_code, template, symbol, number))
)
"""
_CREATE_ROWS = """
CREATE TABLE {table} (
    code blob,
    document blob,
    PRIMARY KEY (code)
)
"""
_INSERT_ROW = "INSERT INTO {table} (code, document) VALUES (?, ?)"
_INSERT = """
INSERT INTO {table} (seller_tax_code, template, symbol, number, code, invoice_hash, claimed_at)
VALUES (?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS
"""


@dataclass
class LwtResult:
    seconds: float = 0.0
    applied: int = 0
    not_applied: int = 0
    errors: int = 0
    latencies_s: list[float] = field(default_factory=list)
    first_error: str = ""

    @property
    def rate(self) -> float:
        return self.applied / self.seconds if self.seconds else 0.0


def claim_values(seller: str, number: int) -> tuple[object, ...]:
    """A new claim row of the scratch table: one invoice's business key and answer."""
    return (
        seller,
        "1",
        "C25TAA",
        number,
        secrets.token_hex(16),
        secrets.token_hex(32),
        dt.datetime.now(dt.UTC),
    )


class _Loop:
    """Keeps `in_flight` statements outstanding until the deadline: each answer (on the driver's
    I/O thread) sends the next one, then the loop drains."""

    def __init__(self, client: CassandraClient, insert: PreparedStatement, in_flight: int) -> None:
        self.session = client.session
        self.insert = insert
        self.in_flight = in_flight
        self.seller = f"bench{secrets.token_hex(4)}"
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.number = 0
        self.active = 0
        self.deadline = 0.0
        self.result = LwtResult()

    def run(self, seconds: float) -> LwtResult:
        started = time.perf_counter()
        self.deadline = time.monotonic() + seconds
        for _ in range(self.in_flight):
            self._send()
        # Bounded, in case an answer never comes back (each statement times out on its own).
        self.done.wait(seconds + 120)
        self.result.seconds = time.perf_counter() - started
        return self.result

    def _send(self) -> None:
        with self.lock:
            self.number += 1
            self.active += 1
            number = self.number
        began = time.perf_counter()
        future = self.session.execute_async(self.insert, claim_values(self.seller, number))
        future.add_callbacks(
            self._answered, self._failed, callback_args=(began,), errback_args=(began,)
        )

    def _answered(self, rows: list[dict[str, Any]], began: float) -> None:
        latency = time.perf_counter() - began
        with self.lock:
            self.result.latencies_s.append(latency)
            if rows and rows[0].get("[applied]"):
                self.result.applied += 1
            else:
                self.result.not_applied += 1
        self._next()

    def _failed(self, error: BaseException, began: float) -> None:
        with self.lock:
            self.result.errors += 1
            self.result.first_error = self.result.first_error or repr(error)
        self._next()

    def _next(self) -> None:
        if time.monotonic() < self.deadline:
            self._send()
            with self.lock:
                self.active -= 1
            return
        with self.lock:
            self.active -= 1
            if self.active == 0:
                self.done.set()


class _OpenLoop:
    """Sends one invoice's writes at a fixed rate whatever the answers: its claim (a single-row
    LWT), then, once that is applied, its ~700-byte document row; the latency runs until the row
    is written. The cheapest shape of a real-time submission, without HTTP or grouping."""

    def __init__(
        self, client: CassandraClient, insert: PreparedStatement, row: PreparedStatement
    ) -> None:
        self.session = client.session
        self.insert = insert
        self.row = row
        self.seller = f"bench{secrets.token_hex(4)}"
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.sent = 0
        self.finished = 0
        self.stopped = False
        self.result = LwtResult()

    def run(self, seconds: float, rate: float) -> LwtResult:
        started = time.perf_counter()
        while (elapsed := time.perf_counter() - started) < seconds:
            while self.sent < int(elapsed * rate):
                with self.lock:
                    self.sent += 1
                    number = self.sent
                self._claim(number)
            time.sleep(0.0005)
        with self.lock:
            self.stopped = True
            if self.finished == self.sent:
                self.done.set()
        self.done.wait(120)
        self.result.seconds = time.perf_counter() - started
        return self.result

    def _claim(self, number: int) -> None:
        began = time.perf_counter()
        future = self.session.execute_async(self.insert, claim_values(self.seller, number))
        future.add_callbacks(
            self._claimed, self._failed, callback_args=(began,), errback_args=(began,)
        )

    def _claimed(self, rows: list[dict[str, Any]], began: float) -> None:
        if not (rows and rows[0].get("[applied]")):
            with self.lock:
                self.result.not_applied += 1
            self._end()
            return
        future = self.session.execute_async(
            self.row, (secrets.token_bytes(17), secrets.token_bytes(700))
        )
        future.add_callbacks(
            self._written, self._failed, callback_args=(began,), errback_args=(began,)
        )

    def _written(self, _: object, began: float) -> None:
        latency = time.perf_counter() - began
        with self.lock:
            self.result.latencies_s.append(latency)
            self.result.applied += 1
        self._end()

    def _failed(self, error: BaseException, began: float) -> None:
        with self.lock:
            self.result.errors += 1
            self.result.first_error = self.result.first_error or repr(error)
        self._end()

    def _end(self) -> None:
        with self.lock:
            self.finished += 1
            if self.stopped and self.finished == self.sent:
                self.done.set()


class ScratchLwt:
    """`with ScratchLwt(settings) as lwt: lwt.run(seconds, in_flight)`: the table lives as long as
    the block, so only the loop itself falls inside the caller's measurement."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.table = f"{settings.cassandra_keyspace}.bench_lwt_{secrets.token_hex(4)}"
        self.rows_table = f"{self.table}_rows"
        self.client: CassandraClient | None = None
        self.insert: PreparedStatement | None = None

    def __enter__(self) -> ScratchLwt:
        self.client = connect(self.settings)
        try:
            self.client.session.execute(_CREATE.format(table=self.table), timeout=60)
            self.client.session.execute(_CREATE_ROWS.format(table=self.rows_table), timeout=60)
            self.insert = self.client.session.prepare(_INSERT.format(table=self.table))
        except Exception:
            self.__exit__(None, None, None)
            raise
        return self

    def run(self, seconds: float, in_flight: int) -> LwtResult:
        assert self.client is not None
        assert self.insert is not None
        return _Loop(self.client, self.insert, in_flight).run(seconds)

    def run_open(self, seconds: float, rate: float) -> LwtResult:
        """Claims and document rows at a fixed rate (open loop), latency until the row."""
        assert self.client is not None
        assert self.insert is not None
        row = self.client.session.prepare(_INSERT_ROW.format(table=self.rows_table))
        return _OpenLoop(self.client, self.insert, row).run(seconds, rate)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.client is None:
            return
        try:
            self.client.session.execute(f"DROP TABLE IF EXISTS {self.table}", timeout=60)
            self.client.session.execute(f"DROP TABLE IF EXISTS {self.rows_table}", timeout=60)
        finally:
            self.client.close()
            self.client = None
