"""The stored invoice as lookups answer it: one shape from Cassandra's row and from a fresh
authentication (written through to the cache), so a cache hit and a miss look the same."""

from __future__ import annotations

import datetime as dt
from typing import Any

from einvoice.lifecycle import UNCHANGED, InvoiceState
from storage.cassandra.invoices import StoredInvoice


def utc_timestamp(moment: dt.datetime) -> str:
    """ISO 8601 to the millisecond; Cassandra returns UTC times without a zone."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.isoformat(timespec="milliseconds")


def invoice_document(
    *,
    code: str,
    invoice: dict[str, Any],
    invoice_hash: str,
    authenticated_at: dt.datetime,
    token: str,
    seller_signature: str,
    xml: bool = False,
    state: InvoiceState = UNCHANGED,
    original_code: str | None = None,
) -> dict[str, Any]:
    """`format`: how the seller submitted it. An XML invoice (`xml`) has no detached JWS
    (`seller_signature` null): its signature is in its signed XML, read with
    `Accept: application/xml`, and its hash is over DLHDon (docs/invoice-format.md).
    `status` and, when they apply, `replaced_by`, `adjusted_by`, `cancelled_by` and
    `explained_by` tell what happened to it since (docs/lifecycle.md); a correction names the
    invoice it corrects in `original_code` (and, as the seller wrote it, `invoice.original`)."""
    document: dict[str, Any] = {"code": code, **state.as_json()}
    if original_code is not None:
        document["original_code"] = original_code
    document.update(
        {
            "format": "xml" if xml else "json",
            "authenticated_at": utc_timestamp(authenticated_at),
            "invoice_hash": invoice_hash,
            "token": token,
            "seller_signature": None if xml else seller_signature,
            "invoice": invoice,
        }
    )
    return document


def document_from_stored(stored: StoredInvoice) -> dict[str, Any]:
    return invoice_document(
        code=stored.code,
        invoice=stored.invoice,
        invoice_hash=stored.invoice_hash,
        authenticated_at=stored.authenticated_at,
        token=stored.token,
        seller_signature=stored.seller_signature,
        xml=stored.xml,
        state=stored.state,
        original_code=stored.original_code,
    )


def parties(document: dict[str, Any]) -> tuple[str, str | None]:
    """(seller tax code, buyer tax code or None) of a document, for access checks."""
    invoice = document["invoice"]
    buyer = invoice.get("buyer") or {}
    return invoice["seller"]["tax_code"], buyer.get("tax_code")
