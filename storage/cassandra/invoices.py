"""Authenticated invoices in Cassandra: the claim of a business key, the invoice by its code, and
the seller-by-month and buyer-by-month indexes. One implementation for the real-time path and the
batch workers.

Order of writes, and why it is safe to crash between any two:
1. The claim (`invoice_claim_blocks`, storage/cassandra/claims.py: a lightweight transaction,
   grouped by block) records the business key with the code, hash and time of the first answer.
   Exactly one submission wins a number; it is the one decision point.
2. The invoice by code (`invoice_documents`) and its index rows are plain upserts of values fixed
   by the claim, sent through the process's grouped writer (storage/cassandra/row_writer.py).
3. Only then does anyone learn the code: the real-time answer, or the batch line's result.
A crash between 1 and 2 leaves a claim whose rows are missing, and no client holds its code. The
next submission of the same invoice (same hash) finds the claim, sees the document missing and
writes the rows itself (`write(..., recovering=True)`), with a token signed again for the
claim's code and time: deterministic (RFC 6979), so two processes recovering the same claim
write the same token. Recovery rows are written with the claim's time minus 1 µs as their write
timestamp and the first attempt's rows with the claim's time, so when a slow first attempt and a
recovery race, the first attempt's token (the one its caller is answered with) is what stays.
Claims are written only with lightweight transactions and the other tables never with them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from cassandra.cluster import Session
from cassandra.query import UNSET_VALUE, PreparedStatement

from einvoice.lifecycle import UNCHANGED, InvoiceState
from einvoice.timezone import VIETNAM
from storage.cassandra import documents
from storage.cassandra.bridge import execute
from storage.cassandra.claims import Claim, ClaimOutcome, ClaimRequest, ClaimStore
from storage.cassandra.client import ClaimRouting
from storage.cassandra.row_writer import Row, RowWriter
from storage.cassandra.states import StateStore

RETENTION_YEARS = 10
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)
# About what an index row adds to a batch, beside the document's own bytes.
_INDEX_ROW_BYTES = 120
_DOCUMENT_ROW_OVERHEAD = 60

# `signed_xml` (an XML invoice's answer) and `original_code` (a correction's original) are bound
# UNSET for the invoices that have none, so those rows hold no null cell. The status is not
# written: what happened to an invoice is in `invoice_states` (storage/cassandra/states.py), and
# a constant `status` cell cost every invoice about 20 bytes (rows of schema 8 and before have it,
# never read).
_DOCUMENT = """
INSERT INTO invoice_documents (code, document, token_signature, authenticated_at, signed_xml,
    original_code)
VALUES (?, ?, ?, ?, ?, ?) USING TTL ? AND TIMESTAMP ?
"""
_BY_SELLER_MONTH = """
INSERT INTO invoices_by_seller_month (seller_tax_code, month, bucket, issued_date, code, template,
    symbol, number, buyer_tax_code, total_payable, status)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'authenticated') USING TTL ?
"""
_BY_BUYER_MONTH = """
INSERT INTO invoices_by_buyer_month (buyer_tax_code, month, bucket, issued_date, code,
    seller_tax_code, template, symbol, number, total_payable, status)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'authenticated') USING TTL ?
"""
_DOCUMENT_SELECT = """
SELECT document, token_signature, authenticated_at, original_code FROM invoice_documents
WHERE code = ?
"""
# A status change copied into the index rows (listings show it). The write timestamp is the
# change's time, strictly increasing with the state's version, so copies of two changes land in
# the right order whichever arrives first, and after the row's own insert.
_SELLER_MONTH_STATUS = """
UPDATE invoices_by_seller_month USING TTL ? AND TIMESTAMP ? SET status = ?
WHERE seller_tax_code = ? AND month = ? AND bucket = ? AND issued_date = ? AND code = ?
"""
_BUYER_MONTH_STATUS = """
UPDATE invoices_by_buyer_month USING TTL ? AND TIMESTAMP ? SET status = ?
WHERE buyer_tax_code = ? AND month = ? AND bucket = ? AND issued_date = ? AND code = ?
"""
_XML_SELECT = "SELECT signed_xml FROM invoice_documents WHERE code = ?"
_BUYER_MONTH_PAGE = """
SELECT issued_date, code, seller_tax_code, template, symbol, number, total_payable, status
FROM invoices_by_buyer_month
WHERE buyer_tax_code = ? AND month = ? AND bucket = ? AND (issued_date, code) < (?, ?)
LIMIT ?
"""
_SELLER_MONTH_PAGE = """
SELECT issued_date, code, template, symbol, number, buyer_tax_code, total_payable, status
FROM invoices_by_seller_month
WHERE seller_tax_code = ? AND month = ? AND bucket = ? AND (issued_date, code) < (?, ?)
LIMIT ?
"""


@dataclass(frozen=True)
class NewInvoice:
    """Everything stored about one authenticated invoice."""

    code: str
    seller_tax_code: str
    template: str
    symbol: str
    number: int
    issued_date: dt.date
    buyer_tax_code: str | None
    total_payable: Decimal
    invoice_hash: str
    canonical: bytes
    invoice: Mapping[str, Any]  # the parsed canonical invoice
    seller_signature: str
    token: str
    authenticated_at: dt.datetime
    # The seller's bucket count for its month partitions (taxpayers.month_buckets).
    month_buckets: int = 1
    # The batch line that submits it; None in real time (a redelivered line knows its own claim).
    batch_id: uuid.UUID | None = None
    line: int | None = None
    # Submitted as HDon: the answer (HDon with MCCQT and the authority's signature); None for JSON.
    signed_xml: bytes | None = None
    # The buyer's bucket count for its month partitions (its taxpayers.month_buckets, else 1).
    buyer_month_buckets: int = 1
    # A replacement or adjustment: the code of the invoice it corrects (its `original`).
    original_code: str | None = None

    def claim_request(self, now: dt.datetime) -> ClaimRequest:
        return ClaimRequest(
            self.seller_tax_code,
            self.template,
            self.symbol,
            self.number,
            self.code,
            self.invoice_hash,
            self.authenticated_at,
            ttl_seconds(self.issued_date, now),
            self.batch_id,
            self.line,
        )


@dataclass(frozen=True)
class StoredInvoice:
    """An invoice as read back by its code."""

    code: str
    authenticated_at: dt.datetime
    invoice_hash: str
    token: str
    seller_signature: str
    invoice: dict[str, Any]
    xml: bool = False  # submitted as HDon: `InvoiceStore.signed_xml` has its signed XML
    state: InvoiceState = UNCHANGED  # what happened to it since (einvoice/lifecycle.py)
    original_code: str | None = None  # a correction: the invoice it corrects


@dataclass(frozen=True)
class IndexedAs:
    """Where an invoice's index rows are, to copy its status there."""

    code: str
    seller_tax_code: str
    issued_date: dt.date
    seller_buckets: int
    buyer_tax_code: str | None
    buyer_buckets: int


def ttl_seconds(issued: dt.date, now: dt.datetime) -> int:
    """Seconds from now until ten years after the end of the issue date in Vietnam (>= 1)."""
    year = issued.year + RETENTION_YEARS
    day = min(issued.day, 28) if issued.month == 2 else issued.day  # 29 February
    expires = dt.datetime(year, issued.month, day, tzinfo=VIETNAM) + dt.timedelta(days=1)
    return max(1, int((expires - now).total_seconds()))


def month_bucket(code: str, buckets: int = 1) -> int:
    """The seller-month partition bucket of a code: its hex spread evenly over the buckets."""
    return int(code[-8:], 16) % buckets


def write_timestamp(moment: dt.datetime) -> int:
    """Cassandra's write timestamp (microseconds since the epoch) of a moment."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return (moment - _EPOCH) // _MICROSECOND


class InvoiceStore:
    def __init__(
        self, session: Session, writer: RowWriter, claim_routing: ClaimRouting | None = None
    ) -> None:
        self.session = session
        self.writer = writer
        self.claims = ClaimStore(session, claim_routing)
        self.states = StateStore(session, claim_routing)
        self._document: PreparedStatement = session.prepare(_DOCUMENT)
        self._seller_month_status: PreparedStatement = session.prepare(_SELLER_MONTH_STATUS)
        self._buyer_month_status: PreparedStatement = session.prepare(_BUYER_MONTH_STATUS)
        self._xml_select: PreparedStatement = session.prepare(_XML_SELECT)
        self._by_seller_month: PreparedStatement = session.prepare(_BY_SELLER_MONTH)
        self._by_buyer_month: PreparedStatement = session.prepare(_BY_BUYER_MONTH)
        self._buyer_month_page: PreparedStatement = session.prepare(_BUYER_MONTH_PAGE)
        self._document_select: PreparedStatement = session.prepare(_DOCUMENT_SELECT)
        self._seller_month_page: PreparedStatement = session.prepare(_SELLER_MONTH_PAGE)

    async def claim(self, invoice: NewInvoice, now: dt.datetime) -> ClaimOutcome:
        """Claim one invoice's number (grouped with this process's waiting claims of its block)."""
        return await self.claims.claim(invoice.claim_request(now))

    async def claim_all(
        self, invoices: Sequence[NewInvoice], now: dt.datetime, *, concurrency: int = 8
    ) -> list[ClaimOutcome]:
        """Claim many numbers, one Paxos round per block (plus one per contended round)."""
        by_block: dict[tuple[str, str, str, int], list[int]] = {}
        requests = [invoice.claim_request(now) for invoice in invoices]
        for index, request in enumerate(requests):
            by_block.setdefault(request.block, []).append(index)
        outcomes: list[ClaimOutcome | None] = [None] * len(invoices)
        limit = asyncio.Semaphore(concurrency)

        async def one_block(indexes: list[int]) -> None:
            async with limit:
                found = await self.claims.claim_group([requests[i] for i in indexes])
            for index, outcome in zip(indexes, found, strict=True):
                outcomes[index] = outcome

        await asyncio.gather(*(one_block(indexes) for indexes in by_block.values()))
        return cast(list[ClaimOutcome], outcomes)  # every index is in exactly one block

    async def claim_of(
        self, seller_tax_code: str, template: str, symbol: str, number: int
    ) -> Claim | None:
        return await self.claims.claim_of(seller_tax_code, template, symbol, number)

    def rows(self, invoice: NewInvoice, now: dt.datetime, *, recovering: bool = False) -> list[Row]:
        """The document and index rows of a claimed invoice (values fixed by its claim)."""
        ttl = ttl_seconds(invoice.issued_date, now)
        stored = documents.encode(
            canonical=invoice.canonical,
            invoice=invoice.invoice,
            seller_signature=invoice.seller_signature,
            token=invoice.token,
            code=invoice.code,
            invoice_hash=invoice.invoice_hash,
            authenticated_at=invoice.authenticated_at,
            xml=invoice.signed_xml is not None,
        )
        timestamp = write_timestamp(invoice.authenticated_at) - (1 if recovering else 0)
        month = invoice.issued_date.year * 100 + invoice.issued_date.month
        key = documents.code_bytes(invoice.code)
        size = len(stored.document) + len(stored.token_signature) + _DOCUMENT_ROW_OVERHEAD
        signed_xml: object = UNSET_VALUE
        if invoice.signed_xml is not None:
            signed_xml = documents.encode_xml(invoice.signed_xml)
            size += len(signed_xml)
        original_code: object = UNSET_VALUE
        if invoice.original_code is not None:
            original_code = documents.code_bytes(invoice.original_code)
        values = (
            key,
            stored.document,
            stored.token_signature,
            invoice.authenticated_at,
            signed_xml,
            original_code,
            ttl,
            timestamp,
        )
        document = Row(self._document, values, size)
        return [
            document,
            Row(
                self._by_seller_month,
                (
                    invoice.seller_tax_code,
                    month,
                    month_bucket(invoice.code, invoice.month_buckets),
                    invoice.issued_date,
                    invoice.code,
                    invoice.template,
                    invoice.symbol,
                    invoice.number,
                    invoice.buyer_tax_code,
                    invoice.total_payable,
                    ttl,
                ),
                _INDEX_ROW_BYTES,
            ),
            *self._buyer_rows(invoice, month, ttl),
        ]

    def _buyer_rows(self, invoice: NewInvoice, month: int, ttl: int) -> list[Row]:
        """The buyer-month index row, for an invoice whose buyer has a tax code."""
        if not invoice.buyer_tax_code:
            return []
        values = (
            invoice.buyer_tax_code,
            month,
            month_bucket(invoice.code, invoice.buyer_month_buckets),
            invoice.issued_date,
            invoice.code,
            invoice.seller_tax_code,
            invoice.template,
            invoice.symbol,
            invoice.number,
            invoice.total_payable,
            ttl,
        )
        return [Row(self._by_buyer_month, values, _INDEX_ROW_BYTES)]

    def status_rows(self, where: IndexedAs, state: InvoiceState, now: dt.datetime) -> list[Row]:
        """The index rows' copies of an invoice's changed state (see _SELLER_MONTH_STATUS)."""
        if state.changed_at is None:
            return []
        ttl = ttl_seconds(where.issued_date, now)
        timestamp = write_timestamp(state.changed_at)
        month = where.issued_date.year * 100 + where.issued_date.month
        rows = [
            Row(
                self._seller_month_status,
                (
                    ttl,
                    timestamp,
                    state.status,
                    where.seller_tax_code,
                    month,
                    month_bucket(where.code, where.seller_buckets),
                    where.issued_date,
                    where.code,
                ),
                _INDEX_ROW_BYTES,
            )
        ]
        if where.buyer_tax_code:
            values = (
                ttl,
                timestamp,
                state.status,
                where.buyer_tax_code,
                month,
                month_bucket(where.code, where.buyer_buckets),
                where.issued_date,
                where.code,
            )
            rows.append(Row(self._buyer_month_status, values, _INDEX_ROW_BYTES))
        return rows

    async def write(
        self, invoice: NewInvoice, now: dt.datetime, *, recovering: bool = False
    ) -> None:
        """Write a claimed invoice's rows; returns once they are acknowledged."""
        await self.writer.write(self.rows(invoice, now, recovering=recovering))

    async def write_all(self, invoices: Sequence[NewInvoice], now: dt.datetime) -> None:
        await self.writer.write_many([self.rows(invoice, now) for invoice in invoices])

    async def by_code(self, code: str) -> StoredInvoice | None:
        try:
            key = documents.code_bytes(code)
        except ValueError:
            return None
        result, state = await asyncio.gather(
            execute(self.session, self._document_select, (key,)), self.states.state_of(code)
        )
        if not result.current_rows:
            return None
        row = result.current_rows[0]
        authenticated_at: dt.datetime = row["authenticated_at"].replace(tzinfo=dt.UTC)
        decoded = documents.decode(
            row["document"], row["token_signature"], code=code, authenticated_at=authenticated_at
        )
        original = row["original_code"]
        return StoredInvoice(
            code=code,
            authenticated_at=authenticated_at,
            invoice_hash=decoded.invoice_hash,
            token=decoded.token,
            seller_signature=decoded.seller_signature,
            invoice=decoded.invoice,
            xml=decoded.xml,
            state=state,
            original_code=documents.code_text(original) if original is not None else None,
        )

    async def signed_xml(self, code: str) -> bytes | None:
        """The signed XML of an invoice submitted as HDon; None for an unknown code or a JSON
        invoice."""
        try:
            key = documents.code_bytes(code)
        except ValueError:
            return None
        result = await execute(self.session, self._xml_select, (key,))
        stored = result.current_rows[0]["signed_xml"] if result.current_rows else None
        return documents.decode_xml(stored, code=code) if stored else None

    async def seller_month(
        self,
        seller_tax_code: str,
        month: int,
        buckets: int,
        before: tuple[dt.date, str],
        limit: int,
    ) -> list[dict[str, Any]]:
        """Up to `limit` of a seller's rows of one month, newest first, strictly before
        `before` (issued_date, code), merged across the month's buckets."""
        return await self._month(
            self._seller_month_page, seller_tax_code, month, buckets, before, limit
        )

    async def buyer_month(
        self,
        buyer_tax_code: str,
        month: int,
        buckets: int,
        before: tuple[dt.date, str],
        limit: int,
    ) -> list[dict[str, Any]]:
        """As `seller_month`, for the invoices a buyer received."""
        return await self._month(
            self._buyer_month_page, buyer_tax_code, month, buckets, before, limit
        )

    async def _month(
        self,
        statement: PreparedStatement,
        tax_code: str,
        month: int,
        buckets: int,
        before: tuple[dt.date, str],
        limit: int,
    ) -> list[dict[str, Any]]:
        pages = await asyncio.gather(
            *(
                execute(
                    self.session,
                    statement,
                    (tax_code, month, bucket, before[0], before[1], limit),
                )
                for bucket in range(buckets)
            )
        )
        rows = [row for page in pages for row in page.current_rows]
        for row in rows:
            row["issued_date"] = row["issued_date"].date()  # the driver's Date -> datetime.date
        rows.sort(key=lambda row: (row["issued_date"], row["code"]), reverse=True)
        return rows[:limit]
