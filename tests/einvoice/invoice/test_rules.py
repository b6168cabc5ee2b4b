"""Business rules, one by one, and that all failures are collected (pure)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from einvoice.invoice.samples import sample_invoice
from tests.einvoice.invoice.support import NOW, problems, valid


def codes(raw: Any, now: dt.datetime = NOW) -> list[str]:
    return [code for code, _ in problems(raw, now)]


# -- parties and header ---------------------------------------------------------------------------


def test_tax_codes_of_seller_and_buyer_are_checked() -> None:
    invoice = valid()
    invoice["seller"]["tax_code"] = "0100233487"
    invoice["buyer"]["tax_code"] = "12345"

    assert problems(invoice) == [
        ("TAX_CODE_CHECK_DIGIT", "/seller/tax_code"),
        ("TAX_CODE_FORMAT", "/buyer/tax_code"),
    ]


def test_a_retail_buyer_has_no_tax_code() -> None:
    invoice = valid()
    del invoice["buyer"]["tax_code"]

    assert problems(invoice) == []


@pytest.mark.parametrize(
    ("symbol", "code"),
    [
        ("A25TAA", "SYMBOL_FORMAT"),
        ("C2TAA", "SYMBOL_FORMAT"),
        ("C25QAA", "SYMBOL_FORMAT"),
        ("C25Taa", "SYMBOL_FORMAT"),
        ("C24TAA", "SYMBOL_YEAR_MISMATCH"),
        ("C25NAA", "SYMBOL_TEMPLATE_MISMATCH"),
    ],
)
def test_symbols(symbol: str, code: str) -> None:
    assert problems(valid(symbol=symbol)) == [(code, "/symbol")]


@pytest.mark.parametrize("symbol", ["C25TAA", "K25TYY", "C25MAB", "K25XAA", "C25GAA"])
def test_well_formed_symbols_pass(symbol: str) -> None:
    assert problems(valid(symbol=symbol)) == []


def test_a_delivery_note_has_a_note_symbol() -> None:
    invoice = valid(template="6", symbol="C25NAA")
    for line in invoice["lines"]:
        del line["vat_rate"]
    invoice["totals"] = {
        "amount_before_tax": invoice["totals"]["amount_before_tax"],
        "tax_amount": "0",
        "total_payable": invoice["totals"]["amount_before_tax"],
    }

    assert problems(invoice) == []
    assert codes(dict(invoice, symbol="C25TAA")) == ["SYMBOL_TEMPLATE_MISMATCH"]


def test_template_must_be_a_digit_from_1_to_9() -> None:
    assert ("TEMPLATE_INVALID", "/template") in problems(valid(template="0"))


def test_an_impossible_date_is_refused() -> None:
    assert ("INVALID_DATE", "/issued_date") in problems(valid(issued_date="2025-02-30"))


def test_an_issue_date_in_the_future_is_refused_beyond_the_clock_skew() -> None:
    # 16:56 UTC is 23:56 in Vietnam; 5 minutes of skew do not yet reach tomorrow.
    before_midnight = dt.datetime(2025, 6, 14, 16, 54, tzinfo=dt.UTC)
    near_midnight = dt.datetime(2025, 6, 14, 16, 56, tzinfo=dt.UTC)

    assert codes(valid(), now=before_midnight) == ["ISSUE_DATE_IN_FUTURE"]
    assert codes(valid(), now=near_midnight) == []


def test_an_issue_date_more_than_180_days_back_is_refused() -> None:
    # NOW is 2025-06-20 10:00 in Vietnam: the oldest date accepted is 2024-12-22.
    oldest = valid(issued_date="2024-12-22", symbol="C24TAA")
    too_old = valid(issued_date="2024-12-21", symbol="C24TAA")

    assert codes(oldest) == []
    assert problems(too_old) == [("ISSUE_DATE_TOO_OLD", "/issued_date")]


def test_a_foreign_currency_needs_a_positive_exchange_rate() -> None:
    invoice = valid(currency="USD")
    assert codes(invoice) == ["CURRENCY_EXCHANGE_RATE_REQUIRED"]
    assert codes(dict(invoice, exchange_rate="0")) == ["CURRENCY_EXCHANGE_RATE_REQUIRED"]
    assert codes(dict(invoice, exchange_rate="25450.5")) == []


def test_vnd_takes_no_exchange_rate_but_1() -> None:
    assert codes(valid(exchange_rate="1.00")) == []
    assert codes(valid(exchange_rate="2")) == ["CURRENCY_EXCHANGE_RATE_UNEXPECTED"]


# -- lines ----------------------------------------------------------------------------------------


def test_a_wrong_line_amount_is_reported_with_its_totals() -> None:
    invoice = valid()
    invoice["lines"][3]["amount"] = "1"

    assert problems(invoice) == [
        ("LINE_AMOUNT_MISMATCH", "/lines/3/amount"),
        ("RATE_TAXABLE_MISMATCH", "/totals/by_rate/1/taxable_amount"),
    ]


def test_a_line_amount_within_one_dong_of_exact_passes() -> None:
    invoice = _single_line("3", "333.333", "1000")  # exact 999.999

    assert problems(invoice) == []
    assert codes(_single_line("3", "333.333", "998")) == ["LINE_AMOUNT_MISMATCH"]


def test_discounts_by_rate_and_by_amount() -> None:
    assert problems(_single_line("10", "1000", "9000", discount_rate="10")) == []
    assert problems(_single_line("10", "1000", "9000", discount_amount="1000")) == []
    both = _single_line("10", "1000", "9000", discount_rate="10", discount_amount="1000")
    assert problems(both) == []
    wrong = _single_line("10", "1000", "9000", discount_rate="10", discount_amount="2000")
    assert codes(wrong) == ["DISCOUNT_MISMATCH", "LINE_AMOUNT_MISMATCH"]


def test_vnd_amounts_are_whole_dong_but_prices_need_not_be() -> None:
    assert problems(_single_line("3", "0.5", "2")) == []  # 1.5 within a dong of 2
    fractional = _single_line("3", "0.5", "1.5")
    assert ("VND_NOT_WHOLE", "/lines/0/amount") in problems(fractional)


def test_negative_values_only_on_adjusting_invoices() -> None:
    negative = _single_line("-2", "1000", "-2000")
    assert ("NEGATIVE_AMOUNT", "/lines/0/quantity") in problems(negative)

    negative["original"] = {
        "relation": "adjusts",
        "template": "1",
        "symbol": "C25TAA",
        "number": 5,
        "issued_date": "2025-06-01",
    }
    assert problems(negative) == []


def test_line_numbers_must_increase() -> None:
    invoice = valid()
    invoice["lines"][4]["no"] = 4

    assert problems(invoice) == [("LINE_NUMBER_SEQUENCE", "/lines/4/no")]


def test_goods_lines_need_quantity_price_amount_and_on_vat_invoices_a_rate() -> None:
    invoice = valid()
    for name in ("quantity", "unit_price", "vat_rate"):
        del invoice["lines"][0][name]

    found = problems(invoice)

    assert ("LINE_FIELD_REQUIRED", "/lines/0/quantity") in found
    assert ("LINE_FIELD_REQUIRED", "/lines/0/unit_price") in found
    assert ("LINE_FIELD_REQUIRED", "/lines/0/vat_rate") in found


def test_a_note_line_carries_no_amounts() -> None:
    invoice = valid()
    invoice["lines"].append({"no": 11, "nature": 4, "name": "Hàng đã giao đủ"})
    assert problems(invoice) == []

    invoice["lines"][-1]["amount"] = "0"
    assert problems(invoice) == [("NOTE_LINE_HAS_AMOUNT", "/lines/10/amount")]


def test_a_trade_discount_line_reduces_its_rate_and_the_totals() -> None:
    invoice = _single_line("10", "1000", "10000")
    invoice["lines"].append(
        {"no": 2, "nature": 3, "name": "Chiết khấu thương mại", "amount": "1000", "vat_rate": "10%"}
    )
    invoice["totals"] = {
        "by_rate": [{"vat_rate": "10%", "taxable_amount": "9000", "tax_amount": "900"}],
        "amount_before_tax": "9000",
        "tax_amount": "900",
        "discount_amount": "1000",
        "total_payable": "9900",
    }

    assert problems(invoice) == []
    invoice["totals"]["discount_amount"] = "500"
    assert codes(invoice) == ["TOTAL_DISCOUNT_MISMATCH"]


@pytest.mark.parametrize("rate", ["0%", "5%", "8%", "10%", "KCT", "KKKNT", "KHAC:5.26"])
def test_every_allowed_vat_rate(rate: str) -> None:
    percent = {"KCT": "0", "KKKNT": "0"}.get(rate, rate.removeprefix("KHAC:").rstrip("%"))
    invoice = _single_line("1", "100000", "100000", rate=rate)
    tax = Decimal(100000) * Decimal(percent) / 100
    invoice["totals"]["by_rate"][0]["tax_amount"] = str(tax.quantize(Decimal(1)))
    invoice["totals"]["tax_amount"] = str(tax.quantize(Decimal(1)))
    invoice["totals"]["total_payable"] = str((100000 + tax).quantize(Decimal(1)))

    assert problems(invoice) == []


@pytest.mark.parametrize("rate", ["7%", "10", "KHAC:5", "KHAC:5.261", "kct", "0.1"])
def test_other_vat_rates_are_refused(rate: str) -> None:
    invoice = _single_line("1", "100000", "100000", rate=rate)

    assert ("VAT_RATE_INVALID", "/lines/0/vat_rate") in problems(invoice)


def test_a_sales_invoice_carries_no_vat_rate() -> None:
    invoice = _single_line("1", "100000", "100000", template="2")

    found = problems(invoice)

    assert ("VAT_RATE_NOT_ALLOWED", "/lines/0/vat_rate") in found
    assert ("RATE_SUMMARY_UNEXPECTED", "/totals/by_rate/0/vat_rate") in found


# -- summaries and totals --------------------------------------------------------------------------


def test_rate_summaries_missing_unexpected_and_duplicated() -> None:
    invoice = valid()
    by_rate = invoice["totals"]["by_rate"]
    missing = dict(invoice, totals=dict(invoice["totals"], by_rate=by_rate[:1]))
    assert ("RATE_SUMMARY_MISSING", "/totals/by_rate") in problems(missing)

    extra = {"vat_rate": "5%", "taxable_amount": "0", "tax_amount": "0"}
    unexpected = dict(invoice, totals=dict(invoice["totals"], by_rate=[*by_rate, extra]))
    assert ("RATE_SUMMARY_UNEXPECTED", "/totals/by_rate/2/vat_rate") in problems(unexpected)

    twice = dict(invoice, totals=dict(invoice["totals"], by_rate=[*by_rate, by_rate[0]]))
    assert ("RATE_SUMMARY_DUPLICATE", "/totals/by_rate/2/vat_rate") in problems(twice)


def test_a_rates_tax_within_the_rounding_tolerance_passes() -> None:
    # The sample has four 8% lines: tolerance (4 + 1) / 2 = 2.5 dong around the exact tax.
    invoice = valid()
    summary = next(s for s in invoice["totals"]["by_rate"] if s["vat_rate"] == "8%")
    exact = Decimal(summary["taxable_amount"]) * Decimal("0.08")
    for tax, ok in ((exact + 1, True), (exact - 1, True), (exact + 4, False)):
        summary["tax_amount"] = str(tax.quantize(Decimal(1)))
        total_tax = sum(Decimal(s["tax_amount"]) for s in invoice["totals"]["by_rate"])
        invoice["totals"]["tax_amount"] = str(total_tax)
        before = Decimal(invoice["totals"]["amount_before_tax"])
        invoice["totals"]["total_payable"] = str(before + total_tax)
        assert (codes(invoice) == []) == ok, (tax, codes(invoice))


def test_a_zero_rate_has_no_tax_at_all() -> None:
    invoice = _single_line("1", "100000", "100000", rate="KCT")
    invoice["totals"]["by_rate"][0]["tax_amount"] = "1"
    invoice["totals"]["tax_amount"] = "1"
    invoice["totals"]["total_payable"] = "100001"

    assert codes(invoice) == ["RATE_TAX_MISMATCH"]


@pytest.mark.parametrize(
    ("field", "code"),
    [
        ("amount_before_tax", "TOTAL_BEFORE_TAX_MISMATCH"),
        ("tax_amount", "TOTAL_TAX_MISMATCH"),
        ("total_payable", "TOTAL_PAYABLE_MISMATCH"),
    ],
)
def test_totals_must_add_up(field: str, code: str) -> None:
    invoice = valid()
    invoice["totals"][field] = str(Decimal(invoice["totals"][field]) + 1)

    assert (code, f"/totals/{field}") in problems(invoice)


def test_all_failures_are_collected() -> None:
    invoice = valid(symbol="C24TAA")
    invoice["seller"]["tax_code"] = "0100233487"
    invoice["lines"][0]["amount"] = "1"
    invoice["lines"][1]["vat_rate"] = "7%"
    invoice["totals"]["total_payable"] = "1"

    found = set(codes(invoice))

    assert {
        "SYMBOL_YEAR_MISMATCH",
        "TAX_CODE_CHECK_DIGIT",
        "LINE_AMOUNT_MISMATCH",
        "VAT_RATE_INVALID",
        "TOTAL_PAYABLE_MISMATCH",
    } <= found


# -- the original invoice -------------------------------------------------------------------------


def _original(**changes: Any) -> dict[str, Any]:
    original = {
        "relation": "replaces",
        "template": "1",
        "symbol": "C25TAA",
        "number": 9,
        "issued_date": "2025-06-01",
    }
    return {**original, **changes}


def test_a_well_formed_reference_passes() -> None:
    assert problems(valid(original=_original())) == []


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        ({"symbol": "X25TAA"}, "SYMBOL_FORMAT", "/original/symbol"),
        ({"template": "0"}, "TEMPLATE_INVALID", "/original/template"),
        ({"issued_date": "2025-13-01"}, "INVALID_DATE", "/original/issued_date"),
        ({"issued_date": "2025-06-16"}, "RELATED_DATE_AFTER_INVOICE", "/original/issued_date"),
        ({"number": 1}, "RELATED_SELF_REFERENCE", "/original"),
    ],
)
def test_malformed_references(changes: dict[str, Any], code: str, field: str) -> None:
    assert problems(valid(original=_original(**changes))) == [(code, field)]


# -- properties -----------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    lines=st.integers(min_value=1, max_value=60),
    number=st.integers(min_value=1, max_value=99_999_999),
    day=st.dates(min_value=dt.date(2024, 12, 22), max_value=dt.date(2025, 6, 20)),
)
def test_generated_invoices_with_computed_amounts_are_valid(
    lines: int, number: int, day: dt.date
) -> None:
    assert problems(sample_invoice(lines=lines, number=number, issued=day)) == []


@settings(max_examples=60, deadline=None)
@given(
    line=st.integers(min_value=0, max_value=9),
    delta=st.integers(min_value=2, max_value=10**9),
)
def test_any_line_amount_off_by_more_than_a_dong_is_caught(line: int, delta: int) -> None:
    invoice = valid()
    invoice["lines"][line]["amount"] = str(Decimal(invoice["lines"][line]["amount"]) + delta)

    assert ("LINE_AMOUNT_MISMATCH", f"/lines/{line}/amount") in problems(invoice)


def _single_line(
    quantity: str,
    price: str,
    amount: str,
    *,
    rate: str = "10%",
    template: str = "1",
    discount_rate: str | None = None,
    discount_amount: str | None = None,
) -> dict[str, Any]:
    """An invoice of one goods line whose summaries and totals follow from its amount."""
    line: dict[str, Any] = {
        "no": 1,
        "nature": 1,
        "name": "Hàng hoá",
        "quantity": quantity,
        "unit_price": price,
        "amount": amount,
        "vat_rate": rate,
    }
    if discount_rate is not None:
        line["discount_rate"] = discount_rate
    if discount_amount is not None:
        line["discount_amount"] = discount_amount
    percent = {"10%": Decimal("0.1")}.get(rate, Decimal(0))
    tax = (Decimal(amount) * percent).quantize(Decimal(1)) if "." not in amount else Decimal(0)
    return valid(
        template=template,
        lines=[line],
        totals={
            "by_rate": [{"vat_rate": rate, "taxable_amount": amount, "tax_amount": str(tax)}],
            "amount_before_tax": amount,
            "tax_amount": str(tax),
            "total_payable": str(Decimal(amount) + tax),
        },
    )
