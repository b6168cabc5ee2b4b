"""Retention runs from the issue date: what the rules accept keeps (almost) all of its ten years."""

from __future__ import annotations

import datetime as dt
import uuid

import httpx

from einvoice.config import Settings
from einvoice.invoice.rules import CLOCK_SKEW, MAX_BACKDATE
from einvoice.timezone import VIETNAM
from storage.cassandra.client import CassandraClient
from storage.cassandra.documents import code_bytes
from storage.cassandra.invoices import RETENTION_YEARS, ttl_seconds
from tests.api.test_invoices import make_seller


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


def test_an_invoice_of_29_february_ends_with_28_february_ten_years_on() -> None:
    issued = dt.date(2028, 2, 29)
    now = dt.datetime(2028, 2, 29, 12, tzinfo=VIETNAM)

    expires = now + dt.timedelta(seconds=ttl_seconds(issued, now))

    assert expires == dt.datetime(2038, 3, 1, tzinfo=VIETNAM)  # the end of 28 February 2038


async def test_an_invoice_issued_today_is_stored_for_ten_years(
    settings: Settings, http: httpx.AsyncClient, cassandra: CassandraClient
) -> None:
    """Through the real service into the real Cassandra: the TTL read back from every row of an
    invoice issued today ends at the end of its tenth anniversary, in Vietnam."""
    seller = await make_seller(settings)
    submission = seller.submission(number=1)
    answer = await http.post("/v1/invoices", json=submission, headers=seller.headers)
    assert answer.status_code == 201, answer.text
    code = answer.json()["code"]
    issued = dt.datetime.now(VIETNAM).date()
    end_of_retention = dt.datetime(
        issued.year + RETENTION_YEARS, issued.month, issued.day, tzinfo=VIETNAM
    ) + dt.timedelta(days=1)

    document = cassandra.session.execute(
        "SELECT TTL(document) AS ttl FROM invoice_documents WHERE code = %s", (code_bytes(code),)
    ).one()
    month = issued.year * 100 + issued.month
    index = cassandra.session.execute(
        "SELECT TTL(template) AS ttl FROM invoices_by_seller_month "
        "WHERE seller_tax_code = %s AND month = %s AND bucket = 0",
        (seller.tax_code, month),
    ).one()
    invoice = submission["invoice"]
    claim = cassandra.session.execute(
        "SELECT TTL(code) AS ttl FROM invoice_claim_blocks WHERE seller_tax_code = %s "
        "AND template = %s AND symbol = %s AND block = 0 AND number = 1",
        (seller.tax_code, invoice["template"], invoice["symbol"]),
    ).one()
    now = dt.datetime.now(dt.UTC)
    for row in (document, index, claim):
        expires = now + dt.timedelta(seconds=row["ttl"])
        assert abs((expires - end_of_retention).total_seconds()) < 120, (expires, end_of_retention)
    assert end_of_retention.year >= 2036


def test_the_cluster_accepts_expiry_after_2038(cassandra: CassandraClient) -> None:
    """An invoice issued after January 2028 expires after 19 January 2038, which Cassandra's
    default compatibility mode refuses; the stack runs `storage_compatibility_mode: NONE`
    (devstack/templates/cassandra.yaml), and a production cluster must too."""
    twelve_years = 12 * 366 * 86_400
    cassandra.session.execute(
        "INSERT INTO batch_results (batch_id, line, status) VALUES (%s, 0, 'rejected') USING TTL %s",
        (uuid.uuid1(), twelve_years),
    )


# Cassandra's guidance for TimeWindowCompactionStrategy: about 20-50 windows over the data's life.
MAX_WINDOWS = 50


def test_compaction_windows_over_ten_years_stay_within_guidance(
    settings: Settings, cassandra: CassandraClient
) -> None:
    """Every time-windowed table, as the live schema has it: ten years (and the oldest issue date
    accepted) make at most MAX_WINDOWS windows, so old SSTables are never compacted again."""
    rows = cassandra.session.execute(
        "SELECT table_name, compaction FROM system_schema.tables WHERE keyspace_name = %s",
        (settings.cassandra_keyspace,),
    )
    unit_days = {"MINUTES": 1 / 1440, "HOURS": 1 / 24, "DAYS": 1}
    life_days = RETENTION_YEARS * 365.25 + MAX_BACKDATE.days
    windowed = {}
    for row in rows:
        compaction = row["compaction"]
        if compaction["class"].endswith("TimeWindowCompactionStrategy"):
            window_days = (
                int(compaction["compaction_window_size"])
                * unit_days[compaction["compaction_window_unit"]]
            )
            windowed[row["table_name"]] = life_days / window_days
    assert {"invoice_documents", "invoices_by_seller_month"} <= set(windowed)
    assert all(windows <= MAX_WINDOWS for windows in windowed.values()), windowed
