"""The words the HTML shows that depend on data, in Vietnamese and English: statuses, kinds of
invoice, line natures, VAT rates, and the lookup page's fields and messages. Words fixed in a
template (headings, column names) stay in the template, beside the markup they label.

Vietnamese first, English beside it (the page and the invoice view show both; `lang="en"` marks
the English). Messages are the page's own, not the API's: the API's messages are English for
software, and name fields by their JSON names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from einvoice.error_codes import ErrorCode


@dataclass(frozen=True)
class Words:
    vi: str
    en: str


# An invoice's status (docs/lifecycle.md).
STATUSES: Mapping[str, Words] = {
    "authenticated": Words("Đã được cấp mã", "Authenticated"),
    "adjusted": Words("Đã bị điều chỉnh", "Adjusted"),
    "replaced": Words("Đã bị thay thế", "Replaced"),
    "cancelled": Words("Đã bị hủy", "Cancelled"),
}


def status_words(status: str | None) -> Words:
    """A status's words; one this code does not know, as it is (never an empty cell)."""
    return STATUSES.get(status or "") or Words(status or "-", status or "-")


# The invoice template (KHMSHDon) names the kind of invoice: its title on the view.
KINDS: Mapping[str, Words] = {
    "1": Words("Hóa đơn giá trị gia tăng", "VAT invoice"),
    "2": Words("Hóa đơn bán hàng", "Sales invoice"),
    "3": Words("Hóa đơn bán tài sản công", "Invoice for the sale of public assets"),
    "4": Words("Hóa đơn bán hàng dự trữ quốc gia", "Invoice for the sale of national reserves"),
    "5": Words("Tem, vé, thẻ, phiếu thu điện tử", "Electronic stamp, ticket, card or receipt"),
    "6": Words(
        "Phiếu xuất kho kiêm vận chuyển nội bộ, phiếu xuất kho gửi bán hàng đại lý",
        "Internal transfer or consignment delivery note",
    ),
    "7": Words("Hóa đơn thương mại điện tử", "E-commerce invoice"),
    "8": Words(
        "Hóa đơn giá trị gia tăng tích hợp biên lai thu thuế, phí, lệ phí",
        "VAT invoice with a tax and fee receipt",
    ),
    "9": Words(
        "Hóa đơn bán hàng tích hợp biên lai thu thuế, phí, lệ phí",
        "Sales invoice with a tax and fee receipt",
    ),
}
ELECTRONIC_INVOICE = Words("Hóa đơn điện tử", "E-invoice")

# A line's nature (TChat) other than goods or a service, shown beside its name. 5's wording is
# our reading of "special goods" (unconfirmed, docs/invoice-format.md).
LINE_NATURES: Mapping[int, Words] = {
    2: Words("Khuyến mại", "Promotion"),
    3: Words("Chiết khấu thương mại", "Trade discount"),
    4: Words("Ghi chú, diễn giải", "Note"),
    5: Words("Hàng hóa đặc trưng", "Special goods"),
}

# What an invoice does to its original (`original.relation`).
RELATIONS: Mapping[str, Words] = {
    "replaces": Words("Thay thế cho hóa đơn", "Replaces invoice"),
    "adjusts": Words("Điều chỉnh cho hóa đơn", "Adjusts invoice"),
}

# VAT rates that are not a percentage.
_NAMED_RATES: Mapping[str, Words] = {
    "KCT": Words("Không chịu thuế GTGT", "Not subject to VAT"),
    "KKKNT": Words("Không kê khai, tính nộp thuế GTGT", "VAT not declared"),
}


def vat_rate_words(rate: str) -> Words:
    """`10%` as it is, `KHAC:5.26` as another rate of 5,26 % (5.26 %), KCT and KKKNT by name."""
    if rate in _NAMED_RATES:
        return _NAMED_RATES[rate]
    if rate.startswith("KHAC:"):
        figure = rate.removeprefix("KHAC:")
        return Words(f"Khác {figure.replace('.', ',')}%", f"Other {figure}%")
    return Words(rate, rate)


def short_vat_rate(rate: str) -> str:
    """A rate in a narrow column, as invoices print it: `10%`, `KCT`, `KKKNT`; `KHAC:5.26` as
    `5,26%`."""
    if rate.startswith("KHAC:"):
        return rate.removeprefix("KHAC:").replace(".", ",") + "%"
    return rate


@dataclass(frozen=True)
class PageField:
    """An input of the lookup page: its query name, label, example and what to type."""

    name: str
    label: Words
    example: str
    longest: int  # the longest meaningful value: the input's maxlength
    hint: Words
    inputmode: str | None = None  # the keyboard a phone shows


PRINTED_FIELDS = (
    PageField(
        "seller_tax_code",
        Words("Mã số thuế người bán", "Seller tax code"),
        "0100233488",
        14,
        Words("10 chữ số, chi nhánh thêm -NNN", "10 digits; a branch adds -NNN"),
    ),
    PageField(
        "template",
        Words("Mẫu số", "Template"),
        "1",
        1,
        Words("Một chữ số, ví dụ 1", "One digit, e.g. 1"),
        "numeric",
    ),
    PageField(
        "symbol",
        Words("Ký hiệu", "Symbol"),
        "C25TAA",
        6,
        Words("6 ký tự, ví dụ C25TAA", "6 characters, e.g. C25TAA"),
    ),
    PageField(
        "number",
        Words("Số hóa đơn", "Invoice number"),
        "123",
        8,
        Words("Chỉ gồm chữ số", "Digits only"),
        "numeric",
    ),
    PageField(
        "total_payable",
        Words("Tổng tiền thanh toán", "Total payable"),
        "1.100.000",
        30,
        Words(
            "Viết 1.100.000, 1 100 000 hay 1,100,000 đều được",
            "1.100.000, 1 100 000 and 1,100,000 are all accepted",
        ),
        "decimal",
    ),
)
TOKEN_LABEL = Words("Mã token", "Token")
_LABELS = {field.name: field.label for field in PRINTED_FIELDS} | {"token": TOKEN_LABEL}


def label_of(pointer: str | None) -> Words | None:
    """The label of the page's field a problem points at (`/number`), if it is one."""
    return _LABELS.get((pointer or "").removeprefix("/"))


# What is wrong with a field, by the check's code; {vi} and {en}: the field's label.
_PROBLEMS: Mapping[ErrorCode, Words] = {
    ErrorCode.FIELD_REQUIRED: Words("Chưa nhập {vi}.", "{en} is missing."),
    ErrorCode.TAX_CODE_FORMAT: Words(
        "Mã số thuế gồm 10 chữ số, hoặc 10 chữ số, dấu - và 3 chữ số của chi nhánh.",
        "A tax code is 10 digits, or 10 digits, '-' and a 3-digit branch.",
    ),
    ErrorCode.TAX_CODE_CHECK_DIGIT: Words(
        "Chữ số kiểm tra (chữ số thứ 10) của mã số thuế không đúng.",
        "The tax code's check digit (its 10th digit) does not match.",
    ),
    ErrorCode.TEMPLATE_INVALID: Words(
        "Mẫu số là một chữ số từ 1 đến 9.", "The template is one digit, 1 to 9."
    ),
    ErrorCode.SYMBOL_FORMAT: Words(
        "Ký hiệu gồm C hoặc K, 2 chữ số của năm, một chữ cái chỉ loại hóa đơn và 2 chữ cái "
        "(ví dụ C25TAA).",
        "The symbol is C or K, a 2-digit year, a type letter and 2 letters (e.g. C25TAA).",
    ),
    ErrorCode.OUT_OF_RANGE: Words(
        "Số hóa đơn là số nguyên từ 1 đến 99.999.999, chỉ gồm chữ số.",
        "The invoice number is a whole number from 1 to 99,999,999, in digits.",
    ),
}
_UNREADABLE = Words("Thông tin chưa đúng.", "{message}")


def problem_words(code: ErrorCode, pointer: str | None, message: str) -> Words:
    """A problem the check found with a field, for the page (its own message as the English
    of a code this page has no words for)."""
    words = _PROBLEMS.get(code, _UNREADABLE)
    label = label_of(pointer) or Words("thông tin", "A field")
    return Words(
        words.vi.format(vi=label.vi[0].lower() + label.vi[1:]),  # mid-sentence
        words.en.format(en=label.en, message=message),
    )


def rate_limited_words(retry_after_s: int | None) -> Words:
    seconds = retry_after_s or 1
    return Words(
        f"Bạn đã tra cứu quá nhiều lần; hãy thử lại sau {seconds} giây.",
        f"Too many lookups from your address; try again in {seconds} seconds.",
    )


UNAVAILABLE = Words(
    "Hệ thống tạm thời chưa trả lời; hãy thử lại sau ít phút.",
    "The service did not answer in time; try again in a few moments.",
)
