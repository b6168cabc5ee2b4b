"""Vietnamese business rules over a structurally valid invoice; every failure is collected.

The readings of the national format and the tolerances are documented in docs/invoice-rules.md;
the constants below are the ones that document names. Pure code: the clock is passed in. This
runs for every invoice, so the line loop avoids work that valid invoices do not need (messages are
built only on failure; decimals are parsed once).
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from einvoice.error_codes import ErrorCode
from einvoice.errors import ErrorDetail
from einvoice.invoice.model import Invoice, Line, Original
from einvoice.invoice.taxcode import tax_code_error
from einvoice.timezone import VIETNAM

# An invoice dated "tomorrow" is accepted when tomorrow begins in Vietnam within this much of now,
# so a seller whose clock runs a little ahead is not refused around midnight.
CLOCK_SKEW = dt.timedelta(minutes=5)
# The oldest issue date accepted, counted back from that same (skewed) today: late enough for a
# quarterly filer's invoices from the first day of the quarter (due by the last day of the next
# month, up to 121 days) with margin for a late one, and early enough that every accepted invoice
# still has more than nine and a half of its ten retention years ahead (retention runs from the
# issue date: docs/invoice-rules.md). The compiled core keeps the same window (core/src/lib.rs).
MAX_BACKDATE = dt.timedelta(days=180)

_SYMBOL = re.compile(r"([CK])([0-9]{2})([TDLMNBGHX])([A-Z]{2})")
_KHAC = re.compile(r"KHAC:([0-9]{1,2}\.[0-9]{2})")
_FIXED_RATES = {
    "0%": Decimal(0),
    "5%": Decimal(5),
    "8%": Decimal(8),
    "10%": Decimal(10),
    "KCT": Decimal(0),  # not subject to VAT
    "KKKNT": Decimal(0),  # not declared
}
# Templates whose goods lines must carry a VAT rate, and those that must not (sales invoices).
VAT_TEMPLATES = frozenset({"1", "8"})
NO_VAT_TEMPLATES = frozenset({"2", "9"})
# Delivery notes (template 6) are the only documents with type letters N and B.
_NOTE_TYPES = frozenset({"N", "B"})
_NOTE_FIELDS = ("quantity", "unit_price", "discount_rate", "discount_amount", "amount", "vat_rate")
_HUNDRED = Decimal(100)
_ZERO = Decimal(0)
_ONE_DONG = Decimal(1)
_ONE_CENT = Decimal("0.01")


def vat_percent(rate: str) -> Decimal | None:
    """The rate in percent, or None when the text is not an allowed VAT rate."""
    fixed = _FIXED_RATES.get(rate)
    if fixed is not None:
        return fixed
    match = _KHAC.fullmatch(rate)
    return Decimal(match.group(1)) if match else None


def parse_date(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def check_invoice(invoice: Invoice, now: dt.datetime) -> list[ErrorDetail]:
    """Every business-rule failure of `invoice`, in document order; empty when it is valid.

    Pointers are relative to the invoice object.
    """
    return _Checker(invoice, now).run()


class _Checker:
    def __init__(self, invoice: Invoice, now: dt.datetime) -> None:
        self.invoice = invoice
        self.now = now
        self.errors: list[ErrorDetail] = []
        self.vnd = invoice.get("currency", "VND") == "VND"
        # Amounts in VND are whole dong; other currencies are compared to the cent.
        self.unit = _ONE_DONG if self.vnd else _ONE_CENT
        original = invoice.get("original")
        self.adjusting = original is not None and original["relation"] == "adjusts"

    def fail(self, code: ErrorCode, field: str, message: str) -> None:
        self.errors.append(ErrorDetail(code, message, field))

    def run(self) -> list[ErrorDetail]:
        issued = self._header()
        self._parties()
        original = self.invoice.get("original")
        if original is not None:
            self._original(original, issued)
        self._amounts()
        return self.errors

    # -- header and parties ---------------------------------------------------------------------

    def _header(self) -> dt.date | None:
        invoice = self.invoice
        template = invoice["template"]
        template_ok = "1" <= template <= "9"
        if not template_ok:
            self.fail(
                ErrorCode.TEMPLATE_INVALID, "/template", "the template is one digit from 1 to 9"
            )
        issued = parse_date(invoice["issued_date"])
        if issued is None:
            self.fail(ErrorCode.INVALID_DATE, "/issued_date", "not a calendar date")
        else:
            today_in_vietnam = (self.now + CLOCK_SKEW).astimezone(VIETNAM).date()
            if issued > today_in_vietnam:
                self.fail(
                    ErrorCode.ISSUE_DATE_IN_FUTURE,
                    "/issued_date",
                    f"issued {issued}, after today in Vietnam ({today_in_vietnam})",
                )
            elif issued < today_in_vietnam - MAX_BACKDATE:
                self.fail(
                    ErrorCode.ISSUE_DATE_TOO_OLD,
                    "/issued_date",
                    f"issued {issued}, more than {MAX_BACKDATE.days} days before today in "
                    f"Vietnam ({today_in_vietnam})",
                )
        symbol = _SYMBOL.fullmatch(invoice["symbol"])
        if symbol is None:
            self.fail(
                ErrorCode.SYMBOL_FORMAT,
                "/symbol",
                "expected C or K, a 2-digit year, a type letter (T D L M N B G H X), 2 letters",
            )
        else:
            if issued is not None and int(symbol.group(2)) != issued.year % 100:
                self.fail(
                    ErrorCode.SYMBOL_YEAR_MISMATCH,
                    "/symbol",
                    f"the symbol's year {symbol.group(2)} differs from the issue year "
                    f"{issued.year}",
                )
            if template_ok and (symbol.group(3) in _NOTE_TYPES) != (template == "6"):
                self.fail(
                    ErrorCode.SYMBOL_TEMPLATE_MISMATCH,
                    "/symbol",
                    "type letters N and B belong to delivery notes (template 6), and only they",
                )
        exchange_rate = invoice.get("exchange_rate")
        if not self.vnd:
            if exchange_rate is None or exchange_rate[0] == "-" or Decimal(exchange_rate) == 0:
                self.fail(
                    ErrorCode.CURRENCY_EXCHANGE_RATE_REQUIRED,
                    "/exchange_rate",
                    f"an invoice in {invoice.get('currency')} needs a positive exchange rate",
                )
        elif exchange_rate is not None and Decimal(exchange_rate) != 1:
            self.fail(
                ErrorCode.CURRENCY_EXCHANGE_RATE_UNEXPECTED,
                "/exchange_rate",
                "an invoice in VND has no exchange rate (or 1)",
            )
        return issued

    def _parties(self) -> None:
        problem = tax_code_error(self.invoice["seller"]["tax_code"])
        if problem:
            self.fail(problem, "/seller/tax_code", "the seller's tax code is not valid")
        buyer_code = self.invoice.get("buyer", {}).get("tax_code")
        if buyer_code is not None:
            problem = tax_code_error(buyer_code)
            if problem:
                self.fail(problem, "/buyer/tax_code", "the buyer's tax code is not valid")

    def _original(self, original: Original, issued: dt.date | None) -> None:
        if not "1" <= original["template"] <= "9":
            self.fail(
                ErrorCode.TEMPLATE_INVALID, "/original/template", "the template is one digit 1-9"
            )
        if _SYMBOL.fullmatch(original["symbol"]) is None:
            self.fail(
                ErrorCode.SYMBOL_FORMAT, "/original/symbol", "not a well-formed invoice symbol"
            )
        original_date = parse_date(original["issued_date"])
        if original_date is None:
            self.fail(ErrorCode.INVALID_DATE, "/original/issued_date", "not a calendar date")
        elif issued is not None and original_date > issued:
            self.fail(
                ErrorCode.RELATED_DATE_AFTER_INVOICE,
                "/original/issued_date",
                "the invoice replaced or adjusted must be dated on or before this one",
            )
        invoice = self.invoice
        same = (original["template"], original["symbol"], original["number"])
        if same == (invoice["template"], invoice["symbol"], invoice["number"]):
            self.fail(
                ErrorCode.RELATED_SELF_REFERENCE, "/original", "an invoice cannot refer to itself"
            )

    # -- amounts --------------------------------------------------------------------------------

    def _value(self, value: str | None, field: str, *, money: bool) -> Decimal | None:
        """A decimal field's value after the checks every one shares; None when absent."""
        if value is None:
            return None
        if value[0] == "-" and not self.adjusting:
            self.fail(
                ErrorCode.NEGATIVE_AMOUNT, field, "negative values only on an adjusting invoice"
            )
        number = Decimal(value)
        if money and self.vnd and "." in value and number != number.to_integral_value():
            self.fail(ErrorCode.VND_NOT_WHOLE, field, "amounts in VND are whole dong")
        return number

    def _amounts(self) -> None:
        template = self.invoice["template"]
        rated = template not in NO_VAT_TEMPLATES
        # Sums by VAT rate (as written), and of lines without a rate: Decimal addition is exact.
        taxable_by_rate: dict[str, Decimal] = {}
        lines_by_rate: dict[str, int] = {}
        unrated_total = _ZERO
        discount_total = _ZERO
        previous_no = 0
        for index, line in enumerate(self.invoice["lines"]):
            if line["no"] <= previous_no:
                self.fail(
                    ErrorCode.LINE_NUMBER_SEQUENCE, f"/lines/{index}/no", "numbers must increase"
                )
            previous_no = line["no"]
            nature = line["nature"]
            if nature == 4:
                for name in _NOTE_FIELDS:
                    if line.get(name) is not None:
                        self.fail(
                            ErrorCode.NOTE_LINE_HAS_AMOUNT,
                            f"/lines/{index}/{name}",
                            "a note has none",
                        )
                continue
            rate = line.get("vat_rate")
            if rate is None:
                if template in VAT_TEMPLATES:
                    self.fail(
                        ErrorCode.LINE_FIELD_REQUIRED,
                        f"/lines/{index}/vat_rate",
                        "this line needs a rate",
                    )
            elif not rated:
                self.fail(
                    ErrorCode.VAT_RATE_NOT_ALLOWED,
                    f"/lines/{index}/vat_rate",
                    f"template {template} is a sales invoice and carries no VAT rate",
                )
                rate = None
            elif rate not in _FIXED_RATES and vat_percent(rate) is None:
                self.fail(
                    ErrorCode.VAT_RATE_INVALID,
                    f"/lines/{index}/vat_rate",
                    "expected 0%, 5%, 8%, 10%, KCT, KKKNT or KHAC:x.xx",
                )
                rate = None
            amount = self._line_amount(line, index, nature)
            if amount is None:
                continue
            if nature == 3:  # a trade discount reduces the amount of its rate
                discount_total += amount
                amount = -amount
            if rate is None:
                unrated_total += amount
            else:
                taxable_by_rate[rate] = taxable_by_rate.get(rate, _ZERO) + amount
                lines_by_rate[rate] = lines_by_rate.get(rate, 0) + 1
        self._rate_summaries(taxable_by_rate, lines_by_rate, unrated_total, discount_total)

    def _line_amount(self, line: Line, index: int, nature: int) -> Decimal | None:
        """The stated amount of a goods, promotion, discount or special line, after its checks."""
        # Fast path for the common line: quantity, price and amount present and not negative,
        # no discount, a whole amount in VND, and the amount within a unit of quantity x price.
        # Anything else, or any doubt, takes the full path below, which explains each failure.
        amount_text = line.get("amount")
        quantity_text = line.get("quantity")
        price_text = line.get("unit_price")
        if (
            amount_text is not None
            and quantity_text is not None
            and price_text is not None
            and amount_text[0] != "-"
            and quantity_text[0] != "-"
            and price_text[0] != "-"
            and line.get("discount_rate") is None
            and line.get("discount_amount") is None
            and not (self.vnd and "." in amount_text)
        ):
            amount = Decimal(amount_text)
            if abs(amount - Decimal(quantity_text) * Decimal(price_text)) <= self.unit:
                return amount
        return self._checked_line_amount(line, f"/lines/{index}", nature)

    def _checked_line_amount(self, line: Line, at: str, nature: int) -> Decimal | None:
        amount = self._value(line.get("amount"), f"{at}/amount", money=True)
        quantity = self._value(line.get("quantity"), f"{at}/quantity", money=False)
        price = self._value(line.get("unit_price"), f"{at}/unit_price", money=False)
        if amount is None:
            self.fail(ErrorCode.LINE_FIELD_REQUIRED, f"{at}/amount", "this line needs an amount")
        if quantity is None or price is None:
            if nature != 3:  # a trade-discount line may state only its amount
                for value, name in ((quantity, "quantity"), (price, "unit_price")):
                    if value is None:
                        self.fail(
                            ErrorCode.LINE_FIELD_REQUIRED, f"{at}/{name}", f"this line needs {name}"
                        )
            return amount
        expected = quantity * price
        discount_rate_text = line.get("discount_rate")
        discount_text = line.get("discount_amount")
        if discount_rate_text is not None or discount_text is not None:
            expected -= self._discount(expected, discount_rate_text, discount_text, at)
        if amount is not None and abs(amount - expected) > self.unit:
            self.fail(
                ErrorCode.LINE_AMOUNT_MISMATCH,
                f"{at}/amount",
                f"{amount} differs from quantity x unit price - discount = {expected}",
            )
        return amount

    def _discount(
        self, gross: Decimal, rate_text: str | None, amount_text: str | None, at: str
    ) -> Decimal:
        """The line's discount: its stated amount, or else its rate applied to the gross."""
        rate = self._value(rate_text, f"{at}/discount_rate", money=False)
        amount = self._value(amount_text, f"{at}/discount_amount", money=True)
        if rate is None:
            return amount or _ZERO
        from_rate = gross * rate / _HUNDRED
        if amount is None:
            return from_rate
        if abs(amount - from_rate) > self.unit:
            self.fail(
                ErrorCode.DISCOUNT_MISMATCH,
                f"{at}/discount_amount",
                f"{amount} differs from {rate}% of {gross} ({from_rate})",
            )
        return amount

    def _rate_summaries(
        self,
        taxable_by_rate: dict[str, Decimal],
        lines_by_rate: dict[str, int],
        unrated_total: Decimal,
        discount_total: Decimal,
    ) -> None:
        seen: set[str] = set()
        stated_taxable = _ZERO
        stated_tax = _ZERO
        for index, summary in enumerate(self.invoice["totals"].get("by_rate", ())):
            at = f"/totals/by_rate/{index}"
            taxable = self._value(summary["taxable_amount"], f"{at}/taxable_amount", money=True)
            tax = self._value(summary["tax_amount"], f"{at}/tax_amount", money=True)
            assert taxable is not None  # both are required by the model
            assert tax is not None
            stated_taxable += taxable
            stated_tax += tax
            rate = summary["vat_rate"]
            percent = vat_percent(rate)
            if percent is None:
                self.fail(ErrorCode.VAT_RATE_INVALID, f"{at}/vat_rate", "not an allowed VAT rate")
            elif rate in seen:
                self.fail(
                    ErrorCode.RATE_SUMMARY_DUPLICATE, f"{at}/vat_rate", f"{rate} appears twice"
                )
            elif rate not in taxable_by_rate:
                self.fail(
                    ErrorCode.RATE_SUMMARY_UNEXPECTED, f"{at}/vat_rate", f"no line has rate {rate}"
                )
            else:
                seen.add(rate)
                self._rate_summary(at, rate, percent, taxable, tax, taxable_by_rate, lines_by_rate)
        for rate in taxable_by_rate:
            if rate not in seen:
                self.fail(
                    ErrorCode.RATE_SUMMARY_MISSING, "/totals/by_rate", f"no summary for {rate}"
                )
        self._grand_totals(stated_taxable + unrated_total, stated_tax, discount_total)

    def _rate_summary(
        self,
        at: str,
        rate: str,
        percent: Decimal,
        taxable: Decimal,
        tax: Decimal,
        taxable_by_rate: dict[str, Decimal],
        lines_by_rate: dict[str, int],
    ) -> None:
        if taxable != taxable_by_rate[rate]:
            self.fail(
                ErrorCode.RATE_TAXABLE_MISMATCH,
                f"{at}/taxable_amount",
                f"{taxable} differs from the sum of the {rate} lines, {taxable_by_rate[rate]}",
            )
        expected = taxable * percent / _HUNDRED
        # Software that rounds tax line by line is off by at most half a unit a line, plus half a
        # unit for the sum: (n + 1) / 2 units for n lines at this rate. A zero rate has no tax.
        tolerance = self.unit * (lines_by_rate[rate] + 1) / 2 if percent else _ZERO
        if abs(tax - expected) > tolerance:
            self.fail(
                ErrorCode.RATE_TAX_MISMATCH,
                f"{at}/tax_amount",
                f"{tax} differs from {percent}% of {taxable} ({expected})",
            )

    def _grand_totals(
        self, expected_before_tax: Decimal, expected_tax: Decimal, discount_total: Decimal
    ) -> None:
        totals = self.invoice["totals"]
        before_tax = self._value(
            totals["amount_before_tax"], "/totals/amount_before_tax", money=True
        )
        tax = self._value(totals["tax_amount"], "/totals/tax_amount", money=True)
        payable = self._value(totals["total_payable"], "/totals/total_payable", money=True)
        discount = self._value(totals.get("discount_amount"), "/totals/discount_amount", money=True)
        if before_tax != expected_before_tax:
            self.fail(
                ErrorCode.TOTAL_BEFORE_TAX_MISMATCH,
                "/totals/amount_before_tax",
                f"{before_tax} differs from the sum of taxable amounts, {expected_before_tax}",
            )
        if tax != expected_tax:
            self.fail(
                ErrorCode.TOTAL_TAX_MISMATCH,
                "/totals/tax_amount",
                f"{tax} differs from the sum of the rates' taxes, {expected_tax}",
            )
        if discount is not None and discount != discount_total:
            self.fail(
                ErrorCode.TOTAL_DISCOUNT_MISMATCH,
                "/totals/discount_amount",
                f"{discount} differs from the sum of the discount lines, {discount_total}",
            )
        if before_tax is not None and tax is not None and payable != before_tax + tax:
            self.fail(
                ErrorCode.TOTAL_PAYABLE_MISMATCH,
                "/totals/total_payable",
                f"{payable} differs from amount_before_tax + tax_amount = {before_tax + tax}",
            )
