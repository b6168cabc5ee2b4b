"""GET /: the public lookup page. Server-rendered, small, no script, labels in Vietnamese and
English; a person types the fields printed on an invoice (or pastes its token) and sees whether it
is authentic. The form submits with GET to this same page, so results can be bookmarked."""

from __future__ import annotations

from html import escape
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from api.client_address import client_address
from api.deps import LookupDep
from einvoice.errors import ServiceError
from lookup.public_check import PrintedFields, PublicAnswer

router = APIRouter(tags=["public"])

# name, Vietnamese label, English label, input type, example, longest meaningful value.
_FIELDS = (
    ("seller_tax_code", "Mã số thuế người bán", "Seller tax code", "text", "0100233488", 14),
    ("template", "Mẫu số", "Template", "text", "1", 1),
    ("symbol", "Ký hiệu", "Symbol", "text", "C25TAA", 6),
    ("number", "Số hóa đơn", "Invoice number", "number", "123", 8),
    ("total_payable", "Tổng tiền thanh toán", "Total payable", "text", "1100000", 30),
)
# The page's own bound on a field: above every meaningful value, so that a field typed too long
# is answered on the page by the check's message rather than by a JSON error.
_FIELD_MAX = 100

_PAGE = """<!doctype html>
<html lang="vi">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Tra cứu hóa đơn điện tử / E-invoice lookup</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem;
       line-height: 1.5; color: #1a1a1a; }}
label {{ display: block; margin-top: .8rem; font-weight: 600; }}
label span {{ font-weight: 400; color: #555; }}
input, textarea {{ width: 100%; padding: .5rem; font-size: 1rem; box-sizing: border-box; }}
button {{ margin-top: 1rem; padding: .6rem 1.2rem; font-size: 1rem; }}
.result {{ margin-top: 1.5rem; padding: 1rem; border-radius: .4rem; }}
.valid {{ background: #e7f6ea; border: 2px solid #1e7b34; }}
.invalid {{ background: #fdecea; border: 2px solid #a4262c; }}
</style>
</head>
<body>
<main>
<h1>Tra cứu hóa đơn điện tử <span lang="en">/ E-invoice lookup</span></h1>
<form method="get" action="/" aria-describedby="help">
<p id="help">Nhập các thông tin in trên hóa đơn, hoặc dán mã token.
<span lang="en">Enter the fields printed on the invoice, or paste its token.</span></p>
{fields}
<label for="token">Mã token <span lang="en">/ Token</span></label>
<textarea id="token" name="token" rows="3">{token}</textarea>
<button type="submit">Tra cứu <span lang="en">/ Look up</span></button>
</form>
{result}
</main>
</body>
</html>
"""


def _field(
    name: str, vietnamese: str, english: str, kind: str, example: str, longest: int, value: str
) -> str:
    return (
        f'<label for="{name}">{vietnamese} <span lang="en">/ {english}</span></label>\n'
        f'<input id="{name}" name="{name}" type="{kind}" value="{escape(value)}" '
        f'placeholder="{example}" maxlength="{longest}">'
    )


# An invoice's status, as the page shows it: Vietnamese, then English (docs/lifecycle.md).
_STATUSES = {
    "authenticated": ("Đã được cấp mã", "Authenticated"),
    "adjusted": ("Đã bị điều chỉnh", "Adjusted"),
    "replaced": ("Đã bị thay thế", "Replaced"),
    "cancelled": ("Đã bị hủy", "Cancelled"),
}


def _status(status: str | None) -> str:
    vietnamese, english = _STATUSES.get(status or "", (status or "", status or ""))
    return f'{escape(vietnamese)} <span lang="en">/ {escape(english)}</span>'


def _result(answer: PublicAnswer | None, problem: str | None) -> str:
    if problem is not None:
        return f'<section class="result invalid" role="alert"><p>{escape(problem)}</p></section>'
    if answer is None:
        return ""
    if not answer.valid and answer.code is not None:  # found, but replaced or cancelled
        replaced_by = ""
        if answer.replaced_by is not None:
            replaced_by = (
                '<dt>Thay thế bởi <span lang="en">/ Replaced by</span></dt>'
                f'<dd><code id="replaced_by">{escape(answer.replaced_by)}</code></dd>'
            )
        return (
            '<section class="result invalid" role="status"><h2>Hóa đơn không còn hiệu lực '
            '<span lang="en">/ This invoice is no longer valid</span></h2><dl>'
            f'<dt>Mã của cơ quan thuế <span lang="en">/ Authority code</span></dt>'
            f'<dd><code id="code">{escape(answer.code)}</code></dd>'
            f'<dt>Ngày lập <span lang="en">/ Issued</span></dt>'
            f"<dd>{escape(str(answer.issued_date))}</dd>"
            f'<dt>Trạng thái <span lang="en">/ Status</span></dt>'
            f'<dd id="status">{_status(answer.status)}</dd>'
            f"{replaced_by}</dl></section>"
        )
    if not answer.valid:
        return (
            '<section class="result invalid" role="status"><h2>Không tìm thấy hóa đơn hợp lệ '
            '<span lang="en">/ No valid invoice found</span></h2>'
            "<p>Kiểm tra lại các thông tin đã nhập. "
            '<span lang="en">Check the fields you entered.</span></p></section>'
        )
    code, issued = (escape(str(v)) for v in (answer.code, answer.issued_date))
    return (
        '<section class="result valid" role="status"><h2>Hóa đơn hợp lệ '
        '<span lang="en">/ Authentic invoice</span></h2><dl>'
        f'<dt>Mã của cơ quan thuế <span lang="en">/ Authority code</span></dt>'
        f'<dd><code id="code">{code}</code></dd>'
        f'<dt>Ngày lập <span lang="en">/ Issued</span></dt><dd>{issued}</dd>'
        f'<dt>Trạng thái <span lang="en">/ Status</span></dt>'
        f'<dd id="status">{_status(answer.status)}</dd>'
        "</dl></section>"
    )


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def lookup_page(
    request: Request,
    lookups: LookupDep,
    seller_tax_code: Annotated[str, Query(max_length=_FIELD_MAX)] = "",
    template: Annotated[str, Query(max_length=_FIELD_MAX)] = "",
    symbol: Annotated[str, Query(max_length=_FIELD_MAX)] = "",
    number: Annotated[str, Query(max_length=_FIELD_MAX)] = "",
    total_payable: Annotated[str, Query(max_length=_FIELD_MAX)] = "",
    token: Annotated[str, Query(max_length=4000)] = "",
) -> HTMLResponse:
    values = {
        "seller_tax_code": seller_tax_code,
        "template": template,
        "symbol": symbol,
        "number": number,
        "total_payable": total_payable,
    }
    answer, problem = None, None
    if token or any(values.values()):
        # The number as typed: the check reads it (ASCII digits, 1 to 99,999,999) and says
        # what is wrong with it, as with every other field.
        fields = PrintedFields(token=token or None, **{k: v or None for k, v in values.items()})
        address = client_address(request)
        try:
            answer = await lookups.verify(fields, caller_address=address)
        except ServiceError as error:
            problem = "; ".join(detail.message for detail in error.details)
    rendered = "\n".join(_field(*spec, values[spec[0]]) for spec in _FIELDS)
    page = _PAGE.format(fields=rendered, token=escape(token), result=_result(answer, problem))
    return HTMLResponse(page)
