"""A seller's invoices (or a buyer's) issued in [from, to], newest first, a page at a time: the
range's rules and the walk. Access, the audit and the page tokens' signatures are the service's
(lookup/service.py).

The range: `to` not before `from`, at most MAX_RANGE_DAYS days counting both ends (a calendar
year, or any twelve consecutive months, fits), checked as asked; then clamped to the days that
can hold invoices, from the start of the retention (ten years before today in Vietnam, a day
earlier for clock skew) to tomorrow in Vietnam (an issue date is at most today, within the
rules' five minutes of skew). Clamping never changes an answer: rows outside those days do not
exist (their TTL has removed them, or the rules refused them). It only spares the reads.

The walk goes month by month from `to` back to `from`, reading each month through the
seller-month index (merged over the seller's buckets by the store) at most `limit` rows at a
time: never the whole range in memory. One page reads at most MAX_PARTITIONS_PER_PAGE partitions
(month x bucket), but always at least one month (its buckets are read together: the month's
order needs all of them); when the budget is spent it answers what it has, possibly nothing,
with a cursor to the next month. So a page costs a bounded number of reads however sparse the
range, and a client follows `next_page_token` until it is null.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from einvoice.error_codes import ErrorCode
from einvoice.errors import InvalidRequest
from lookup.page_tokens import Cursor, Position, month_of, previous_month
from storage.cassandra.invoices import RETENTION_YEARS

MAX_RANGE_DAYS = 366
# 32: a one-bucket seller's longest range (13 months) is one page even when it is empty, and so
# is a two-bucket seller's; a seller with more buckets (only the largest, whose months are not
# empty) gets fewer months a page.
MAX_PARTITIONS_PER_PAGE = 32
MAX_LIMIT = 500


# One month of a taxpayer's index (tax code, month, buckets, before, limit): its rows merged over
# the buckets, newest first, strictly before `before`, at most `limit`
# (storage/cassandra/invoices.py's `InvoiceStore.seller_month` and `buyer_month` are two).
MonthIndex = Callable[[str, int, int, Position, int], Awaitable[list[dict[str, Any]]]]


@dataclass(frozen=True)
class Window:
    """The days a listing reads: its range as asked, clamped to the days invoices can have."""

    first: dt.date
    last: dt.date

    @property
    def empty(self) -> bool:
        return self.last < self.first


@dataclass(frozen=True)
class ListingPage:
    invoices: list[dict[str, Any]]  # each as the API answers it (`listing_item`)
    next_page_token: str | None  # None on the last page


def window(date_from: dt.date, date_to: dt.date, limit: int, today: dt.date) -> Window:
    """The days to read (`today` in Vietnam); InvalidRequest for a range or limit out of bounds."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidRequest(
            f"limit is 1 to {MAX_LIMIT}", code=ErrorCode.OUT_OF_RANGE, field="/limit"
        )
    if date_to < date_from:
        raise InvalidRequest("`to` is before `from`", code=ErrorCode.INVALID_FIELD, field="/to")
    if (date_to - date_from).days >= MAX_RANGE_DAYS:
        raise InvalidRequest(
            f"at most {MAX_RANGE_DAYS} days from `from` to `to` (both included); "
            "ask for a longer period a year at a time",
            code=ErrorCode.RANGE_TOO_LONG,
            field="/to",
        )
    return Window(max(date_from, retention_start(today)), min(date_to, latest_issue_day(today)))


def retention_start(today: dt.date) -> dt.date:
    """The earliest issue date whose rows may still be stored (a day early, for clock skew)."""
    year = today.year - RETENTION_YEARS
    day = 28 if (today.month, today.day) == (2, 29) else today.day
    return today.replace(year=year, day=day) - dt.timedelta(days=1)


def latest_issue_day(today: dt.date) -> dt.date:
    """The latest issue date an invoice can have (the rules allow minutes of clock skew)."""
    return today + dt.timedelta(days=1)


async def walk(
    index: MonthIndex,
    tax_code: str,
    buckets: int,
    *,
    days: Window,
    limit: int,
    cursor: Cursor | None,
    item: Callable[[dict[str, Any], dt.date], dict[str, Any]] | None = None,
) -> tuple[list[dict[str, Any]], Cursor | None]:
    """One page from `cursor` (None: the first page): its items (`item` of each row: a seller
    listing's by default) and where the next one starts (None when the walk is over)."""
    make_item = item or listing_item
    if days.empty:
        return [], None
    start: Position = (days.last + dt.timedelta(days=1), "")  # every row up to `last`, included
    month, before = (cursor.month, cursor.before) if cursor else (month_of(days.last), start)
    if month > month_of(days.last):  # not from a token of ours: read nothing after `last`
        month, before = month_of(days.last), start
    first_month = month_of(days.first)
    items: list[dict[str, Any]] = []
    partitions = 0
    while month >= first_month and len(items) < limit:
        if partitions and partitions + buckets > MAX_PARTITIONS_PER_PAGE:
            return items, Cursor(month, before)
        rows = await index(tax_code, month, buckets, before, limit - len(items))
        partitions += buckets
        for row in rows:
            issued: dt.date = row["issued_date"]
            if issued < days.first:
                break
            items.append(make_item(row, issued))
        if len(items) < limit:
            month, before = previous_month(month), start
    if len(items) < limit:
        return items, None
    last = items[-1]
    issued = dt.date.fromisoformat(last["issued_date"])
    return items, Cursor(month_of(issued), (issued, last["code"]))


def buyer_listing_item(row: dict[str, Any], issued: dt.date) -> dict[str, Any]:
    """An invoice in a buyer's listing: who sold it, instead of who bought it."""
    return {
        "code": row["code"],
        "seller_tax_code": row["seller_tax_code"],
        "issued_date": issued.isoformat(),
        "template": row["template"],
        "symbol": row["symbol"],
        "number": row["number"],
        "total_payable": str(row["total_payable"]),
        "status": row["status"],
    }


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
