"""Retention runs from the issue date: what the rules accept keeps (almost) all of its ten years."""

from __future__ import annotations

import datetime as dt

from einvoice.invoice.rules import CLOCK_SKEW, MAX_BACKDATE
from einvoice.timezone import VIETNAM
from storage.cassandra.invoices import RETENTION_YEARS, ttl_seconds


def test_everything_accepted_keeps_most_of_its_ten_years() -> None:
    """Retention runs from the issue date: the oldest invoice accepted still has more than nine
    and a half years to live when it is stored."""
    now = dt.datetime(2025, 6, 20, 3, 0, tzinfo=dt.UTC)
    oldest = (now + CLOCK_SKEW).astimezone(VIETNAM).date() - MAX_BACKDATE

    assert ttl_seconds(oldest, now) > 9.5 * 365 * 86_400


def test_ttl_ends_the_day_after_the_tenth_anniversary_in_vietnam() -> None:
    issued = dt.date(2026, 12, 1)
    now = dt.datetime(2026, 12, 1, 5, 0, tzinfo=dt.UTC)

    expires = now + dt.timedelta(seconds=ttl_seconds(issued, now))

    assert expires == dt.datetime(2026 + RETENTION_YEARS, 12, 2, tzinfo=VIETNAM)
