"""The listing's rules and walk (pure): the range's bounds and clamping, and the walk over an
in-memory seller-month index (a stand-in for our own storage Protocol, `MonthIndex`, not for a
driver: the walk over the real Cassandra is in test_service.py and tests/api/test_lookup.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from einvoice.errors import InvalidRequest
from lookup.listing import (
    MAX_PARTITIONS_PER_PAGE,
    MAX_RANGE_DAYS,
    Window,
    latest_issue_day,
    retention_start,
    walk,
    window,
)
from lookup.page_tokens import Cursor, Position, month_of

TODAY = dt.date(2026, 12, 1)


def _refused(date_from: dt.date, date_to: dt.date, limit: int = 100) -> list[tuple[str, str]]:
    with pytest.raises(InvalidRequest) as raised:
        window(date_from, date_to, limit, TODAY)
    return [(d.code, str(d.field)) for d in raised.value.details]


def test_a_range_of_366_days_both_included_is_the_longest() -> None:
    leap_year = window(dt.date(2024, 1, 1), dt.date(2024, 12, 31), 100, TODAY)
    twelve_months = window(dt.date(2024, 2, 15), dt.date(2025, 2, 14), 100, TODAY)

    assert leap_year == Window(dt.date(2024, 1, 1), dt.date(2024, 12, 31))
    assert (twelve_months.last - twelve_months.first).days + 1 == MAX_RANGE_DAYS
    assert _refused(dt.date(2024, 1, 1), dt.date(2025, 1, 1)) == [("RANGE_TOO_LONG", "/to")]
    assert _refused(dt.date(1, 1, 1), dt.date(9999, 12, 31)) == [("RANGE_TOO_LONG", "/to")]


def test_to_before_from_and_limits_out_of_bounds_are_refused() -> None:
    assert _refused(dt.date(2025, 2, 1), dt.date(2025, 1, 31)) == [("INVALID_FIELD", "/to")]
    for limit in (0, -1, 501):
        assert _refused(dt.date(2025, 1, 1), dt.date(2025, 1, 31), limit) == [
            ("OUT_OF_RANGE", "/limit")
        ]


def test_a_range_is_clamped_to_the_days_that_can_hold_invoices() -> None:
    past = window(dt.date(2016, 6, 1), dt.date(2017, 1, 31), 100, TODAY)
    future = window(dt.date(2026, 6, 1), dt.date(2027, 5, 31), 100, TODAY)
    beyond = window(dt.date(9999, 1, 1), dt.date(9999, 12, 31), 100, TODAY)
    ancient = window(dt.date(1, 1, 1), dt.date(1, 12, 31), 100, TODAY)

    assert past == Window(dt.date(2016, 11, 30), dt.date(2017, 1, 31))
    assert future == Window(dt.date(2026, 6, 1), dt.date(2026, 12, 2))
    assert beyond.empty
    assert ancient.empty


def test_the_retention_starts_ten_years_back_and_a_day_early() -> None:
    assert retention_start(dt.date(2026, 12, 1)) == dt.date(2016, 11, 30)
    assert retention_start(dt.date(2028, 2, 29)) == dt.date(2018, 2, 27)
    assert latest_issue_day(dt.date(2026, 12, 31)) == dt.date(2027, 1, 1)


@given(st.dates(), st.dates(), st.integers(-5, 600))
def test_any_range_gives_a_window_or_a_refusal(
    date_from: dt.date, date_to: dt.date, limit: int
) -> None:
    refusals = {"INVALID_FIELD", "RANGE_TOO_LONG", "OUT_OF_RANGE"}
    try:
        days = window(date_from, date_to, limit, TODAY)
    except InvalidRequest as refused:
        codes = [d.code for d in refused.details]
        assert len(codes) == 1
        assert codes[0] in refusals
        return
    assert days.empty or (
        retention_start(TODAY) <= days.first <= days.last <= latest_issue_day(TODAY)
    )


class Index:
    """A seller-month index in memory, counting the partitions read."""

    def __init__(self, days: list[dt.date], buckets: int) -> None:
        self.rows: list[dict[str, Any]] = [
            {
                "issued_date": day,
                "code": f"00{n:032X}",
                "template": "1",
                "symbol": f"C{day.year % 100:02d}TAA",
                "number": n,
                "buyer_tax_code": None,
                "total_payable": 1000,
                "status": "authenticated",
            }
            for n, day in enumerate(days, start=1)
        ]
        self.buckets = buckets
        self.partitions = 0

    async def seller_month(
        self, seller_tax_code: str, month: int, buckets: int, before: Position, limit: int
    ) -> list[dict[str, Any]]:
        assert buckets == self.buckets
        self.partitions += buckets
        found = [
            row
            for row in self.rows
            if month_of(row["issued_date"]) == month and (row["issued_date"], row["code"]) < before
        ]
        found.sort(key=lambda row: (row["issued_date"], row["code"]), reverse=True)
        return found[:limit]


async def _pages(
    index: Index, days: Window, limit: int
) -> tuple[list[list[str]], list[int], list[Cursor | None]]:
    pages, reads, cursors = [], [], []
    cursor: Cursor | None = None
    for _ in range(1000):
        before = index.partitions
        items, cursor = await walk(
            index.seller_month, "0100233488", index.buckets, days=days, limit=limit, cursor=cursor
        )
        pages.append([item["issued_date"] for item in items])
        reads.append(index.partitions - before)
        cursors.append(cursor)
        if cursor is None:
            break
    return pages, reads, cursors


async def test_an_empty_year_of_a_one_bucket_seller_is_one_page() -> None:
    index = Index([], buckets=1)

    pages, reads, _ = await _pages(index, Window(dt.date(2025, 1, 1), dt.date(2025, 12, 31)), 100)

    assert pages == [[]]
    assert reads == [12]


async def test_a_sparse_range_over_many_buckets_answers_within_the_budget() -> None:
    index = Index([dt.date(2025, 1, 20), dt.date(2025, 11, 5)], buckets=8)
    days = Window(dt.date(2025, 1, 1), dt.date(2025, 12, 31))

    pages, reads, cursors = await _pages(index, days, 100)

    assert max(reads) <= MAX_PARTITIONS_PER_PAGE
    assert reads == [32, 32, 32]  # four months of eight buckets a page
    assert pages == [["2025-11-05"], [], ["2025-01-20"]]
    assert [c.month if c else None for c in cursors] == [202508, 202504, None]


async def test_a_seller_with_more_buckets_than_the_budget_reads_a_month_a_page() -> None:
    index = Index([dt.date(2025, 2, 1)], buckets=64)
    days = Window(dt.date(2025, 1, 1), dt.date(2025, 3, 31))

    pages, reads, _ = await _pages(index, days, 100)

    assert reads == [64, 64, 64]
    assert pages == [[], ["2025-02-01"], []]


async def test_a_page_outside_the_window_reads_nothing() -> None:
    index = Index([dt.date(2025, 1, 20)], buckets=1)

    items, cursor = await walk(
        index.seller_month,
        "0100233488",
        1,
        days=Window(dt.date(2027, 1, 1), dt.date(2026, 12, 2)),
        limit=10,
        cursor=None,
    )

    assert (items, cursor, index.partitions) == ([], None, 0)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.dates(dt.date(2024, 11, 1), dt.date(2026, 2, 28)), max_size=40),
    st.integers(1, 40),
    st.sampled_from([1, 2, 3, 16, 40]),
    st.dates(dt.date(2024, 12, 1), dt.date(2025, 12, 31)),
    st.integers(0, 365),
)
async def test_following_the_pages_lists_the_range_newest_first_within_the_budget(
    days: list[dt.date], limit: int, buckets: int, first: dt.date, length: int
) -> None:
    index = Index(days, buckets)
    span = Window(first, first + dt.timedelta(days=length))

    pages, reads, _ = await _pages(index, span, limit)

    listed = [day for page in pages for day in page]
    expected = sorted(
        (row for row in index.rows if span.first <= row["issued_date"] <= span.last),
        key=lambda row: (row["issued_date"], row["code"]),
        reverse=True,
    )
    assert listed == [row["issued_date"].isoformat() for row in expected]
    assert all(len(page) <= limit for page in pages)
    assert all(read <= max(MAX_PARTITIONS_PER_PAGE, buckets) for read in reads)
