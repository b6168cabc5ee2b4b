"""A lookup-cache entry as pure code: it never outlives its invoice (docs/retention.md), and its
bytes (`version \x1f seller \x1f buyer \x1f json`) decode to what was encoded."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from einvoice.timezone import VIETNAM
from lookup.cache import CACHE_TTL_S, CachedDocument, entry_ttl


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


# -- the entry's bytes ----------------------------------------------------------------------------


def _stored(buyer: str | None = "0314409058") -> dict[str, Any]:
    invoice: dict[str, Any] = {"issued_date": "2026-12-01", "seller": {"tax_code": "0100233488"}}
    if buyer is not None:
        invoice["buyer"] = {"tax_code": buyer, "name": "Công ty \x1f TNHH"}
    return {"code": "00ABC", "status": "adjusted", "adjusted_by": ["00DEF"], "invoice": invoice}


@pytest.mark.parametrize("version", [0, 1, 7, 12_345])
@pytest.mark.parametrize("buyer", ["0314409058", "0314409058-001", None])
def test_an_entry_decodes_to_the_document_it_encodes_with_its_version(
    version: int, buyer: str | None
) -> None:
    cached = CachedDocument.of(_stored(buyer), version)

    decoded = CachedDocument.decode(cached.encode())

    assert decoded == cached
    assert decoded.version == version
    assert (decoded.seller, decoded.buyer) == ("0100233488", buyer)
    assert decoded.json == cached.json  # the cached bytes as they are
    assert decoded.document == _stored(buyer)


def test_an_entry_is_version_seller_buyer_and_json_apart_by_unit_separators() -> None:
    cached = CachedDocument.of(_stored(), 3)

    entry = cached.encode()

    # The cache's write script reads the version before the first separator ('^(%d+)\31').
    assert entry.split(b"\x1f", 3) == [b"3", b"0100233488", b"0314409058", cached.json]
    assert b"\x1f" not in cached.json  # orjson escapes the separator in the document's text
    assert CachedDocument.of(_stored(None)).encode().startswith(b"0\x1f0100233488\x1f\x1f{")


def test_an_entry_without_a_version_given_is_version_zero() -> None:
    assert CachedDocument.of(_stored()).version == 0
    assert CachedDocument(b"{}", "0100233488", None).encode() == b"0\x1f0100233488\x1f\x1f{}"
