"""Authenticated invoices in Cassandra: the claim of a business key, the invoice by its code, and
the seller-by-month index. One implementation for the real-time path and the batch workers.

Order of writes, and why it is safe to crash between any two:
1. The claim (`invoice_claims`, a lightweight transaction, INSERT IF NOT EXISTS) records the
   business key (seller, template, symbol, number) with the code, hash, token and time of the
   first answer. Exactly one submission wins it; it is the one decision point.
2. The invoice by code and its index row are plain upserts of values fixed by the claim, so
   writing them again gives the same rows. A retry of the same invoice (same hash) finds the claim,
   writes them again (completing a crashed attempt) and answers with the claim's original answer.
A client only learns a code after step 2, so no code anyone holds is ever missing its invoice.
Claims are written only with LWT and the other tables never with it (mixing both on the same rows
is unsafe in Cassandra). No multi-partition batches: the rows go as concurrent statements.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import zlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from cassandra.cluster import Session
from cassandra.query import PreparedStatement
from prometheus_client import Histogram

from storage.cassandra.bridge import execute

RETENTION_YEARS = 10
VIETNAM = dt.timezone(dt.timedelta(hours=7))

WRITE_SECONDS = Histogram(
    "einvoice_cassandra_write_seconds",
    "Latency of Cassandra statements on the submission path",
    ["statement"],
    buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0),
)

_CLAIM = """
INSERT INTO invoice_claims (seller_tax_code, template, symbol, number, code, invoice_hash,
    claimed_at, authority_token, authenticated_at, source)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS USING TTL ?
"""
_BY_CODE = """
INSERT INTO invoices_by_code (code, seller_tax_code, template, symbol, number, issued_date,
    buyer_tax_code, currency, total_payable, invoice_hash, status, authenticated_at, invoice,
    seller_signature, authority_token)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'authenticated', ?, ?, ?, ?) USING TTL ?
"""
_BY_SELLER_MONTH = """
INSERT INTO invoices_by_seller_month (seller_tax_code, month, bucket, issued_date, code, template,
    symbol, number, buyer_tax_code, total_payable, status)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'authenticated') USING TTL ?
"""
_CLAIM_BY_KEY = """
SELECT code, invoice_hash, authority_token, authenticated_at, source FROM invoice_claims
WHERE seller_tax_code = ? AND template = ? AND symbol = ? AND number = ?
"""
_BY_CODE_SELECT = "SELECT * FROM invoices_by_code WHERE code = ?"
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
    currency: str
    total_payable: Decimal
    invoice_hash: str
    canonical: bytes
    seller_signature: str
    token: str
    authenticated_at: dt.datetime
    # The seller's bucket count for its month partitions (taxpayers.month_buckets).
    month_buckets: int = 1
    # Who claims it: "realtime", or "batch:<batch id>:<line>" (a redelivered line knows its own).
    source: str = "realtime"


@dataclass(frozen=True)
class Claim:
    code: str
    invoice_hash: str
    token: str
    authenticated_at: dt.datetime
    source: str | None = None


@dataclass(frozen=True)
class Outcome:
    """`created` for the first authentication; else the claim that was there already."""

    created: bool
    claim: Claim


def ttl_seconds(issued: dt.date, now: dt.datetime) -> int:
    """Seconds from now until ten years after the end of the issue date in Vietnam (>= 1)."""
    year = issued.year + RETENTION_YEARS
    day = min(issued.day, 28) if issued.month == 2 else issued.day  # 29 February
    expires = dt.datetime(year, issued.month, day, tzinfo=VIETNAM) + dt.timedelta(days=1)
    return max(1, int((expires - now).total_seconds()))


def month_bucket(code: str, buckets: int = 1) -> int:
    """The seller-month partition bucket of a code: its hex spread evenly over the buckets."""
    return int(code[-8:], 16) % buckets


class InvoiceStore:
    def __init__(self, session: Session) -> None:
        self.session = session
        self._claim: PreparedStatement = session.prepare(_CLAIM)
        self._by_code: PreparedStatement = session.prepare(_BY_CODE)
        self._by_seller_month: PreparedStatement = session.prepare(_BY_SELLER_MONTH)
        self._claim_by_key: PreparedStatement = session.prepare(_CLAIM_BY_KEY)
        self._by_code_select: PreparedStatement = session.prepare(_BY_CODE_SELECT)
        self._seller_month_page: PreparedStatement = session.prepare(_SELLER_MONTH_PAGE)

    async def store(self, invoice: NewInvoice, now: dt.datetime) -> Outcome:
        """Claim the business key and write the rows; a retry completes and gets the original."""
        ttl = ttl_seconds(invoice.issued_date, now)
        started = time.perf_counter()
        result = await execute(
            self.session,
            self._claim,
            (
                invoice.seller_tax_code,
                invoice.template,
                invoice.symbol,
                invoice.number,
                invoice.code,
                invoice.invoice_hash,
                now,
                invoice.token,
                invoice.authenticated_at,
                invoice.source,
                ttl,
            ),
        )
        WRITE_SECONDS.labels("claim").observe(time.perf_counter() - started)
        if result.was_applied:
            claim = Claim(
                invoice.code, invoice.invoice_hash, invoice.token, invoice.authenticated_at
            )
            await self._write_rows(invoice, claim, ttl)
            return Outcome(created=True, claim=claim)
        claim = _claim_from(result.current_rows[0])
        if claim.invoice_hash == invoice.invoice_hash:
            await self._write_rows(invoice, claim, ttl)  # completes an interrupted first attempt
        return Outcome(created=False, claim=claim)

    async def claim_of(
        self, seller_tax_code: str, template: str, symbol: str, number: int
    ) -> Claim | None:
        result = await execute(
            self.session, self._claim_by_key, (seller_tax_code, template, symbol, number)
        )
        return _claim_from(result.current_rows[0]) if result.current_rows else None

    async def by_code(self, code: str) -> dict[str, object] | None:
        result = await execute(self.session, self._by_code_select, (code,))
        if not result.current_rows:
            return None
        row: dict[str, object] = result.current_rows[0]
        if isinstance(row.get("invoice"), bytes):
            row["invoice"] = zlib.decompress(row["invoice"])  # type: ignore[arg-type]
        return row

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
        pages = await asyncio.gather(
            *(
                execute(
                    self.session,
                    self._seller_month_page,
                    (seller_tax_code, month, bucket, before[0], before[1], limit),
                )
                for bucket in range(buckets)
            )
        )
        rows = [row for page in pages for row in page.current_rows]
        for row in rows:
            row["issued_date"] = row["issued_date"].date()  # the driver's Date -> datetime.date
        rows.sort(key=lambda row: (row["issued_date"], row["code"]), reverse=True)
        return rows[:limit]

    async def _write_rows(self, invoice: NewInvoice, claim: Claim, ttl: int) -> None:
        started = time.perf_counter()
        month = invoice.issued_date.year * 100 + invoice.issued_date.month
        await asyncio.gather(
            execute(
                self.session,
                self._by_code,
                (
                    claim.code,
                    invoice.seller_tax_code,
                    invoice.template,
                    invoice.symbol,
                    invoice.number,
                    invoice.issued_date,
                    invoice.buyer_tax_code,
                    invoice.currency,
                    invoice.total_payable,
                    claim.invoice_hash,
                    claim.authenticated_at,
                    # Level 1: most of zlib's gain on JSON for a fraction of its CPU.
                    zlib.compress(invoice.canonical, 1),
                    invoice.seller_signature,
                    claim.token,
                    ttl,
                ),
            ),
            execute(
                self.session,
                self._by_seller_month,
                (
                    invoice.seller_tax_code,
                    month,
                    month_bucket(claim.code, invoice.month_buckets),
                    invoice.issued_date,
                    claim.code,
                    invoice.template,
                    invoice.symbol,
                    invoice.number,
                    invoice.buyer_tax_code,
                    invoice.total_payable,
                    ttl,
                ),
            ),
        )
        WRITE_SECONDS.labels("rows").observe(time.perf_counter() - started)


def _claim_from(row: dict[str, object]) -> Claim:
    return Claim(
        str(row["code"]),
        str(row["invoice_hash"]),
        str(row["authority_token"]),
        row["authenticated_at"],  # type: ignore[arg-type]
        row.get("source"),  # type: ignore[arg-type]
    )
