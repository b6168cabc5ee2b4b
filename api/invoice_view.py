"""The readable invoice: `GET /v1/invoices/{code}` (and by key) with `Accept: text/html`, for those
who may read the invoice (the same access as JSON: api/lookup.py decides before this is called).

The stored document (lookup/documents.py) becomes a view (api/templates/invoice.html): the
seller, the buyer, the lines, the VAT breakdown and the totals as the invoice states them
(amounts as Vietnamese write them), the authority code (MCCQT), the status and what changed it
(docs/lifecycle.md), and a QR code of the public check of its token, so a printed copy can be
checked with a phone. Every optional field the model has is given a value here (None when the
invoice lacks it), so the template asks `if` and never trips over a missing key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi.responses import HTMLResponse

from api.templating import render
from api.wording import (
    ELECTRONIC_INVOICE,
    KINDS,
    LINE_NATURES,
    RELATIONS,
    Words,
    short_vat_rate,
    status_words,
    vat_rate_words,
)
from einvoice.lifecycle import VOID
from lookup.public_check import verify_url


@dataclass(frozen=True)
class Party:
    """The seller (NBan) or the buyer (NMua); a retail buyer may have no tax code or name."""

    name: str | None
    tax_code: str | None
    address: str | None
    phone: str | None = None
    email: str | None = None
    bank_account: str | None = None
    citizen_id: str | None = None

    @classmethod
    def of(cls, fields: Mapping[str, Any] | None) -> Party:
        fields = fields or {}
        return cls(**{name: fields.get(name) for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class LineView:
    no: int
    name: str
    nature: Words | None  # None for goods or a service (TChat 1), the usual line
    code: str | None
    unit: str | None
    quantity: str | None
    unit_price: str | None
    discount_rate: str | None
    discount_amount: str | None
    amount: str | None
    vat_rate: str | None  # short: the VAT breakdown names the rates

    @classmethod
    def of(cls, line: Mapping[str, Any]) -> LineView:
        rate = line.get("vat_rate")
        return cls(
            no=line["no"],
            name=line["name"],
            nature=LINE_NATURES.get(line["nature"]),
            code=line.get("code"),
            unit=line.get("unit"),
            quantity=line.get("quantity"),
            unit_price=line.get("unit_price"),
            discount_rate=line.get("discount_rate"),
            discount_amount=line.get("discount_amount"),
            amount=line.get("amount"),
            vat_rate=short_vat_rate(rate) if rate else None,
        )


@dataclass(frozen=True)
class RateView:
    rate: Words
    taxable_amount: str
    tax_amount: str


@dataclass(frozen=True)
class OriginalView:
    relation: Words
    code: str | None  # the original's authority code, when the document names it
    template: str
    symbol: str
    number: int
    issued_date: str


def invoice_context(document: Mapping[str, Any], page_url: str) -> dict[str, Any]:
    """What api/templates/invoice.html shows of a stored invoice's lookup document."""
    invoice = document["invoice"]
    totals = invoice["totals"]
    lines = [LineView.of(line) for line in invoice["lines"]]
    original = invoice.get("original")
    return {
        "kind": KINDS.get(invoice["template"], ELECTRONIC_INVOICE),
        "template": invoice["template"],
        "symbol": invoice["symbol"],
        "number": invoice["number"],
        "issued_date": invoice["issued_date"],
        "currency": invoice.get("currency") or "VND",
        "exchange_rate": invoice.get("exchange_rate"),
        "payment_method": invoice.get("payment_method"),
        "seller": Party.of(invoice["seller"]),
        "buyer": Party.of(invoice.get("buyer")),
        "lines": lines,
        "show_discounts": any(line.discount_rate or line.discount_amount for line in lines),
        "rates": [
            RateView(vat_rate_words(rate["vat_rate"]), rate["taxable_amount"], rate["tax_amount"])
            for rate in totals.get("by_rate") or ()
        ],
        "amount_before_tax": totals["amount_before_tax"],
        "discount_amount": totals.get("discount_amount"),
        "tax_amount": totals["tax_amount"],
        "total_payable": totals["total_payable"],
        "total_in_words": totals.get("total_in_words"),
        "original": (
            OriginalView(
                RELATIONS[original["relation"]],
                document.get("original_code"),
                original["template"],
                original["symbol"],
                original["number"],
                original["issued_date"],
            )
            if original
            else None
        ),
        "code": document["code"],
        "status": document["status"],
        "status_words": status_words(document["status"]),
        "void": document["status"] in VOID,
        "replaced_by": document.get("replaced_by"),
        "adjusted_by": document.get("adjusted_by") or [],
        "cancelled_by": document.get("cancelled_by"),
        "explained_by": document.get("explained_by") or [],
        "authenticated_at": document["authenticated_at"],
        "invoice_hash": document["invoice_hash"],
        "verify_url": verify_url(page_url, document["token"]),
    }


async def invoice_page(document: Mapping[str, Any], page_url: str) -> HTMLResponse:
    return await render("invoice.html", invoice_context(document, page_url))
