"""The listing's page tokens (pure): they round-trip, stay short and URL-safe, and are bound to
their listing and secret; anything else is INVALID_FIELD on /page_token, never another error."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from einvoice.errors import InvalidRequest
from lookup.page_tokens import (
    MAX_TOKEN_LENGTH,
    Cursor,
    Listing,
    PageTokens,
    month_of,
    previous_month,
)

TOKENS = PageTokens(SecretStr("the secret of these tests"))
LISTING = Listing("0100233488", dt.date(2025, 1, 1), dt.date(2025, 12, 31), 100)
CURSOR = Cursor(202503, (dt.date(2025, 3, 17), "00" + "A1" * 16))
codes = st.text(alphabet="0123456789ABCDEF", min_size=34, max_size=34)


def _refused(listing: Listing, token: str, tokens: PageTokens = TOKENS) -> list[tuple[str, str]]:
    with pytest.raises(InvalidRequest) as raised:
        tokens.decode(listing, token)
    return [(d.code, str(d.field)) for d in raised.value.details]


def test_months_step_back_across_a_year() -> None:
    assert month_of(dt.date(2025, 3, 31)) == 202503
    assert previous_month(202503) == 202502
    assert previous_month(202501) == 202412


@given(st.dates(dt.date(2025, 1, 1), dt.date(2026, 1, 1)), codes | st.just(""))
def test_a_token_round_trips_short_and_url_safe(day: dt.date, code: str) -> None:
    cursor = Cursor(month_of(min(day, LISTING.date_to)), (day, code))

    token = TOKENS.encode(LISTING, cursor)

    assert len(token) <= MAX_TOKEN_LENGTH
    assert len(token) <= 56
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert TOKENS.decode(LISTING, token) == cursor


@pytest.mark.parametrize(
    "other",
    [
        Listing("0314409058", LISTING.date_from, LISTING.date_to, LISTING.limit),  # seller
        Listing(LISTING.tax_code, dt.date(2025, 1, 2), LISTING.date_to, LISTING.limit),  # range
        Listing(LISTING.tax_code, LISTING.date_from, dt.date(2025, 12, 30), LISTING.limit),
        Listing(LISTING.tax_code, LISTING.date_from, LISTING.date_to, 99),  # limit
    ],
)
def test_a_token_is_refused_by_another_listing(other: Listing) -> None:
    token = TOKENS.encode(LISTING, CURSOR)

    assert _refused(other, token) == [("INVALID_FIELD", "/page_token")]


def test_a_token_under_another_secret_is_refused() -> None:
    token = PageTokens(SecretStr("a rotated secret")).encode(LISTING, CURSOR)

    assert _refused(LISTING, token) == [("INVALID_FIELD", "/page_token")]


def test_a_signed_month_outside_the_range_is_refused() -> None:
    # Only the service signs tokens and never such a one; refused all the same.
    token = TOKENS.encode(LISTING, Cursor(202601, CURSOR.before))

    assert _refused(LISTING, token) == [("INVALID_FIELD", "/page_token")]


@given(st.data())
def test_every_change_of_a_token_is_refused(data: st.DataObject) -> None:
    raw = bytearray(base64.urlsafe_b64decode(TOKENS.encode(LISTING, CURSOR) + "=="))
    index = data.draw(st.integers(0, len(raw) - 1))
    raw[index] ^= data.draw(st.integers(1, 255))
    token = base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")

    assert _refused(LISTING, token) == [("INVALID_FIELD", "/page_token")]


@pytest.mark.parametrize(
    "token",
    [
        "",
        "x",
        "é",
        "a" * 5,  # 4n + 1 characters: no base64 has that length
        "A" * 32,  # too short for a header and a tag
        "A" * 1000,
        "AAAA+/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",  # the other base64 alphabet
        "eyJtIjoyMDI1MDMsImQiOiIyMDI1LTAzLTAxIiwiYyI6IjAwIn0",  # format 0: unsigned JSON
    ],
)
def test_a_token_that_is_not_ours_is_an_invalid_field(token: str) -> None:
    assert _refused(LISTING, token) == [("INVALID_FIELD", "/page_token")]


@given(st.text(max_size=200) | st.binary(max_size=120).map(lambda b: base64.b64encode(b).decode()))
def test_any_text_is_an_invalid_field(token: str) -> None:
    # Never another exception (a 500): a parser of client input. (A forgery would need the tag.)
    with contextlib.suppress(InvalidRequest):
        TOKENS.decode(LISTING, token)
        pytest.fail(f"{token!r} decoded")
