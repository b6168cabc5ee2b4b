"""Structure: required fields, JSON types, lengths and formats, every problem with its pointer."""

from __future__ import annotations

from typing import Any

import pytest

from tests.einvoice.invoice.support import problems, valid


def test_the_sample_invoice_is_valid() -> None:
    assert problems(valid()) == []


def test_a_missing_required_field_names_the_field() -> None:
    invoice = valid()
    del invoice["seller"]["name"]

    assert problems(invoice) == [("FIELD_REQUIRED", "/seller/name")]


def test_every_structural_problem_is_reported_not_just_the_first() -> None:
    invoice = valid()
    del invoice["symbol"]
    invoice["seller"]["name"] = "x" * 401
    invoice["lines"][2]["amount"] = 100
    invoice["unexpected"] = True

    assert sorted(problems(invoice)) == sorted(
        [
            ("FIELD_REQUIRED", "/symbol"),
            ("TOO_LONG", "/seller/name"),
            ("DECIMAL_MUST_BE_STRING", "/lines/2/amount"),
            ("UNKNOWN_FIELD", "/unexpected"),
        ]
    )


@pytest.mark.parametrize("number", [1500.5, 1500, 1e3])
def test_money_as_a_json_number_is_refused_with_its_own_code(number: float) -> None:
    invoice = valid()
    invoice["totals"]["total_payable"] = number

    assert problems(invoice) == [("DECIMAL_MUST_BE_STRING", "/totals/total_payable")]


@pytest.mark.parametrize(
    "text",
    ["1,5", "1.5.0", "1e5", "NaN", "Infinity", " 15", "15 ", "+15", "1_000", "", ".5", "5.",
     "1." + "0" * 7, "1" * 22, "1" * 16 + "." + "1" * 6],
)  # fmt: skip
def test_malformed_decimals_are_refused(text: str) -> None:
    invoice = valid()
    invoice["lines"][0]["quantity"] = text

    assert problems(invoice) == [("INVALID_DECIMAL", "/lines/0/quantity")]


@pytest.mark.parametrize("text", ["1" * 21, "1" * 15 + "." + "1" * 6, "0.000001", "-5"])
def test_decimals_of_up_to_21_digits_and_6_decimals_have_the_right_shape(text: str) -> None:
    invoice = valid()
    invoice["lines"][0]["discount_rate"] = text

    assert ("INVALID_DECIMAL", "/lines/0/discount_rate") not in problems(invoice)


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("number", "1", "INVALID_TYPE"),
        ("number", 1.0, "INVALID_TYPE"),
        ("number", True, "INVALID_TYPE"),
        ("number", 0, "OUT_OF_RANGE"),
        ("number", 100_000_000, "OUT_OF_RANGE"),
        ("template", "", "TOO_SHORT"),
        ("template", "12", "TOO_LONG"),
        ("template", 1, "INVALID_TYPE"),
        ("issued_date", "15/06/2025", "INVALID_FORMAT"),
        ("currency", "vnd", "INVALID_FORMAT"),
        ("lines", [], "TOO_SHORT"),
        ("lines", {}, "INVALID_TYPE"),
        ("seller", "0100233488", "INVALID_TYPE"),
    ],
)
def test_wrong_types_and_ranges(field: str, value: Any, code: str) -> None:
    assert problems(valid(**{field: value})) == [(code, f"/{field}")]


def test_too_many_lines_is_refused() -> None:
    invoice = valid()
    invoice["lines"] = [dict(invoice["lines"][0], no=i + 1) for i in range(1001)]

    assert ("TOO_MANY_LINES", "/lines") in problems(invoice)


def test_the_original_invoice_needs_a_known_relation() -> None:
    original = {
        "relation": "replace",  # the old value: now `replaces` or `adjusts`
        "template": "1",
        "symbol": "C25TAA",
        "number": 7,
        "issued_date": "2025-06-01",
    }

    assert problems(valid(original=original)) == [("INVALID_VALUE", "/original/relation")]


def test_the_former_names_of_the_original_invoice_are_unknown() -> None:
    """Issue #17 named it `original` {relation: replaces | adjusts}; `related` {nature} is gone."""
    related = {
        "nature": "replace",
        "template": "1",
        "symbol": "C25TAA",
        "number": 7,
        "issued_date": "2025-06-01",
    }

    assert problems(valid(related=related)) == [("UNKNOWN_FIELD", "/related")]


def test_pointers_escape_slashes_and_tildes() -> None:
    invoice = valid()
    invoice["a/b~c"] = 1

    assert problems(invoice) == [("UNKNOWN_FIELD", "/a~1b~0c")]


def test_a_submission_that_is_not_an_object_is_refused() -> None:
    assert problems([1, 2, 3]) == [("INVALID_TYPE", "")]
