"""A seller's invoices issued in [from, to], newest first, a page at a time.

The walk goes month by month from `to` back to `from`, reading each month through the
seller-month index (merged over the seller's buckets by the store) at most `limit` rows at a
time: never the whole range in memory. Access and the audit are the service's
(lookup/service.py); this module only walks.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Protocol

from lookup.page_tokens import (
    Position,
    decode_page_token,
    encode_page_token,
    month_of,
    previous_month,
)


class SellerMonths(Protocol):
    """The seller-month index (storage/cassandra/invoices.py's InvoiceStore is one)."""

    async def seller_month(
        self, seller_tax_code: str, month: int, buckets: int, before: Position, limit: int
    ) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class ListingPage:
    invoices: list[dict[str, Any]]  # each as the API answers it (`listing_item`)
    next_page_token: str | None  # None on the last page


async def seller_page(
    index: SellerMonths,
    tax_code: str,
    buckets: int,
    *,
    date_from: dt.date,
    date_to: dt.date,
    limit: int,
    page_token: str | None,
) -> ListingPage:
    """One page; InvalidRequest (/page_token) for a token that is not one of ours."""
    start = (date_to + dt.timedelta(days=1), "")  # before it: every row up to `to` included
    month, before = decode_page_token(page_token) if page_token else (month_of(date_to), start)
    items: list[dict[str, Any]] = []
    last_month = month_of(date_from)
    while month >= last_month and len(items) < limit:
        rows = await index.seller_month(tax_code, month, buckets, before, limit - len(items))
        for row in rows:
            issued: dt.date = row["issued_date"]
            if issued < date_from:
                break
            items.append(listing_item(row, issued))
        if len(items) < limit:
            month = previous_month(month)
            before = start
    token = None
    if len(items) == limit:
        last = items[-1]
        issued_month = month_of(dt.date.fromisoformat(last["issued_date"]))
        token = encode_page_token(issued_month, last["issued_date"], last["code"])
    return ListingPage(items, token)


def listing_item(row: dict[str, Any], issued: dt.date) -> dict[str, Any]:
    return {
        "code": row["code"],
        "issued_date": issued.isoformat(),
        "template": row["template"],
        "symbol": row["symbol"],
        "number": row["number"],
        "buyer_tax_code": row["buyer_tax_code"],
        "total_payable": str(row["total_payable"]),
        "status": row["status"],
    }
