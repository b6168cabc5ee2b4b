"""Hypothesis strategies: valid invoices of varied shape, with amounts computed as the rules
read them (docs/invoice-rules.md), so every generated invoice passes every rule."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from hypothesis import strategies as st

from einvoice.invoice.rules import vat_percent
from einvoice.invoice.samples import sample_invoice

RATES = ["0%", "5%", "8%", "10%", "KCT", "KKKNT", "KHAC:3.50"]
_DONG = Decimal(1)


def _decimal_text(value: Decimal) -> str:
    return format(value.normalize(), "f")


@st.composite
def goods_line(draw: st.DrawFn, no: int, rate: str | None) -> dict[str, Any]:
    quantity = Decimal(draw(st.integers(min_value=1, max_value=10_000))) / (
        10 ** draw(st.integers(min_value=0, max_value=3))
    )
    price = Decimal(draw(st.integers(min_value=0, max_value=50_000_000)))
    gross = quantity * price
    line: dict[str, Any] = {
        "no": no,
        "nature": draw(st.sampled_from([1, 1, 1, 2, 5])),
        "name": draw(st.text(min_size=1, max_size=30).filter(str.strip)),
        "quantity": _decimal_text(quantity),
        "unit_price": _decimal_text(price),
    }
    discount = Decimal(0)
    if draw(st.booleans()):
        discount_rate = Decimal(draw(st.integers(min_value=0, max_value=50)))
        line["discount_rate"] = str(discount_rate)
        discount = gross * discount_rate / 100
    line["amount"] = str((gross - discount).quantize(_DONG, ROUND_HALF_UP))
    if rate is not None:
        line["vat_rate"] = rate
    return line


@st.composite
def invoices(draw: st.DrawFn) -> dict[str, Any]:
    """A valid VAT invoice (template 1) in VND with 1-30 lines over several rates."""
    count = draw(st.integers(min_value=1, max_value=30))
    rates = draw(st.lists(st.sampled_from(RATES), min_size=count, max_size=count))
    lines = [draw(goods_line(no=index + 1, rate=rate)) for index, rate in enumerate(rates)]
    if draw(st.booleans()):  # a note line somewhere among them
        lines.append({"no": count + 1, "nature": 4, "name": "Ghi chú"})
    # Within the accepted window at support.NOW (2025-06-20): at most 180 days back.
    issued = draw(st.dates(min_value=dt.date(2024, 12, 22), max_value=dt.date(2025, 6, 20)))
    invoice = sample_invoice(issued=issued, number=draw(st.integers(1, 99_999_999)))
    invoice["lines"] = lines
    invoice["totals"] = totals_from_lines(lines)
    return invoice


def totals_from_lines(
    lines: list[dict[str, Any]], unit: Decimal = _DONG, tax_delta: Decimal = Decimal(0)
) -> dict[str, Any]:
    """The totals of `lines` as the rules read them: sums by rate (a trade discount, nature 3,
    reduces its rate; notes, nature 4, count nowhere), each rate's tax rounded half up to `unit`,
    plus `tax_delta` units (0 for valid totals)."""
    taxable: dict[str, Decimal] = {}
    for line in lines:
        if line["nature"] == 4:
            continue
        amount = Decimal(line["amount"]) * (-1 if line["nature"] == 3 else 1)
        taxable[line["vat_rate"]] = taxable.get(line["vat_rate"], Decimal(0)) + amount
    by_rate = []
    for rate, amount in taxable.items():
        percent = vat_percent(rate)
        assert percent is not None
        tax = (amount * percent / 100).quantize(unit, ROUND_HALF_UP) + tax_delta * unit
        by_rate.append({"vat_rate": rate, "taxable_amount": str(amount), "tax_amount": str(tax)})
    before = sum((Decimal(s["taxable_amount"]) for s in by_rate), Decimal(0))
    tax_total = sum((Decimal(s["tax_amount"]) for s in by_rate), Decimal(0))
    return {
        "by_rate": by_rate,
        "amount_before_tax": str(before),
        "tax_amount": str(tax_total),
        "total_payable": str(before + tax_total),
    }
