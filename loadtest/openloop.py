"""The capacity run's load generator: one step's requests sent at their scheduled moments
(steps.StepPlan.schedule), whatever the answers, each answer recorded as an `Outcome`.

Why the work is split this way:
- A step's invoices are signed before the step starts (`prepare`), so the generator spends the
  step on HTTP alone and keeps to its schedule on a machine it shares with the service. How late
  it still sends is recorded (`Outcome.lag_ms`) and reported apart from the service's latency.
- Requests are not limited in flight beyond the connection pool (`max_connections`): a request
  that waits for a connection waits on the clock, so that wait is latency too. The client is
  http1.py's, a thirtieth of httpx's CPU a request (that module says why).
- Lookups and public checks name invoices authenticated in real time earlier in the run (a
  warm-up fills the list before the first step), by the seller's key and by printed fields; the
  checks come from many addresses (X-Forwarded-For, RFC 2544's benchmarking range 198.18.0.0/15),
  as citizens' do: a service that trusts the generator as a proxy (EINVOICE_TRUSTED_PROXIES)
  counts them by those addresses, one that does not limits them as one caller's.
- Sellers are taken in turn, not by size, so that a seller's own rate limits (docs/registry.md)
  are not what the run measures; a batch holds one seller's invoices, as the service requires.
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
import time
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any

import orjson

from loadtest.demo_data import DemoRegistry, printed_fields
from loadtest.http1 import Http1Pool, Response
from loadtest.steps import BATCH, CHECK, LOOKUP, SUBMIT, Outcome, StepPlan

_ADDRESSES = ipaddress.ip_network("198.18.0.0/15")


@dataclass(frozen=True)
class Prepared:
    """A step's signed requests: (API key, body, printed fields) a real-time submission,
    (API key, NDJSON body, lines) a batch."""

    submissions: list[tuple[str, bytes, dict[str, Any]]]
    batches: list[tuple[str, bytes, int]]


def error_code(response: Response) -> str:
    """`<status> <CODE>` of an unexpected answer (the service's stable error codes)."""
    try:
        return f"{response.status} {response.json()['errors'][0]['code']}"
    except (ValueError, KeyError, IndexError, TypeError):
        return f"{response.status} (no error code)"


class OpenLoop:
    def __init__(
        self,
        url: str,
        registry: DemoRegistry,
        *,
        timeout_s: float,
        max_connections: int,
        clock_zero: float,
    ) -> None:
        self.registry = registry
        self.clock_zero = clock_zero  # time.monotonic() at the run's start
        self.client = Http1Pool(url, size=max_connections, timeout_s=timeout_s)
        self.outcomes: list[Outcome] = []
        self.skipped: Counter[str] = Counter()  # lookups and checks with nothing to name yet
        self.batch_ids: list[tuple[str, str]] = []  # (batch id, API key)
        # (code, API key, printed fields) of invoices authenticated in real time.
        self.recent: deque[tuple[str, str, dict[str, Any]]] = deque(maxlen=5000)
        self._next_seller = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def close(self) -> None:
        await self.client.close()

    def _seller(self) -> dict[str, Any]:
        seller = self.registry.sellers[self._next_seller % len(self.registry.sellers)]
        self._next_seller += 1
        return seller

    def prepare(self, plan: StepPlan) -> Prepared:
        submissions = []
        for _ in range(plan.real_time):
            seller = self._seller()
            submission = self.registry.new_submission(seller)
            fields = printed_fields(submission["invoice"])
            submissions.append((seller["api_key"], orjson.dumps(submission), fields))
        batches = []
        for lines in plan.batch_sizes:
            seller = self._seller()
            body = b"".join(
                orjson.dumps(self.registry.new_submission(seller)) + b"\n" for _ in range(lines)
            )
            batches.append((seller["api_key"], body, lines))
        return Prepared(submissions, batches)

    async def warm_up(self, count: int) -> int:
        """`count` real-time submissions, not recorded, so lookups have invoices to name from
        the first step on (and connections are open); how many were authenticated."""
        plan = StepPlan(rate=0, seconds=1, real_time=count, batch_sizes=(), lookups=0, checks=0)
        prepared = self.prepare(plan)
        before = len(self.recent)
        for api_key, body, fields in prepared.submissions:
            try:
                await self._submit(api_key, body, fields)
            except (TimeoutError, OSError, ValueError, KeyError):
                continue
        return len(self.recent) - before

    async def run_step(self, number: int, plan: StepPlan, prepared: Prepared) -> None:
        """Send the step's schedule from now, then wait for every answer."""
        started = time.monotonic()
        for offset, kind, index in plan.schedule():
            due = started + offset
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(self._fire(number, kind, index, due, prepared))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        while self._tasks:
            await asyncio.gather(*list(self._tasks))

    async def _fire(self, step: int, kind: str, index: int, due: float, prepared: Prepared) -> None:
        sent = time.monotonic()
        invoices, error = 0, None
        try:
            if kind == SUBMIT:
                api_key, body, fields = prepared.submissions[index]
                invoices, error = await self._submit(api_key, body, fields)
            elif kind == BATCH:
                invoices, error = await self._batch(*prepared.batches[index])
            elif not self.recent:
                self.skipped[kind] += 1
                return
            elif kind == LOOKUP:
                error = await self._lookup()
            elif kind == CHECK:
                error = await self._check()
        except TimeoutError:
            error = "timeout"
        except OSError as failure:  # refused, reset, lost (http1.ConnectionLost)
            error = type(failure).__name__
        except (ValueError, KeyError) as failure:  # an answer of the right status, unreadable
            error = f"unreadable answer ({type(failure).__name__})"
        zero = self.clock_zero
        self.outcomes.append(
            Outcome(kind, step, due - zero, sent - zero, time.monotonic() - zero, invoices, error)
        )

    async def _submit(
        self, api_key: str, body: bytes, fields: dict[str, Any]
    ) -> tuple[int, str | None]:
        response = await self.client.request(
            "POST",
            "/v1/invoices",
            body,
            {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"},
        )
        if response.status not in (200, 201):
            return 0, error_code(response)
        self.recent.append((response.json()["code"], api_key, fields))
        return 1, None

    async def _batch(self, api_key: str, body: bytes, lines: int) -> tuple[int, str | None]:
        response = await self.client.request(
            "POST",
            "/v1/batches",
            body,
            {"Authorization": f"Bearer {api_key}", "Content-Type": "application/x-ndjson"},
        )
        if response.status != 202:
            return 0, error_code(response)
        self.batch_ids.append((response.json()["batch_id"], api_key))
        return lines, None

    async def _lookup(self) -> str | None:
        code, api_key, _ = random.choice(self.recent)
        response = await self.client.request(
            "GET", f"/v1/invoices/{code}", headers={"Authorization": f"Bearer {api_key}"}
        )
        return None if response.status == 200 else error_code(response)

    async def _check(self) -> str | None:
        _, _, fields = random.choice(self.recent)
        address = _ADDRESSES[random.randrange(_ADDRESSES.num_addresses)]
        response = await self.client.request(
            "POST",
            "/v1/verify",
            orjson.dumps(fields),
            {"Content-Type": "application/json", "X-Forwarded-For": str(address)},
        )
        return None if response.status == 200 else error_code(response)

    async def batch_lines(self, *, deadline_s: float) -> tuple[Counter[str], int]:
        """After the run: the lines of every batch sent, by result status so far (authenticated,
        rejected, duplicates), waiting up to `deadline_s` for the workers to finish them; and
        how many batches were still unfinished then."""
        pending = list(self.batch_ids)
        counts: Counter[str] = Counter()
        deadline = time.monotonic() + deadline_s
        while pending:
            still = []
            for batch_id, api_key in pending:
                try:
                    response = await self.client.request(
                        "GET",
                        f"/v1/batches/{batch_id}",
                        headers={"Authorization": f"Bearer {api_key}"},
                    )
                except (TimeoutError, OSError):
                    still.append((batch_id, api_key))
                    continue
                body = response.json() if response.status == 200 else {}
                if body.get("status") in ("completed", "failed"):
                    counts.update(
                        authenticated=body["authenticated"],
                        rejected=body["rejected"],
                        duplicates=body["duplicates"],
                    )
                    if body["status"] == "failed":
                        counts["failed batches"] += 1
                else:
                    still.append((batch_id, api_key))
                    if response.status == 429:
                        await asyncio.sleep(1)
            pending = still
            if not pending or time.monotonic() > deadline:
                break
            await asyncio.sleep(1)
        return counts, len(pending)
