"""Claims of business keys (seller, template, symbol, number): the one decision that makes an
invoice number used, taken with Cassandra lightweight transactions, grouped by block.

`invoice_claim_blocks` puts 1,000 consecutive numbers of one seller's series in one partition, so
one Paxos round can claim many numbers at once (a conditional batch): a batch's lines of one block
in one round, and the real-time submissions of one process that wait for the same block at the
same moment in one round. Paxos makes each round linearizable on any number of replicas
(LOCAL_SERIAL, in the seller's home datacentre when there are several: einvoice/datacentres.py,
storage/cassandra/client.py); neither Redis nor a process's memory decides uniqueness (grouping
only chooses which requests go together).

A conditional batch applies all its rows or none. When some number of the group is taken, Cassandra
answers with the rows that exist (read in the same Paxos round): those numbers are decided (the
existing claim wins), and the rest go again as a smaller group, until a round applies. Each retry
removes at least one number, so a group of n ends in at most n + 1 rounds; in practice one or two.

Claims are only ever written with lightweight transactions (mixing them with plain writes on the
same rows is unsafe in Cassandra) and never updated. One is deleted (`release`, a lightweight
transaction too, `IF code = ?`) only when the correction it carried was refused after the claim
(einvoice/submission.py: its original was replaced or cancelled meanwhile), so the number is free
again and nobody was ever told its code.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cassandra.cluster import Session
from cassandra.query import BatchStatement, BatchType, PreparedStatement
from prometheus_client import Counter, Histogram

from storage.cassandra.bridge import execute
from storage.cassandra.client import ClaimRouting
from storage.cassandra.documents import code_bytes, code_text

BLOCK_SIZE = 1000
# Real-time claims that wait for one block go in one round, at most this many.
MAX_GROUP = 200

CLAIM_ROUNDS = Counter(
    "einvoice_claim_rounds_total",
    "Paxos rounds of claims, by how they ended",
    ["result"],  # applied | contended (some numbers taken; the rest go again)
)
CLAIMS_PER_ROUND = Histogram(
    "einvoice_claims_per_round",
    "Numbers claimed together in one Paxos round",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000),
)

_INSERT = """
INSERT INTO invoice_claim_blocks (seller_tax_code, template, symbol, block, number, code,
    invoice_hash, authenticated_at, batch_id, line)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS USING TTL ?
"""
_SELECT = """
SELECT number, code, invoice_hash, authenticated_at, batch_id, line FROM invoice_claim_blocks
WHERE seller_tax_code = ? AND template = ? AND symbol = ? AND block = ? AND number = ?
"""

_DELETE = """
DELETE FROM invoice_claim_blocks
WHERE seller_tax_code = ? AND template = ? AND symbol = ? AND block = ? AND number = ?
IF code = ?
"""

BlockKey = tuple[str, str, str, int]


@dataclass(frozen=True)
class ClaimRequest:
    """A claim to make: the business key, and the answer it records."""

    seller_tax_code: str
    template: str
    symbol: str
    number: int
    code: str
    invoice_hash: str
    authenticated_at: dt.datetime
    ttl: int
    batch_id: uuid.UUID | None = None  # the batch line that claims it; None in real time
    line: int | None = None

    @property
    def block(self) -> BlockKey:
        return (self.seller_tax_code, self.template, self.symbol, self.number // BLOCK_SIZE)


@dataclass(frozen=True)
class Claim:
    """A claim as stored: who holds the number."""

    code: str
    invoice_hash: str
    authenticated_at: dt.datetime
    batch_id: uuid.UUID | None = None
    line: int | None = None

    def made_by(self, batch_id: uuid.UUID, line: int) -> bool:
        return self.batch_id == batch_id and self.line == line


@dataclass(frozen=True)
class ClaimOutcome:
    """`created`: this request took the number; otherwise `claim` is the holder's."""

    created: bool
    claim: Claim


class ClaimStore:
    def __init__(self, session: Session, routing: ClaimRouting | None = None) -> None:
        self.session = session
        # Where each seller's rounds run (one datacentre's coordinators when sellers are homed).
        self.routing = routing or ClaimRouting()
        self._insert: PreparedStatement = session.prepare(_INSERT)
        self._select: PreparedStatement = session.prepare(_SELECT)
        self._delete: PreparedStatement = session.prepare(_DELETE)
        # Real-time grouping: requests waiting per block, and blocks with a round in flight.
        self._waiting: dict[BlockKey, list[tuple[ClaimRequest, asyncio.Future[ClaimOutcome]]]] = {}
        # Blocks with a round in flight: one per block and process. Measured at 400 claims/s of
        # one block: p50 14 ms, p99 31 ms with one; 22 and 27 ms with two, whose Paxos rounds
        # contend for the partition; 39 and 234 ms with four.
        self._rounds: set[BlockKey] = set()
        self._tasks: set[asyncio.Task[None]] = set()  # held, so running rounds are not collected

    async def claim(self, request: ClaimRequest) -> ClaimOutcome:
        """Claim one number. Requests of this process for the same block that arrive while a
        round for it is in flight go together in the next round (no waiting when none is)."""
        loop = asyncio.get_running_loop()
        outcome: asyncio.Future[ClaimOutcome] = loop.create_future()
        block = request.block
        self._waiting.setdefault(block, []).append((request, outcome))
        if block not in self._rounds:
            self._start_rounds(block)
        return await outcome

    async def claim_group(self, requests: Sequence[ClaimRequest]) -> list[ClaimOutcome]:
        """Claim numbers of one block together; an outcome per request, in order. A number asked
        for twice is claimed by its first request; the others get that claim."""
        if len({request.block for request in requests}) > 1:
            raise ValueError("a claim group is one block")
        first: dict[int, ClaimRequest] = {}
        for request in requests:
            first.setdefault(request.number, request)
        decided: dict[int, ClaimOutcome] = {}
        pending = list(first.values())
        while pending:
            existing = await self._round(pending)
            if existing is None:
                for request in pending:
                    decided[request.number] = ClaimOutcome(True, _claim_of_request(request))
                break
            if not existing.keys() & {request.number for request in pending}:
                # Not applied, yet no number reported taken: never seen; decide one by one.
                for request in pending:
                    decided[request.number] = await self._claim_alone(request)
                break
            for request in pending:
                if request.number in existing:
                    decided[request.number] = ClaimOutcome(False, existing[request.number])
            pending = [request for request in pending if request.number not in decided]
        outcomes = []
        for request in requests:
            outcome = decided[request.number]
            if outcome.created and first[request.number] is not request:
                outcome = ClaimOutcome(False, outcome.claim)  # the same number again
            outcomes.append(outcome)
        return outcomes

    async def claim_of(
        self, seller_tax_code: str, template: str, symbol: str, number: int
    ) -> Claim | None:
        block = number // BLOCK_SIZE
        result = await execute(
            self.session,
            self._select,
            (seller_tax_code, template, symbol, block, number),
            execution_profile=self.routing.read_profile_for(seller_tax_code),
        )
        return _claim_from(result.current_rows[0]) if result.current_rows else None

    async def release(
        self, seller_tax_code: str, template: str, symbol: str, number: int, code: str
    ) -> None:
        """Free a number that `code` claimed (nothing when another code holds it)."""
        values = (seller_tax_code, template, symbol, number // BLOCK_SIZE, number, code_bytes(code))
        profile = self.routing.profile_for(seller_tax_code)
        await execute(self.session, self._delete, values, execution_profile=profile)

    async def _drain(self, block: BlockKey) -> None:
        try:
            await asyncio.sleep(0)  # requests of this same loop iteration join the first round
            while waiting := self._waiting.pop(block, None):
                if len(waiting) > MAX_GROUP:
                    self._waiting[block] = waiting[MAX_GROUP:] + self._waiting.get(block, [])
                    waiting = waiting[:MAX_GROUP]
                try:
                    outcomes = await self.claim_group([request for request, _ in waiting])
                except Exception as error:  # handed to every waiting caller
                    for _, future in waiting:
                        if not future.done():
                            future.set_exception(error)
                    continue
                for (_, future), outcome in zip(waiting, outcomes, strict=True):
                    if not future.done():  # the caller may have gone (cancelled)
                        future.set_result(outcome)
        finally:
            self._rounds.discard(block)
            if block in self._waiting:  # arrived after the last pop: start again
                self._start_rounds(block)

    def _start_rounds(self, block: BlockKey) -> None:
        self._rounds.add(block)
        task = asyncio.ensure_future(self._drain(block))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _round(self, requests: Sequence[ClaimRequest]) -> dict[int, Claim] | None:
        """One Paxos round for `requests`: None when applied, else the numbers already taken."""
        CLAIMS_PER_ROUND.observe(len(requests))
        if len(requests) == 1:
            statement: Any = self._insert.bind(_values(requests[0]))
        else:
            statement = BatchStatement(BatchType.LOGGED)  # with conditions: a conditional batch
            for request in requests:
                statement.add(self._insert, _values(request))
        profile = self.routing.profile_for(requests[0].seller_tax_code)  # one block: one seller
        result = await execute(self.session, statement, execution_profile=profile)
        if result.was_applied:
            CLAIM_ROUNDS.labels("applied").inc()
            return None
        CLAIM_ROUNDS.labels("contended").inc()
        return {
            row["number"]: _claim_from(row)
            for row in result.current_rows
            if row.get("code") is not None
        }

    async def _claim_alone(self, request: ClaimRequest) -> ClaimOutcome:
        existing = await self._round([request])
        if existing is None:
            return ClaimOutcome(True, _claim_of_request(request))
        holder = existing.get(request.number) or await self.claim_of(
            request.seller_tax_code, request.template, request.symbol, request.number
        )
        if holder is None:
            raise RuntimeError(f"claim of {request.number} neither applied nor held")
        return ClaimOutcome(False, holder)


def _values(request: ClaimRequest) -> tuple[object, ...]:
    return (
        request.seller_tax_code,
        request.template,
        request.symbol,
        request.number // BLOCK_SIZE,
        request.number,
        code_bytes(request.code),
        bytes.fromhex(request.invoice_hash),
        request.authenticated_at,
        request.batch_id,
        request.line,
        request.ttl,
    )


def _claim_of_request(request: ClaimRequest) -> Claim:
    return Claim(
        request.code, request.invoice_hash, request.authenticated_at, request.batch_id, request.line
    )


def _claim_from(row: dict[str, Any]) -> Claim:
    authenticated_at: dt.datetime = row["authenticated_at"]
    if authenticated_at.tzinfo is None:  # the driver returns naive UTC times
        authenticated_at = authenticated_at.replace(tzinfo=dt.UTC)
    return Claim(
        code_text(row["code"]),
        bytes(row["invoice_hash"]).hex(),
        authenticated_at,
        row.get("batch_id"),
        row.get("line"),
    )
