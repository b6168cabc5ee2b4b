"""The public check's answer as pure code (lookup/public_check.py): an invoice that still stands
is valid, a replaced or cancelled one is not and says why, and the answer never carries more than
the code, issue date, status and replacement (docs/lifecycle.md)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from einvoice.invoice.samples import sample_invoice
from einvoice.lifecycle import UNCHANGED, Change, InvoiceState, apply
from lookup.documents import invoice_document
from lookup.public_check import PublicAnswer, amount_readings, same_amount

NOW = dt.datetime(2026, 12, 1, 3, tzinfo=dt.UTC)
CODE = "00" + "AB12" * 8
REPLACEMENT = "00" + "CD34" * 8
ADJUSTMENT = "00" + "EF56" * 8
ISSUED = dt.date(2026, 11, 20)


def _state(*changes: Change) -> InvoiceState:
    state = UNCHANGED
    for i, change in enumerate(changes):
        after = apply(state, change, NOW + dt.timedelta(seconds=i))
        assert isinstance(after, InvoiceState), after
        state = after
    return state


def _document(state: InvoiceState) -> dict[str, Any]:
    """The lookup document of an authentic invoice in `state`, as lookups store and cache it."""
    return invoice_document(
        code=CODE,
        invoice=sample_invoice(issued=ISSUED),
        invoice_hash="h" * 64,
        authenticated_at=NOW,
        token="a-token",
        seller_signature="a.jws.signature",
        state=state,
    )


def test_no_matching_invoice_answers_only_not_valid() -> None:
    assert PublicAnswer.of(None).as_json() == {"valid": False}
    assert PublicAnswer(valid=False).as_json() == {"valid": False}


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ((), "authenticated"),
        ((Change("adjust", ADJUSTMENT),), "adjusted"),
        ((Change("explain", "N-1"),), "authenticated"),
        ((Change("adjust", ADJUSTMENT), Change("explain", "N-1")), "adjusted"),
    ],
)
def test_an_invoice_that_still_stands_is_valid(changes: tuple[Change, ...], status: str) -> None:
    answer = PublicAnswer.of(_document(_state(*changes)))

    assert answer.valid
    assert answer.as_json() == {
        "valid": True,
        "code": CODE,
        "issued_date": ISSUED.isoformat(),
        "status": status,
    }


@pytest.mark.parametrize(
    "changes",
    [
        (Change("replace", REPLACEMENT),),
        (Change("adjust", ADJUSTMENT), Change("replace", REPLACEMENT)),
        (Change("replace", REPLACEMENT), Change("explain", "N-1")),
    ],
)
def test_a_replaced_invoice_is_not_valid_and_names_its_replacement(
    changes: tuple[Change, ...],
) -> None:
    answer = PublicAnswer.of(_document(_state(*changes)))

    assert not answer.valid
    assert answer.as_json() == {
        "valid": False,
        "code": CODE,
        "issued_date": ISSUED.isoformat(),
        "status": "replaced",
        "replaced_by": REPLACEMENT,
    }


@pytest.mark.parametrize(
    "changes",
    [
        (Change("cancel", "N-1"),),
        (Change("adjust", ADJUSTMENT), Change("cancel", "N-1")),
        (Change("cancel", "N-1"), Change("explain", "N-2")),
    ],
)
def test_a_cancelled_invoice_is_not_valid_and_says_so_without_the_notice(
    changes: tuple[Change, ...],
) -> None:
    answer = PublicAnswer.of(_document(_state(*changes)))

    assert not answer.valid
    assert answer.as_json() == {
        "valid": False,
        "code": CODE,
        "issued_date": ISSUED.isoformat(),
        "status": "cancelled",
    }


def test_the_answer_never_carries_the_buyer_the_token_or_other_notices() -> None:
    state = _state(
        Change("adjust", ADJUSTMENT), Change("explain", "N-1"), Change("replace", REPLACEMENT)
    )
    document = _document(state)
    assert {"adjusted_by", "explained_by", "token"} <= set(document)

    answer = PublicAnswer.of(document).as_json()

    assert set(answer) == {"valid", "code", "issued_date", "status", "replaced_by"}
    assert "buyer" not in str(answer)


@pytest.mark.parametrize(
    ("typed", "readings"),
    [
        ("1100000", {"1100000"}),
        ("1.100.000", {"1100000"}),  # Vietnamese
        ("1 100 000", {"1100000"}),
        ("1\u00a0100\u00a0000", {"1100000"}),  # no-break spaces, as word processors put them
        ("1,100,000", {"1100000"}),  # English
        ("1.100.000,50", {"1100000.50"}),
        ("1,100,000.50", {"1100000.50"}),
        ("1100,5", {"1100.5"}),
        ("1.100", {"1100", "1.1"}),  # reads two ways: either may match
        ("1,10,000", set()),  # groups of three only
        ("1..100", set()),
        ("1.100.000.5", set()),
        ("-1100000", set()),
        ("\u0661\u0661\u0660\u0660", set()),  # Arabic-Indic digits: ASCII only
        ("", set()),
    ],
)
def test_amounts_are_read_as_vietnamese_and_english_write_them(
    typed: str, readings: set[str]
) -> None:
    assert amount_readings(typed) == {Decimal(reading) for reading in readings}


def test_an_amount_matches_when_any_reading_does() -> None:
    assert same_amount("1100", "1.100")
    assert same_amount("1.1", "1.100")
    assert not same_amount("1100", "1.101")
    assert not same_amount("1100", None)
