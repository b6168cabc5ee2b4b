"""Authenticating and storing one submitted invoice: the one implementation behind the real-time
endpoint and the batch workers (rules, signatures, code issuance, tables and idempotency alike).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from prometheus_client import Counter

from einvoice.errors import ErrorDetail
from einvoice.invoice.authenticate import Authenticated, Authority, authenticate
from einvoice.invoice.model import Invoice
from einvoice.registry.cache import Seller
from storage.cassandra.invoices import Claim, InvoiceStore, NewInvoice

RULE_FAILURES = Counter("einvoice_rule_failures_total", "Invoice rule failures", ["code"])


@dataclass(frozen=True)
class Submitted:
    """What became of one invoice.

    created   authenticated now (first time)
    repeated  the same invoice was authenticated before: `claim` is the original answer
    conflict  another invoice holds this business key: `claim` names it
    rejected  rule or signature failures: `errors`
    """

    kind: Literal["created", "repeated", "conflict", "rejected"]
    claim: Claim | None = None
    errors: tuple[ErrorDetail, ...] = ()
    invoice: Invoice | None = None


async def submit_invoice(
    raw_invoice: Any,
    signature: Any,
    *,
    seller: Seller,
    authority: Authority,
    store: InvoiceStore,
    now: dt.datetime,
    source: str,
) -> Submitted:
    outcome = authenticate(
        raw_invoice,
        signature,
        keys_for_seller=lambda _: seller.keys,
        authority=authority,
        now=now,
    )
    if not isinstance(outcome, Authenticated):
        invoice = outcome.invoice
        if invoice is not None:
            earlier = await store.claim_of(
                invoice["seller"]["tax_code"],
                invoice["template"],
                invoice["symbol"],
                invoice["number"],
            )
            if earlier is not None and earlier.invoice_hash == outcome.invoice_hash:
                # Accepted before (a key revoked since does not change that): the same answer.
                return Submitted("repeated", earlier, invoice=invoice)
        for error in outcome.errors:
            RULE_FAILURES.labels(error.code).inc()
        return Submitted("rejected", errors=tuple(outcome.errors), invoice=invoice)
    stored = await store.store(_new_invoice(outcome, signature, seller.month_buckets, source), now)
    if stored.created:
        return Submitted("created", stored.claim, invoice=outcome.invoice)
    if stored.claim.invoice_hash == outcome.invoice_hash:
        return Submitted("repeated", stored.claim, invoice=outcome.invoice)
    return Submitted("conflict", stored.claim, invoice=outcome.invoice)


def _new_invoice(
    outcome: Authenticated, signature: str, month_buckets: int, source: str
) -> NewInvoice:
    invoice = outcome.invoice
    return NewInvoice(
        code=outcome.code,
        seller_tax_code=invoice["seller"]["tax_code"],
        template=invoice["template"],
        symbol=invoice["symbol"],
        number=invoice["number"],
        issued_date=dt.date.fromisoformat(invoice["issued_date"]),
        buyer_tax_code=invoice.get("buyer", {}).get("tax_code"),
        currency=invoice.get("currency", "VND"),
        total_payable=Decimal(invoice["totals"]["total_payable"]),
        invoice_hash=outcome.invoice_hash,
        canonical=outcome.canonical,
        seller_signature=signature,
        token=outcome.token,
        authenticated_at=outcome.authenticated_at,
        month_buckets=month_buckets,
        source=source,
    )
