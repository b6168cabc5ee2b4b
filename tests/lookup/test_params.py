"""The lookups' input shapes (pure), and their agreement with the invoice rules: a lookup never
refuses a key an invoice can have."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from einvoice.errors import InvalidRequest
from einvoice.invoice import rules
from lookup.params import BusinessKey, business_key, check_code, check_tax_code, key_problems


def _codes(error: InvalidRequest) -> list[tuple[str, str]]:
    return [(d.code, str(d.field)) for d in error.details]


@pytest.mark.parametrize(
    "code",
    ["", "00abc", "00" + "f" * 32, "00" + "F" * 31, "00" + "F" * 33, "\x00" * 34, "\u0660" * 34],
)
def test_what_is_not_a_code_is_an_invalid_field(code: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        check_code(code)

    assert _codes(raised.value) == [("INVALID_FIELD", "/code")]


@pytest.mark.parametrize(
    ("tax_code", "code"),
    [
        ("", "TAX_CODE_FORMAT"),
        ("0100233488\x00", "TAX_CODE_FORMAT"),
        ("٠١٠٠٢٣٣٤٨٨", "TAX_CODE_FORMAT"),  # Arabic-Indic digits
        ("0100233489", "TAX_CODE_CHECK_DIGIT"),
        ("0100233488-000", "TAX_CODE_FORMAT"),
    ],
)
def test_what_is_not_a_tax_code_is_refused_with_the_rules_code(tax_code: str, code: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        check_tax_code(tax_code)

    assert _codes(raised.value) == [(code, "/tax_code")]


def test_a_valid_key_passes_and_names_its_audit_subject() -> None:
    key = business_key("0100233488-001", "1", "C25TAA", 99_999_999)

    assert key == BusinessKey("0100233488-001", "1", "C25TAA", 99_999_999)
    assert key.subject() == "0100233488-001/1/C25TAA/99999999"


@given(st.text(min_size=6, max_size=6, alphabet=st.sampled_from("CKXY0123456789TDLMNBGHAZ a")))
def test_the_symbol_check_is_the_invoice_rules(symbol: str) -> None:
    problems, _ = key_problems("0100233488", "1", symbol, 1)

    assert (problems == []) == (rules._SYMBOL.fullmatch(symbol) is not None)


@given(st.text(max_size=3))
def test_the_template_check_is_the_invoice_rules(template: str) -> None:
    problems, _ = key_problems("0100233488", template, "C25TAA", 1)

    # The rules take one character from 1 to 9 (einvoice/invoice/rules.py's _header).
    assert (problems == []) == (len(template) == 1 and "1" <= template <= "9")


@given(st.text(max_size=10) | st.integers().map(str))
def test_any_number_text_is_a_number_or_out_of_range(text: str) -> None:
    problems, number = key_problems("0100233488", "1", "C25TAA", text)

    valid = text.isascii() and text.isdigit() and 1 <= int(text) <= 99_999_999 and len(text) <= 8
    assert (problems == []) == valid
    assert [(p.code, p.field) for p in problems] == ([] if valid else [("OUT_OF_RANGE", "/number")])
    if valid:
        assert number == int(text)
