"""The catalogue of invoice error codes: stable, machine-readable, each with its meaning.

A code never changes meaning once published; accounting software branches on them. docs/errors.md
lists them for people (tests/einvoice/invoice/test_codes.py keeps the two in step).
"""

from __future__ import annotations

CATALOGUE: dict[str, str] = {
    # Structure (from the model's validation).
    "FIELD_REQUIRED": "A required field is missing.",
    "UNKNOWN_FIELD": "A field the format does not define.",
    "INVALID_TYPE": "The JSON type is wrong (for example a number where text is expected).",
    "DECIMAL_MUST_BE_STRING": "Money, quantities and rates are decimal strings, not JSON numbers.",
    "INVALID_DECIMAL": "Not a decimal: at most 21 digits, at most 6 after the point.",
    "INVALID_FORMAT": "The text does not have the required form.",
    "TOO_SHORT": "Empty text, or a list with too few items.",
    "TOO_LONG": "Text longer than the format allows.",
    "TOO_MANY_LINES": "More invoice lines (or rate summaries) than allowed.",
    "OUT_OF_RANGE": "A number outside its allowed range.",
    "INVALID_VALUE": "A value outside the allowed set.",
    # Parties.
    "TAX_CODE_FORMAT": "A tax code is 10 digits, or 13 as 10 digits, '-' and a 3-digit branch.",
    "TAX_CODE_CHECK_DIGIT": "The tax code's check digit (10th digit) does not match.",
    # Header.
    "TEMPLATE_INVALID": "The template (KHMSHDon) is one digit 1-9.",
    "SYMBOL_FORMAT": "The symbol (KHHDon) is C or K, a 2-digit year, a type letter, 2 letters.",
    "SYMBOL_YEAR_MISMATCH": "The symbol's year differs from the issue date's year.",
    "SYMBOL_TEMPLATE_MISMATCH": "The symbol's type letter does not fit the template.",
    "INVALID_DATE": "Not a calendar date (YYYY-MM-DD).",
    "ISSUE_DATE_IN_FUTURE": "The issue date is later than today in Vietnam (GMT+7).",
    "CURRENCY_EXCHANGE_RATE_REQUIRED": "A currency other than VND needs a positive exchange rate.",
    "CURRENCY_EXCHANGE_RATE_UNEXPECTED": "An invoice in VND carries no exchange rate other than 1.",
    # Lines and amounts.
    "NEGATIVE_AMOUNT": "A negative value, allowed only on an adjusting invoice.",
    "VND_NOT_WHOLE": "An amount in VND that is not a whole number of dong.",
    "LINE_NUMBER_SEQUENCE": "Line numbers (STT) must be unique and increasing.",
    "LINE_FIELD_REQUIRED": "This kind of line needs this field (quantity, price, amount, rate).",
    "NOTE_LINE_HAS_AMOUNT": "A note line (nature 4) carries no quantity, price, amount or rate.",
    "VAT_RATE_INVALID": "The VAT rate is not one of 0%, 5%, 8%, 10%, KCT, KKKNT, KHAC:x.xx.",
    "VAT_RATE_NOT_ALLOWED": "This template (a sales invoice) carries no VAT rate.",
    "DISCOUNT_MISMATCH": "The discount amount differs from the discount rate applied to the price.",
    "LINE_AMOUNT_MISMATCH": "The line amount differs from quantity x unit price - discount.",
    "RATE_SUMMARY_MISSING": "A VAT rate used by the lines has no summary in totals.by_rate.",
    "RATE_SUMMARY_UNEXPECTED": "A summary in totals.by_rate for a rate no line uses.",
    "RATE_SUMMARY_DUPLICATE": "Two summaries in totals.by_rate for the same rate.",
    "RATE_TAXABLE_MISMATCH": "A rate's taxable amount differs from the sum of its lines.",
    "RATE_TAX_MISMATCH": "A rate's tax differs from its taxable amount times the rate.",
    "TOTAL_BEFORE_TAX_MISMATCH": "amount_before_tax differs from the sum of the taxable amounts.",
    "TOTAL_TAX_MISMATCH": "tax_amount differs from the sum of the rates' taxes.",
    "TOTAL_DISCOUNT_MISMATCH": "discount_amount differs from the sum of the discount lines.",
    "TOTAL_PAYABLE_MISMATCH": "total_payable differs from amount_before_tax + tax_amount.",
    # Related invoice.
    "RELATED_SELF_REFERENCE": "An invoice cannot replace or adjust itself.",
    "RELATED_DATE_AFTER_INVOICE": "The related invoice is dated after this one.",
    # Seller signature.
    "SIGNATURE_MALFORMED": "Not a detached JWS in compact form (header..signature).",
    "SIGNATURE_ALGORITHM_NOT_ALLOWED": "The JWS alg is not one of RS256, PS256, ES256, EdDSA.",
    "SIGNATURE_KEY_UNKNOWN": "The JWS kid names no key registered to the seller.",
    "SIGNATURE_KEY_ALGORITHM_MISMATCH": "The JWS alg differs from the registered key's algorithm.",
    "SIGNATURE_KEY_NOT_ACTIVE": "The key was not valid on the invoice's issue date.",
    "SIGNATURE_KEY_REVOKED": "The key has been revoked.",
    "SIGNATURE_KEY_TOO_WEAK": "RSA keys below 2048 bits are refused.",
    "SIGNATURE_INVALID": "The signature does not verify over the canonical invoice.",
}
