"""Who may read what: the access policy of lookups. Pure; the service applies it.

A business reads the invoices it sold or bought, and its own listing; an officer reads every
invoice and every listing, and each such read is audited (lookup/service.py records it). To
anyone else an invoice or a listing does not exist: the same 404 as an unknown code or seller,
never a 403, so existence is never revealed.
"""

from __future__ import annotations

import uuid
from typing import Protocol

from einvoice.error_codes import ErrorCode
from einvoice.errors import NotFound

OFFICER = "officer"

# Audit kinds of `officer_reads` rows: stored, so never renamed.
AUDIT_INVOICE = "invoice"
AUDIT_SELLER_INVOICES = "seller_invoices"
AUDIT_BUYER_INVOICES = "buyer_invoices"
AUDIT_NOTICE = "notice"


class Reader(Protocol):
    """The caller of a lookup, already authenticated (api/auth.py's Principal is one)."""

    @property
    def client_id(self) -> uuid.UUID: ...

    @property
    def role(self) -> str: ...

    @property
    def tax_code(self) -> str | None: ...


def is_officer(reader: Reader) -> bool:
    return reader.role == OFFICER


def may_read_invoice(reader: Reader, seller: str, buyer: str | None) -> bool:
    """Whether `reader` sees an invoice of `seller` to `buyer` (officers: audited)."""
    if is_officer(reader):
        return True
    # A business client always has a tax code (a database constraint); without one, an invoice
    # without a buyer must not match None.
    return reader.tax_code is not None and reader.tax_code in (seller, buyer)


def may_list_seller(reader: Reader, tax_code: str) -> bool:
    """Whether `reader` sees the listing of the seller `tax_code` (officers: audited)."""
    return is_officer(reader) or reader.tax_code == tax_code


def may_list_buyer(reader: Reader, tax_code: str) -> bool:
    """Whether `reader` sees the invoices the buyer `tax_code` received (officers: audited; a
    business: its own purchases)."""
    return is_officer(reader) or reader.tax_code == tax_code


def buyer_not_found() -> NotFound:
    """An unknown buyer, and one whose listing the reader may not see: the same answer."""
    return NotFound("no such buyer", code=ErrorCode.BUYER_NOT_FOUND)


def invoice_not_found() -> NotFound:
    """An unknown invoice, and one the reader may not see: the same answer."""
    return NotFound("no such invoice", code=ErrorCode.INVOICE_NOT_FOUND)


def seller_not_found() -> NotFound:
    """An unknown seller, and one whose listing the reader may not see: the same answer."""
    return NotFound("no such seller", code=ErrorCode.SELLER_NOT_FOUND)
