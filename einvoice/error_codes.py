"""The catalogue of error codes: every code the service can answer, with its status and meaning.

Codes are part of the API contract: accounting software branches on them, so a code never changes
meaning once published. Every raise site names its code from here (`ErrorDetail.code` and
`ServiceError(code=...)` are typed `ErrorCode`, so mypy refuses a code that is not catalogued),
and docs/errors.md lists them for people (tests/einvoice/test_error_codes.py keeps the two in
step). The invoice's codes are answered with 422 in real time and mark a batch line `rejected`.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """A stable code (its value is its name), the HTTP status it is answered with, its meaning."""

    status: int
    meaning: str

    def __new__(cls, code: str, status: int, meaning: str) -> ErrorCode:
        member = str.__new__(cls, code)
        member._value_ = code
        member.status = status
        member.meaning = meaning
        return member

    # The invoice: structure (from the model's validation).
    FIELD_REQUIRED = "FIELD_REQUIRED", 422, "A required field is missing."
    UNKNOWN_FIELD = "UNKNOWN_FIELD", 422, "A field the format does not define."
    INVALID_TYPE = (
        "INVALID_TYPE",
        422,
        "The JSON type is wrong (for example a number where text is expected).",
    )
    DECIMAL_MUST_BE_STRING = (
        "DECIMAL_MUST_BE_STRING",
        422,
        "Money, quantities and rates are decimal strings, not JSON numbers.",
    )
    INVALID_DECIMAL = (
        "INVALID_DECIMAL",
        422,
        "Not a decimal: at most 21 digits, at most 6 after the point.",
    )
    INVALID_FORMAT = "INVALID_FORMAT", 422, "The text does not have the required form."
    TOO_SHORT = "TOO_SHORT", 422, "Empty text, or a list with too few items."
    TOO_LONG = "TOO_LONG", 422, "Text longer than the format allows."
    TOO_MANY_LINES = "TOO_MANY_LINES", 422, "More invoice lines (or rate summaries) than allowed."
    OUT_OF_RANGE = "OUT_OF_RANGE", 422, "A number outside its allowed range."
    INVALID_VALUE = "INVALID_VALUE", 422, "A value outside the allowed set."
    DUPLICATE_MEMBER = (
        "DUPLICATE_MEMBER",
        422,
        "An object has two members of the same name (I-JSON, RFC 7493).",
    )
    # The invoice: parties.
    TAX_CODE_FORMAT = (
        "TAX_CODE_FORMAT",
        422,
        "A tax code is 10 digits, or 13 as 10 digits, '-' and a 3-digit branch.",
    )
    TAX_CODE_CHECK_DIGIT = (
        "TAX_CODE_CHECK_DIGIT",
        422,
        "The tax code's check digit (10th digit) does not match.",
    )
    # The invoice: header.
    TEMPLATE_INVALID = "TEMPLATE_INVALID", 422, "The template (KHMSHDon) is one digit 1-9."
    SYMBOL_FORMAT = (
        "SYMBOL_FORMAT",
        422,
        "The symbol (KHHDon) is C or K, a 2-digit year, a type letter, 2 letters.",
    )
    SYMBOL_YEAR_MISMATCH = (
        "SYMBOL_YEAR_MISMATCH",
        422,
        "The symbol's year differs from the issue date's year.",
    )
    SYMBOL_TEMPLATE_MISMATCH = (
        "SYMBOL_TEMPLATE_MISMATCH",
        422,
        "The symbol's type letter does not fit the template.",
    )
    INVALID_DATE = "INVALID_DATE", 422, "Not a calendar date (YYYY-MM-DD)."
    ISSUE_DATE_IN_FUTURE = (
        "ISSUE_DATE_IN_FUTURE",
        422,
        "The issue date is later than today in Vietnam (GMT+7).",
    )
    ISSUE_DATE_TOO_OLD = (
        "ISSUE_DATE_TOO_OLD",
        422,
        "The issue date is more than 180 days before today in Vietnam (GMT+7).",
    )
    CURRENCY_EXCHANGE_RATE_REQUIRED = (
        "CURRENCY_EXCHANGE_RATE_REQUIRED",
        422,
        "A currency other than VND needs a positive exchange rate.",
    )
    CURRENCY_EXCHANGE_RATE_UNEXPECTED = (
        "CURRENCY_EXCHANGE_RATE_UNEXPECTED",
        422,
        "An invoice in VND carries no exchange rate other than 1.",
    )
    # The invoice: lines and amounts.
    NEGATIVE_AMOUNT = (
        "NEGATIVE_AMOUNT",
        422,
        "A negative value, allowed only on an adjusting invoice.",
    )
    VND_NOT_WHOLE = "VND_NOT_WHOLE", 422, "An amount in VND that is not a whole number of dong."
    LINE_NUMBER_SEQUENCE = (
        "LINE_NUMBER_SEQUENCE",
        422,
        "Line numbers (STT) must be unique and increasing.",
    )
    LINE_FIELD_REQUIRED = (
        "LINE_FIELD_REQUIRED",
        422,
        "This kind of line needs this field (quantity, price, amount, rate).",
    )
    NOTE_LINE_HAS_AMOUNT = (
        "NOTE_LINE_HAS_AMOUNT",
        422,
        "A note line (nature 4) carries no quantity, price, amount or rate.",
    )
    VAT_RATE_INVALID = (
        "VAT_RATE_INVALID",
        422,
        "The VAT rate is not one of 0%, 5%, 8%, 10%, KCT, KKKNT, KHAC:x.xx.",
    )
    VAT_RATE_NOT_ALLOWED = (
        "VAT_RATE_NOT_ALLOWED",
        422,
        "This template (a sales invoice) carries no VAT rate.",
    )
    DISCOUNT_MISMATCH = (
        "DISCOUNT_MISMATCH",
        422,
        "The discount amount differs from the discount rate applied to the price.",
    )
    LINE_AMOUNT_MISMATCH = (
        "LINE_AMOUNT_MISMATCH",
        422,
        "The line amount differs from quantity x unit price - discount.",
    )
    RATE_SUMMARY_MISSING = (
        "RATE_SUMMARY_MISSING",
        422,
        "A VAT rate used by the lines has no summary in totals.by_rate.",
    )
    RATE_SUMMARY_UNEXPECTED = (
        "RATE_SUMMARY_UNEXPECTED",
        422,
        "A summary in totals.by_rate for a rate no line uses.",
    )
    RATE_SUMMARY_DUPLICATE = (
        "RATE_SUMMARY_DUPLICATE",
        422,
        "Two summaries in totals.by_rate for the same rate.",
    )
    RATE_TAXABLE_MISMATCH = (
        "RATE_TAXABLE_MISMATCH",
        422,
        "A rate's taxable amount differs from the sum of its lines.",
    )
    RATE_TAX_MISMATCH = (
        "RATE_TAX_MISMATCH",
        422,
        "A rate's tax differs from its taxable amount times the rate.",
    )
    TOTAL_BEFORE_TAX_MISMATCH = (
        "TOTAL_BEFORE_TAX_MISMATCH",
        422,
        "amount_before_tax differs from the sum of the taxable amounts.",
    )
    TOTAL_TAX_MISMATCH = (
        "TOTAL_TAX_MISMATCH",
        422,
        "tax_amount differs from the sum of the rates' taxes.",
    )
    TOTAL_DISCOUNT_MISMATCH = (
        "TOTAL_DISCOUNT_MISMATCH",
        422,
        "discount_amount differs from the sum of the discount lines.",
    )
    TOTAL_PAYABLE_MISMATCH = (
        "TOTAL_PAYABLE_MISMATCH",
        422,
        "total_payable differs from amount_before_tax + tax_amount.",
    )
    # The invoice: the original invoice it replaces or adjusts (`original`).
    RELATED_SELF_REFERENCE = (
        "RELATED_SELF_REFERENCE",
        422,
        "An invoice cannot replace or adjust itself.",
    )
    RELATED_DATE_AFTER_INVOICE = (
        "RELATED_DATE_AFTER_INVOICE",
        422,
        "The original invoice is dated after this one.",
    )
    # The invoice: seller signature.
    SIGNATURE_MALFORMED = (
        "SIGNATURE_MALFORMED",
        422,
        "Not a detached JWS in compact form (header..signature).",
    )
    SIGNATURE_ALGORITHM_NOT_ALLOWED = (
        "SIGNATURE_ALGORITHM_NOT_ALLOWED",
        422,
        "The JWS alg is not one of RS256, PS256, ES256, EdDSA (also named Ed25519).",
    )
    SIGNATURE_KEY_UNKNOWN = (
        "SIGNATURE_KEY_UNKNOWN",
        422,
        "The JWS kid names no key registered to the seller.",
    )
    SIGNATURE_KEY_ALGORITHM_MISMATCH = (
        "SIGNATURE_KEY_ALGORITHM_MISMATCH",
        422,
        "The JWS alg differs from the registered key's algorithm.",
    )
    SIGNATURE_KEY_NOT_ACTIVE = (
        "SIGNATURE_KEY_NOT_ACTIVE",
        422,
        "The key was not valid on the invoice's issue date.",
    )
    SIGNATURE_KEY_REVOKED = "SIGNATURE_KEY_REVOKED", 422, "The key has been revoked."
    SIGNATURE_KEY_TOO_WEAK = "SIGNATURE_KEY_TOO_WEAK", 422, "RSA keys below 2048 bits are refused."
    SIGNATURE_INVALID = (
        "SIGNATURE_INVALID",
        422,
        "The signature does not verify over the canonical invoice (or, in XML, over DLHDon).",
    )
    XML_SIGNATURE_MALFORMED = (
        "XML_SIGNATURE_MALFORMED",
        422,
        "The XML Signature in DSCKS/NBan is missing or not as the format requires: one "
        "Reference to #<the DLHDon Id>, whose Id no other element carries; SHA-256 digests; "
        "C14N 1.0 or exclusive C14N; one X509Certificate in KeyInfo.",
    )
    XML_AUTHORITY_PART_SENT = (
        "XML_AUTHORITY_PART_SENT",
        422,
        "A seller's HDon carries no MCCQT and nothing in DSCKS/CQT: those are the authority's.",
    )
    XML_SIGNATURE_ALGORITHM_NOT_ALLOWED = (
        "XML_SIGNATURE_ALGORITHM_NOT_ALLOWED",
        422,
        "The SignatureMethod is not RSA-SHA256 or ECDSA-SHA256, or not the certificate's key type.",
    )
    SIGNATURE_CERTIFICATE_UNKNOWN = (
        "SIGNATURE_CERTIFICATE_UNKNOWN",
        422,
        "The certificate in KeyInfo is not registered to the seller (SHA-256 fingerprint).",
    )
    SIGNATURE_CERTIFICATE_EXPIRED = (
        "SIGNATURE_CERTIFICATE_EXPIRED",
        422,
        "The certificate was not valid on the invoice's issue date.",
    )
    # Requests in general.
    BAD_REQUEST = "BAD_REQUEST", 400, "The request cannot be read as sent."
    MALFORMED_JSON = "MALFORMED_JSON", 400, "The body is not valid JSON."
    MALFORMED_XML = (
        "MALFORMED_XML",
        400,
        "The body is not a well-formed, safe HDon invoice (a DOCTYPE, over 2 MB, too deep, "
        "or a required element missing or repeated).",
    )
    UNAUTHENTICATED = (
        "UNAUTHENTICATED",
        401,
        "No valid API key (missing, malformed, unknown, revoked or wrong secret: "
        "one answer for all).",
    )
    FORBIDDEN = "FORBIDDEN", 403, "A valid API key that may not do this."
    ROLE_FORBIDDEN = "ROLE_FORBIDDEN", 403, "A valid key whose role may not do this."
    NOT_FOUND = "NOT_FOUND", 404, "No such resource (or not one you may see)."
    METHOD_NOT_ALLOWED = (
        "METHOD_NOT_ALLOWED",
        405,
        "The resource exists, the method does not apply.",
    )
    CONFLICT = "CONFLICT", 409, "The thing exists already, or its state forbids the change."
    REQUEST_TIMEOUT = (
        "REQUEST_TIMEOUT",
        408,
        "The body did not arrive within the time the endpoint allows; send it again.",
    )
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE", 413, "The body is larger than the endpoint accepts."
    UNSUPPORTED_MEDIA_TYPE = (
        "UNSUPPORTED_MEDIA_TYPE",
        415,
        "The Content-Type is not one the endpoint accepts.",
    )
    INVALID_REQUEST = (
        "INVALID_REQUEST",
        422,
        "The request's parameters or body do not fit the endpoint.",
    )
    INVALID_FIELD = "INVALID_FIELD", 422, "A request field has the wrong type or value."
    UNPROCESSABLE = "UNPROCESSABLE", 422, "Well-formed, but the content breaks a rule."
    RATE_LIMITED = (
        "RATE_LIMITED",
        429,
        "Over the client's published limit; retry after `Retry-After` seconds.",
    )
    INTERNAL_ERROR = (
        "INTERNAL_ERROR",
        500,
        "A bug: reported without details; the service log has the traceback.",
    )
    BACKEND_UNAVAILABLE = (
        "BACKEND_UNAVAILABLE",
        503,
        "A database or cache did not answer; retry after `Retry-After` seconds. "
        "Nothing was half-stored.",
    )
    DEADLINE_EXCEEDED = (
        "DEADLINE_EXCEEDED",
        503,
        "The request ran past its deadline and was abandoned; retry after `Retry-After` seconds "
        "(a submission is safe to repeat).",
    )
    # Submissions (real time and batch lines).
    SELLER_MISMATCH = (
        "SELLER_MISMATCH",
        403,
        "The invoice's seller is not the business the API key acts for.",
    )
    TAXPAYER_NOT_ACTIVE = (
        "TAXPAYER_NOT_ACTIVE",
        403,
        "The seller is suspended or closed in the registry.",
    )
    INVOICE_NUMBER_USED = (
        "INVOICE_NUMBER_USED",
        409,
        "Another invoice holds this seller's template, symbol and number; `existing` names it.",
    )
    # Corrections: replacement and adjustment invoices (docs/lifecycle.md).
    ORIGINAL_NOT_FOUND = (
        "ORIGINAL_NOT_FOUND",
        422,
        "No invoice of this seller was authenticated under the template, symbol and number "
        "(and issue date) that `original` names.",
    )
    ORIGINAL_REPLACED = (
        "ORIGINAL_REPLACED",
        409,
        "The original invoice was replaced already; correct its replacement instead.",
    )
    ORIGINAL_CANCELLED = (
        "ORIGINAL_CANCELLED",
        409,
        "The original invoice was cancelled; it cannot be replaced or adjusted.",
    )
    # Notices (Form 04/SS-HĐĐT), per item.
    INVOICE_REPLACED = (
        "INVOICE_REPLACED",
        409,
        "The invoice was replaced; it cannot be cancelled (its replacement can).",
    )
    INVOICE_CANCELLED = (
        "INVOICE_CANCELLED",
        409,
        "The invoice was cancelled already, by another notice.",
    )
    NOTICE_NOT_FOUND = "NOTICE_NOT_FOUND", 404, "No such notice (or not one you may see)."
    # Batches.
    BATCH_EMPTY = "BATCH_EMPTY", 422, "The batch has no lines."
    INVALID_LINE = (
        "INVALID_LINE",
        422,
        "A batch line is not a JSON object {invoice, signature} or {xml}.",
    )
    LINE_TOO_LARGE = (
        "LINE_TOO_LARGE",
        422,
        "A batch line is larger than a real-time submission may be (2 MiB).",
    )
    BATCH_NOT_FOUND = "BATCH_NOT_FOUND", 404, "No such batch (or not one of yours)."
    # Lookups.
    INVOICE_NOT_FOUND = "INVOICE_NOT_FOUND", 404, "No such invoice (or not one you may see)."
    XML_NOT_AVAILABLE = (
        "XML_NOT_AVAILABLE",
        406,
        "The invoice was submitted as JSON, so it has no signed XML; ask for application/json.",
    )
    SELLER_NOT_FOUND = "SELLER_NOT_FOUND", 404, "No registered seller with this tax code."
    BUYER_NOT_FOUND = (
        "BUYER_NOT_FOUND",
        404,
        "No registered taxpayer with this tax code, or not one whose purchases you may see.",
    )
    RANGE_TOO_LONG = (
        "RANGE_TOO_LONG",
        422,
        "A listing's range spans more than 366 days (from and to included).",
    )
    # The registry (admin API and CLI).
    TAXPAYER_EXISTS = "TAXPAYER_EXISTS", 409, "The tax code is registered already."
    TAXPAYER_NOT_FOUND = "TAXPAYER_NOT_FOUND", 404, "No taxpayer with this tax code."
    KEY_EXISTS = (
        "KEY_EXISTS",
        409,
        "The taxpayer has a key with this kid already; kids are never reused.",
    )
    KEY_NOT_FOUND = "KEY_NOT_FOUND", 404, "The taxpayer has no key with this kid."
    CERTIFICATE_MALFORMED = (
        "CERTIFICATE_MALFORMED",
        422,
        "Not a PEM X.509 certificate, or both or neither of `public_key` and `certificate`.",
    )
    CERTIFICATE_EXISTS = (
        "CERTIFICATE_EXISTS",
        409,
        "The taxpayer has this certificate registered already (under another kid).",
    )
    KEY_MALFORMED = "KEY_MALFORMED", 422, "Not a PEM public key or a JWK."
    KEY_TOO_WEAK = "KEY_TOO_WEAK", 422, "RSA below 2048 bits."
    KEY_TYPE_UNSUPPORTED = "KEY_TYPE_UNSUPPORTED", 422, "Not RSA, P-256 or Ed25519."
    KEY_PRIVATE_MATERIAL = (
        "KEY_PRIVATE_MATERIAL",
        422,
        "The key carries private material: send the public key only.",
    )
    KEY_ALGORITHM_MISMATCH = (
        "KEY_ALGORITHM_MISMATCH",
        422,
        "The key cannot sign with the algorithm asked for.",
    )
    KEY_CONTRADICTS_REGISTRATION = (
        "KEY_CONTRADICTS_REGISTRATION",
        422,
        "The JWK's own `alg`, `kid`, `use` or `key_ops` contradicts the registration: another "
        "algorithm or kid, or a key not for verifying signatures.",
    )
    KEY_VALIDITY_INVALID = "KEY_VALIDITY_INVALID", 409, "`valid_to` is not later than `valid_from`."
    CLIENT_TAX_CODE_REQUIRED = (
        "CLIENT_TAX_CODE_REQUIRED",
        422,
        "A business client needs the tax code it acts for.",
    )
    CLIENT_TAX_CODE_UNEXPECTED = (
        "CLIENT_TAX_CODE_UNEXPECTED",
        422,
        "Officers and admins act for no tax code.",
    )
    CLIENT_NOT_FOUND = "CLIENT_NOT_FOUND", 404, "No API client with this id."
