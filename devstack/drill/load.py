"""A drill's load: signed real-time submissions at a fixed rate and NDJSON batches at a fixed
interval, each retried as a careful client would until answered, every answer put in the ledger.

Open loop: a new invoice is started on schedule whether or not earlier ones were answered, so an
outage piles up retrying clients as it would in the field (up to `max_in_flight`; beyond that a
start is skipped and counted). A submission is retried with the same bytes after a connection
error, a timeout or a 5xx/408/429 (after Retry-After, at most 5 s), which is what the service
promises is safe. Any other answer is the service's final word: 201/200/202 are acknowledgements,
the rest are counted as unexpected (the drill's invoices are all valid and all new).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from devstack.drill.ledger import InvoiceKey, Ledger
from einvoice.invoice.samples import sample_invoice
from einvoice.timezone import VIETNAM
from signing import jws
from signing.seller import sign_invoice

_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_MAX_BACKOFF_S = 5.0
_REQUEST_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class DrillSeller:
    tax_code: str
    kid: str
    algorithm: str
    private_key: jws.PrivateKey
    api_key: str


@dataclass(frozen=True)
class LoadShape:
    realtime_per_s: float = 20.0
    batch_every_s: float = 2.0
    batch_lines: int = 100
    max_in_flight: int = 2000
    connections: int = 32


@dataclass
class LoadStats:
    """What the load saw on the way (answers by status, retries); the ledger has the outcomes."""

    started: Counter[str] = field(default_factory=Counter)
    answers: Counter[str] = field(default_factory=Counter)
    retries: int = 0
    skipped: int = 0
    unanswered: Counter[str] = field(default_factory=Counter)  # given up when the drain ended

    def summary(self) -> str:
        answers = ", ".join(f"{name} {count}" for name, count in sorted(self.answers.items()))
        return (
            f"started {dict(self.started)}; answers: {answers}; retries {self.retries}; "
            f"skipped {self.skipped}; unanswered {dict(self.unanswered)}"
        )


class Load:
    def __init__(
        self,
        client: httpx.AsyncClient,
        seller: DrillSeller,
        ledger: Ledger,
        shape: LoadShape,
    ) -> None:
        self.client = client
        self.seller = seller
        self.ledger = ledger
        self.shape = shape
        self.stats = LoadStats()
        self._numbers = itertools.count(1)
        self._tasks: set[asyncio.Task[None]] = set()
        self._give_up_at = float("inf")
        # (when its last attempt was sent, when the answer came) of every acknowledgement, on the
        # monotonic clock: a drill checks that none was given while it was impossible.
        self.acknowledged_at: list[tuple[float, float]] = []
        # At most this many requests at a time: httpx's pool looks at every waiting request
        # whenever a connection frees up, so a thousand retrying submissions queued in the pool
        # (after a long outage) take the whole core. Waiting here costs nothing.
        self._sending = asyncio.Semaphore(shape.connections)

    async def run(self, stop: asyncio.Event) -> None:
        """Start submissions on schedule until `stop` is set; in-flight ones keep retrying."""
        await asyncio.gather(
            self._every(1 / self.shape.realtime_per_s, stop, self._realtime),
            self._every(self.shape.batch_every_s, stop, self._batch),
        )

    async def drain(self, seconds: float) -> None:
        """Let submissions still retrying finish for up to `seconds`; then give the rest up."""
        self._give_up_at = time.monotonic() + seconds
        if self._tasks:
            await asyncio.wait(set(self._tasks))

    async def _every(
        self, interval_s: float, stop: asyncio.Event, start: Callable[[], Awaitable[None]]
    ) -> None:
        next_at = time.monotonic()
        while not stop.is_set():
            next_at += interval_s
            if len(self._tasks) >= self.shape.max_in_flight:
                self.stats.skipped += 1
            else:
                task = asyncio.ensure_future(start())
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            delay = next_at - time.monotonic()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)

    def _signed(self) -> tuple[InvoiceKey, bytes]:
        number = next(self._numbers)
        invoice = sample_invoice(
            seller_tax_code=self.seller.tax_code,
            lines=3,
            number=number,
            issued=dt.datetime.now(VIETNAM).date(),
        )
        signature = sign_invoice(
            invoice, self.seller.private_key, kid=self.seller.kid, alg=self.seller.algorithm
        )
        key = InvoiceKey(self.seller.tax_code, invoice["template"], invoice["symbol"], number)
        return key, orjson.dumps({"invoice": invoice, "signature": signature})

    async def _realtime(self) -> None:
        self.stats.started["realtime"] += 1
        key, body = self._signed()
        answer = await self._post("/v1/invoices", body, "application/json", "realtime")
        if answer is None:
            return
        status, payload = answer
        if status in (200, 201):
            self.ledger.answered(key, payload["code"], payload["invoice_hash"])
        else:
            self.ledger.saw_unexpected(f"realtime {status} {_error_code(payload)}")

    async def _batch(self) -> None:
        self.stats.started["batch"] += 1
        signed = [self._signed() for _ in range(self.shape.batch_lines)]
        body = b"\n".join(line for _, line in signed) + b"\n"
        answer = await self._post("/v1/batches", body, "application/x-ndjson", "batch")
        if answer is None:
            return
        status, payload = answer
        if status == 202:
            self.ledger.batch_accepted(uuid.UUID(payload["batch_id"]), [key for key, _ in signed])
        else:
            self.ledger.saw_unexpected(f"batch {status} {_error_code(payload)}")

    async def _post(
        self, path: str, body: bytes, media_type: str, kind: str
    ) -> tuple[int, Any] | None:
        """The final answer to `body` (retried as long as that is safe), or None if none came
        before the drain ended."""
        backoff = 0.25
        headers = {
            "Authorization": f"Bearer {self.seller.api_key}",
            "Content-Type": media_type,
        }
        while True:
            wait = backoff
            try:
                async with self._sending:
                    sent = time.monotonic()
                    response = await self.client.post(
                        path, content=body, headers=headers, timeout=_REQUEST_TIMEOUT_S
                    )
            except httpx.TransportError as error:
                self.stats.answers[type(error).__name__] += 1
            else:
                self.stats.answers[f"{kind} {response.status_code}"] += 1
                if response.status_code not in _RETRY_STATUSES:
                    if response.status_code in (200, 201, 202):
                        self.acknowledged_at.append((sent, time.monotonic()))
                    return response.status_code, _json(response)
                if response.status_code == 500:
                    self.ledger.saw_unexpected(f"{kind} 500 {_error_code(_json(response))}")
                retry_after = response.headers.get("retry-after", "")
                if response.status_code == 503 and not retry_after:
                    self.ledger.saw_unexpected(f"{kind} 503 without Retry-After")
                if retry_after.isdigit():
                    wait = max(wait, float(retry_after))
            if time.monotonic() + wait > self._give_up_at:
                self.stats.unanswered[kind] += 1
                return None
            self.stats.retries += 1
            await asyncio.sleep(min(wait, _MAX_BACKOFF_S))
            backoff = min(backoff * 2, _MAX_BACKOFF_S)


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return {}


def _error_code(payload: Any) -> str:
    try:
        return str(payload["errors"][0]["code"])
    except (KeyError, IndexError, TypeError):
        return "(no code)"
