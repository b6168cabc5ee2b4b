"""GET /: the public lookup page. Server-rendered (api/templates/page.html), no script, in
Vietnamese with English beside it; a person types the fields printed on an invoice (or pastes its
token, which the invoice's QR code carries) and sees whether it is authentic. The form submits
with GET to this same page, so results can be bookmarked and shared.

The page shows what the public check may reveal and nothing more (never the buyer): whether the
invoice stands, its code, issue date and status (and its replacement's code), and a QR code of
this very check, so the answer on one screen can be opened on a phone. It uses the same check and
the same per-address limit as `POST /v1/verify` (lookup/service.py).

Answers: 200 with the result, or with what is wrong with the fields (the check's problems, in
both languages, each linked to its input); 429 and 503, with Retry-After, as the page saying so,
for a person is reading it. Only a request no form can send (a field over 100 characters) gets
the API's JSON error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from api.client_address import client_address
from api.deps import ClientsDep
from api.templating import render
from api.wording import (
    PRINTED_FIELDS,
    TOKEN_LABEL,
    UNAVAILABLE,
    Words,
    label_of,
    problem_words,
    rate_limited_words,
    status_words,
)
from einvoice.errors import BackendUnavailable, InvalidRequest, RateLimited
from lookup.public_check import PrintedFields, PublicAnswer, verify_url

router = APIRouter(tags=["public"])

# The page's own bound on a field: above every meaningful value, so that a field typed too long
# is answered on the page by the check's message rather than by a JSON error.
_FIELD_MAX = 100

ResultKind = Literal["valid", "void", "not-found", "problems", "refused"]


@dataclass(frozen=True)
class Problem:
    words: Words
    field: str | None  # the id of the input it is about, when it is about one


@dataclass(frozen=True)
class PageResult:
    """What the page shows above the form. `kind` is also the section's CSS class."""

    kind: ResultKind
    answer: PublicAnswer | None = None
    status: Words | None = None
    qr_url: str | None = None  # the URL of this check, for a found invoice
    problems: tuple[Problem, ...] = ()
    message: Words | None = None  # why the check did not run (429, 503)


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def lookup_page(
    request: Request,
    clients: ClientsDep,
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
    result, status_code, headers = None, 200, {}
    if token or any(values.values()):
        # The number as typed: the check reads it (ASCII digits, 1 to 99,999,999) and says
        # what is wrong with it, as with every other field.
        fields = PrintedFields(token=token or None, **{k: v or None for k, v in values.items()})
        try:
            answer = await clients.lookups.verify(fields, caller_address=client_address(request))
        except InvalidRequest as error:
            result = _problems(error)
        except (RateLimited, BackendUnavailable) as error:
            status_code = error.status
            headers = {"Retry-After": str(error.retry_after_s or 1)}
            limited = isinstance(error, RateLimited)
            message = rate_limited_words(error.retry_after_s) if limited else UNAVAILABLE
            result = PageResult("refused", message=message)
        else:
            page_url = clients.settings.lookup_page_url
            check = verify_url(page_url, token) if token else f"{page_url}/?{urlencode(values)}"
            result = _found(answer, check)
    context = {
        "result": result,
        "fields": PRINTED_FIELDS,
        "values": values,
        "token": token,
        "token_label": TOKEN_LABEL,
        "invalid": {problem.field for problem in result.problems} if result else set(),
    }
    return await render("page.html", context, status_code=status_code, headers=headers)


def _found(answer: PublicAnswer, check_url: str) -> PageResult:
    if answer.code is None:
        return PageResult("not-found", answer)
    kind: ResultKind = "valid" if answer.valid else "void"  # void: replaced or cancelled
    return PageResult(kind, answer, status_words(answer.status), qr_url=check_url)


def _problems(error: InvalidRequest) -> PageResult:
    problems = tuple(
        Problem(
            problem_words(detail.code, detail.field, detail.message),
            (detail.field or "").removeprefix("/") if label_of(detail.field) else None,
        )
        for detail in error.details
    )
    return PageResult("problems", problems=problems)
