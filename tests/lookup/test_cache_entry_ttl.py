"""A lookup-cache entry never outlives its invoice (pure; docs/retention.md)."""

from __future__ import annotations

import datetime as dt

from einvoice.timezone import VIETNAM
from lookup.cache import CACHE_TTL_S, entry_ttl


def _document(issued: dt.date) -> dict[str, object]:
    return {"invoice": {"issued_date": issued.isoformat()}}


def test_an_entry_lasts_a_day_while_the_invoice_has_longer_left() -> None:
    now = dt.datetime(2026, 12, 1, 9, tzinfo=VIETNAM)

    assert entry_ttl(_document(now.date()), now) == CACHE_TTL_S


def test_an_entry_filled_in_the_invoices_last_hours_ends_with_it() -> None:
    issued = dt.date(2026, 12, 1)
    # 21:00 on the tenth anniversary: the invoice goes at midnight, in three hours.
    now = dt.datetime(2036, 12, 1, 21, tzinfo=VIETNAM)

    assert entry_ttl(_document(issued), now) == 3 * 3600
