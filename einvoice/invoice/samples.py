"""Valid sample invoices, built the way accounting software builds them: for the demo, the load
tests, the benchmarks and the tests. Amounts are computed, so every sample passes every rule."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

# Real tax codes that pass the check digit (docs/invoice-rules.md).
SELLER_TAX_CODE = "0100233488"
BUYER_TAX_CODE = "0314409058"

_ITEMS = [
    ("Giấy in A4 Double A 80gsm", "ram", "78500", "10%"),
    ("Mực in HP 107A chính hãng", "hộp", "1250000", "10%"),
    ("Dịch vụ bảo trì máy in", "lần", "450000", "8%"),
    ("Bút bi Thiên Long TL-027", "hộp", "55000", "8%"),
    ("Bìa hồ sơ nhựa A4", "cái", "12500", "10%"),
]


def sample_invoice(
    *,
    lines: int = 10,
    number: int = 1,
    issued: dt.date | None = None,
    seller_tax_code: str = SELLER_TAX_CODE,
    buyer_tax_code: str | None = BUYER_TAX_CODE,
    symbol_series: str = "TAA",
) -> dict[str, Any]:
    """A valid VAT invoice (template 1) in VND with `lines` goods lines at 8% and 10%."""
    issued = issued or dt.date(2025, 6, 15)
    invoice_lines = []
    taxable: dict[str, Decimal] = {}
    for index in range(lines):
        name, unit, price, rate = _ITEMS[index % len(_ITEMS)]
        quantity = Decimal(index % 7 + 1)
        amount = quantity * Decimal(price)
        taxable[rate] = taxable.get(rate, Decimal(0)) + amount
        invoice_lines.append(
            {
                "no": index + 1,
                "nature": 1,
                "code": f"SP{index + 1:04d}",
                "name": name,
                "unit": unit,
                "quantity": str(quantity),
                "unit_price": price,
                "amount": str(amount),
                "vat_rate": rate,
            }
        )
    by_rate = []
    for rate, amount in sorted(taxable.items()):
        tax = (amount * Decimal(rate.rstrip("%")) / 100).quantize(Decimal(1), ROUND_HALF_UP)
        by_rate.append({"vat_rate": rate, "taxable_amount": str(amount), "tax_amount": str(tax)})
    before_tax = sum((Decimal(r["taxable_amount"]) for r in by_rate), Decimal(0))
    tax_total = sum((Decimal(r["tax_amount"]) for r in by_rate), Decimal(0))
    buyer: dict[str, Any] = {
        "name": "Công ty Cổ phần Thương mại Sài Gòn",
        "address": "12 Nguyễn Huệ, Phường Bến Nghé, Quận 1, TP. Hồ Chí Minh",
    }
    if buyer_tax_code is not None:
        buyer["tax_code"] = buyer_tax_code
    return {
        "template": "1",
        "symbol": f"C{issued.year % 100:02d}{symbol_series}",
        "number": number,
        "issued_date": issued.isoformat(),
        "currency": "VND",
        "payment_method": "TM/CK",
        "seller": {
            "tax_code": seller_tax_code,
            "name": "Công ty TNHH Văn phòng phẩm Hà Nội",
            "address": "25 Tràng Tiền, Phường Tràng Tiền, Quận Hoàn Kiếm, Hà Nội",
            "phone": "024 3825 1234",
        },
        "buyer": buyer,
        "lines": invoice_lines,
        "totals": {
            "by_rate": by_rate,
            "amount_before_tax": str(before_tax),
            "tax_amount": str(tax_total),
            "total_payable": str(before_tax + tax_total),
        },
    }
