"""The public check's answer as pure code (lookup/public_check.py): an invoice that still stands
is valid, a replaced or cancelled one is not and says why, and the answer never carries more than
the code, issue date, status and replacement (docs/lifecycle.md)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from einvoice.invoice.samples import sample_invoice
from einvoice.lifecycle import UNCHANGED, Change, InvoiceState, apply
from lookup.documents import invoice_document
from lookup.public_check import PublicAnswer

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
