"""Changing an authenticated invoice's state, the one way both corrections (a replacement or an
adjustment invoice, einvoice/submission.py) and notices (einvoice/notices.py) do it
(docs/lifecycle.md):

1. the state, decided by a lightweight transaction (storage/cassandra/states.py);
2. its copies in the seller's and the buyer's month indexes (listings show the status);
3. the lookup cache's entry, written and waited for.
Only then is the change answered. Steps 2 and 3 are idempotent, and applying a change already
applied succeeds without changing anything, so a retry after a crash or a 503 between the steps
writes the copies again: every change that was answered has its copies.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from typing import Protocol

import redis.asyncio as redis

from einvoice.errors import BackendUnavailable, ErrorDetail
from einvoice.lifecycle import REPLACED, Change, InvoiceState, Refusal
from einvoice.registry.cache import Seller
from lookup.cache import CachedDocument, put_changed
from lookup.documents import document_from_stored
from storage.cassandra.invoices import IndexedAs, InvoiceStore, StoredInvoice, ttl_seconds
from storage.cassandra.states import StateContention


class TaxpayerDirectory(Protocol):
    """Taxpayers' month buckets (einvoice.registry.cache.RegistryCache)."""

    async def seller(self, tax_code: str) -> Seller | None: ...


@dataclass(frozen=True)
class Changed:
    """A change applied (or found applied already): the invoice's state after it."""

    state: InvoiceState


class InvoiceChanges:
    def __init__(
        self,
        *,
        invoices: InvoiceStore,
        taxpayers: TaxpayerDirectory,
        cache: redis.Redis | None,
    ) -> None:
        self.invoices = invoices
        self.taxpayers = taxpayers
        self.cache = cache  # None: no lookup cache (tests of the storage alone)

    async def change(
        self, stored: StoredInvoice, change: Change, now: dt.datetime
    ) -> Changed | Refusal:
        """Apply `change` to the stored invoice, with its copies (see the module's docstring).
        Raises BackendUnavailable when the state is contended beyond reason, and the cache's own
        error when it cannot be written (a Redis outage: 503 in the API, a wait in the worker).
        Either way the change may be applied: its retry completes the copies."""
        invoice = stored.invoice
        seller_tax_code = invoice["seller"]["tax_code"]
        issued = dt.date.fromisoformat(invoice["issued_date"])
        try:
            outcome = await self.invoices.states.change(
                stored.code,
                change,
                seller_tax_code=seller_tax_code,
                ttl=ttl_seconds(issued, now),
                now=now,
            )
        except StateContention as error:
            raise BackendUnavailable(str(error)) from error
        if isinstance(outcome, Refusal):
            return outcome
        state, _ = outcome
        where = await self._indexed_as(stored)
        await self.invoices.writer.write(self.invoices.status_rows(where, state, now))
        await self._recache(stored.code)
        return Changed(state)

    async def _indexed_as(self, stored: StoredInvoice) -> IndexedAs:
        invoice = stored.invoice
        seller_tax_code = invoice["seller"]["tax_code"]
        buyer_tax_code = (invoice.get("buyer") or {}).get("tax_code")
        seller, buyer = await asyncio.gather(
            self.taxpayers.seller(seller_tax_code),
            self.taxpayers.seller(buyer_tax_code) if buyer_tax_code else _none(),
        )
        return IndexedAs(
            code=stored.code,
            seller_tax_code=seller_tax_code,
            issued_date=dt.date.fromisoformat(invoice["issued_date"]),
            seller_buckets=seller.month_buckets if seller is not None else 1,
            buyer_tax_code=buyer_tax_code,
            buyer_buckets=buyer.month_buckets if buyer is not None else 1,
        )

    async def _recache(self, code: str) -> None:
        """The cache entry of `code` as stored now (its newest state), waited for."""
        if self.cache is None:
            return
        stored = await self.invoices.by_code(code)
        if stored is None:  # expired between the change and now: nothing to show
            return
        document = CachedDocument.of(document_from_stored(stored), stored.state.version)
        # Not caught: a stale status must not stand, so the change is not answered (an outage's
        # error is a 503 with Retry-After in the API, and a wait in the worker).
        await put_changed(self.cache, code, document)


async def _none() -> None:
    return None


def refusal_detail(refusal: Refusal, code: str, field: str | None) -> ErrorDetail:
    """The error of a change the invoice's state forbids."""
    how = "replaced" if refusal.status == REPLACED else "cancelled"
    return ErrorDetail(refusal.code, f"the invoice {code} was {how} already", field)
