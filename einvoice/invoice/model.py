"""The invoice in the API's JSON form: structure, types and lengths (docs/invoice-format.md).

Pydantic in strict mode checks the shape (required fields, JSON types, lengths, simple formats)
in compiled code and reports every problem with its location; the business rules (rules.py) run
on the validated result. Money, quantities and rates are decimal *strings*: a JSON number there is
refused, so no value is ever rounded through a binary float. The XML element of the national
format (Decision 1271/QD-CT) is given beside each field.

TypedDicts rather than BaseModels: validation yields plain dicts, 2.6x faster than building model
objects for a 10-line invoice here (19 us against 50 us), and this runs for every invoice.
Optional fields are `NotRequired`: absent and null mean the same.
"""

from __future__ import annotations

from typing import Annotated, Literal, NotRequired

from pydantic import ConfigDict, Field, StringConstraints, TypeAdapter, with_config
from typing_extensions import TypedDict  # pydantic needs this one on Python < 3.12

# At most 21 digits, at most 6 of them after the point, an optional minus (the rules allow
# negative values only on adjusting invoices). One alternative per number of decimals keeps the
# total within 21 digits without look-ahead, which the compiled regex engine does not have.
DECIMAL_PATTERN = (
    r"^-?([0-9]{1,21}|[0-9]{1,20}\.[0-9]|[0-9]{1,19}\.[0-9]{2}|[0-9]{1,18}\.[0-9]{3}"
    r"|[0-9]{1,17}\.[0-9]{4}|[0-9]{1,16}\.[0-9]{5}|[0-9]{1,15}\.[0-9]{6})$"
)
DecimalString = Annotated[str, StringConstraints(pattern=DECIMAL_PATTERN)]
DateString = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]
MAX_LINES = 1000

# Non-empty text of at most N characters.
Text1 = Annotated[str, StringConstraints(min_length=1, max_length=1)]
Text6 = Annotated[str, StringConstraints(min_length=1, max_length=6)]
Text10 = Annotated[str, StringConstraints(min_length=1, max_length=10)]
Text14 = Annotated[str, StringConstraints(min_length=1, max_length=14)]
Text20 = Annotated[str, StringConstraints(min_length=1, max_length=20)]
Text30 = Annotated[str, StringConstraints(min_length=1, max_length=30)]
Text50 = Annotated[str, StringConstraints(min_length=1, max_length=50)]
Text255 = Annotated[str, StringConstraints(min_length=1, max_length=255)]
Text400 = Annotated[str, StringConstraints(min_length=1, max_length=400)]
Text500 = Annotated[str, StringConstraints(min_length=1, max_length=500)]
CitizenId = Annotated[str, StringConstraints(pattern=r"^[0-9]{12}$")]
InvoiceNumber = Annotated[int, Field(ge=1, le=99_999_999)]

_STRICT = ConfigDict(strict=True, extra="forbid")


@with_config(_STRICT)
class Seller(TypedDict):  # NBan
    tax_code: Text14  # MST
    name: Text400  # Ten
    address: Text400  # DChi
    phone: NotRequired[Text20 | None]  # SDThoai
    email: NotRequired[Text50 | None]  # DCTDTu
    bank_account: NotRequired[Text30 | None]  # STKNHang


@with_config(_STRICT)
class Buyer(TypedDict):  # NMua
    tax_code: NotRequired[Text14 | None]  # MST; absent for a retail buyer
    name: NotRequired[Text400 | None]  # Ten
    address: NotRequired[Text400 | None]  # DChi
    citizen_id: NotRequired[CitizenId | None]  # CCCDan


@with_config(_STRICT)
class Line(TypedDict):  # HHDVu
    no: Annotated[int, Field(ge=1, le=MAX_LINES)]  # STT
    # TChat: 1 goods or service, 2 promotion, 3 trade discount, 4 note, 5 special goods
    nature: Annotated[int, Field(ge=1, le=5)]
    code: NotRequired[Text50 | None]  # MHHDVu
    name: Text500  # THHDVu
    unit: NotRequired[Text50 | None]  # DVTinh
    quantity: NotRequired[DecimalString | None]  # SLuong
    unit_price: NotRequired[DecimalString | None]  # DGia
    discount_rate: NotRequired[DecimalString | None]  # TLCKhau, in percent
    discount_amount: NotRequired[DecimalString | None]  # STCKhau
    amount: NotRequired[DecimalString | None]  # ThTien
    vat_rate: NotRequired[Text10 | None]  # TSuat


@with_config(_STRICT)
class RateSummary(TypedDict):  # LTSuat
    vat_rate: Text10  # TSuat
    taxable_amount: DecimalString  # ThTien
    tax_amount: DecimalString  # TThue


@with_config(_STRICT)
class Totals(TypedDict):  # TToan
    by_rate: NotRequired[Annotated[list[RateSummary], Field(max_length=20)]]  # THTTLTSuat
    amount_before_tax: DecimalString  # TgTCThue
    tax_amount: DecimalString  # TgTThue
    discount_amount: NotRequired[DecimalString | None]  # TTCKTMai
    total_payable: DecimalString  # TgTTTBSo
    total_in_words: NotRequired[Text255 | None]  # TgTTTBChu


@with_config(_STRICT)
class Original(TypedDict):  # TTHDLQuan: the invoice this one replaces or adjusts
    relation: Literal["replaces", "adjusts"]  # TCHDon 1 / 2
    template: Text1  # KHMSHDCLQuan
    symbol: Text6  # KHHDCLQuan
    number: InvoiceNumber  # SHDCLQuan
    issued_date: DateString  # NLHDCLQuan


@with_config(_STRICT)
class Invoice(TypedDict):  # HDon/DLHDon
    template: Text1  # KHMSHDon
    symbol: Text6  # KHHDon
    number: InvoiceNumber  # SHDon
    issued_date: DateString  # NLap
    currency: NotRequired[Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]]  # DVTTe
    exchange_rate: NotRequired[DecimalString | None]  # TGia
    payment_method: NotRequired[Text50 | None]  # HTTToan
    seller: Seller
    buyer: NotRequired[Buyer]
    lines: Annotated[list[Line], Field(min_length=1, max_length=MAX_LINES)]  # DSHHDVu
    totals: Totals
    original: NotRequired[Original | None]


INVOICE = TypeAdapter(Invoice)
