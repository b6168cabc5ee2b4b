"""Strict JSON through the real service: a submission whose body or JWS header repeats a member
name, or whose JWS is not canonical base64url, is refused with 422 and nothing is stored (the
same invoice sent cleanly afterwards is created, 201, not a repeat)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import orjson
import pytest

from einvoice.config import Settings
from einvoice.invoice.samples import sample_invoice
from einvoice.timezone import VIETNAM
from signing import jws
from signing.canonical import canonical_invoice_bytes
from signing.seller import sign_invoice
from tests.api.test_invoices import Seller, make_seller
from tests.signing.keys import private_key


@pytest.fixture
async def seller(settings: Settings) -> Seller:
    return await make_seller(settings)


def submission_issued_today(seller: Seller, number: int) -> dict[str, Any]:
    """A valid submission issued today (in Vietnam), whatever the rules say of older dates."""
    today = dt.datetime.now(VIETNAM).date()
    invoice = sample_invoice(seller_tax_code=seller.tax_code, number=number, issued=today)
    signature = sign_invoice(invoice, private_key(seller.alg), kid=seller.kid, alg=seller.alg)
    return {"invoice": invoice, "signature": signature}


async def _post(http: httpx.AsyncClient, seller: Seller, body: bytes) -> httpx.Response:
    headers = {**seller.headers, "Content-Type": "application/json"}
    return await http.post("/v1/invoices", content=body, headers=headers)


async def _created_afterwards(
    http: httpx.AsyncClient, seller: Seller, submission: dict[str, Any]
) -> None:
    clean = await _post(http, seller, orjson.dumps(submission))
    assert clean.status_code == 201, clean.text


def _signed_with_header(seller: Seller, invoice: dict[str, Any], header: bytes) -> str:
    header_b64 = jws.b64url_encode(header)
    signing_input = header_b64 + b"." + jws.b64url_encode(canonical_invoice_bytes(invoice))
    signature = jws.sign(seller.alg, private_key(seller.alg), signing_input)
    return (header_b64 + b".." + jws.b64url_encode(signature)).decode()


async def test_an_invoice_repeating_a_member_is_refused_with_its_pointer(
    seller: Seller, http: httpx.AsyncClient
) -> None:
    submission = submission_issued_today(seller, 1)
    body = orjson.dumps(submission)
    # Read last-wins, this would be the signed invoice, valid; another reader sees "Someone else".
    repeated = body.replace(b'"seller":{', b'"seller":{"name":"Someone else",', 1)
    assert repeated != body

    response = await _post(http, seller, repeated)

    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert (error["code"], error["field"]) == ("DUPLICATE_MEMBER", "/invoice/seller/name")
    assert '"name"' in error["message"]
    await _created_afterwards(http, seller, submission)


async def test_an_escaped_spelling_of_a_member_is_the_same_member(
    seller: Seller, http: httpx.AsyncClient
) -> None:
    submission = submission_issued_today(seller, 2)
    body = orjson.dumps(submission)
    repeated = body[:-1] + b',"\\u0073ignature":' + orjson.dumps(submission["signature"]) + b"}"

    response = await _post(http, seller, repeated)

    assert response.status_code == 422, response.text
    assert [(e["code"], e["field"]) for e in response.json()["errors"]] == [
        ("DUPLICATE_MEMBER", "/signature")
    ]
    await _created_afterwards(http, seller, submission)


async def test_a_jws_header_repeating_a_member_is_a_malformed_signature(
    seller: Seller, http: httpx.AsyncClient
) -> None:
    submission = submission_issued_today(seller, 3)
    kid = orjson.dumps(seller.kid).decode()
    header = f'{{"alg":"{seller.alg}","kid":"someone-else","kid":{kid}}}'.encode()
    signature = _signed_with_header(seller, submission["invoice"], header)

    response = await _post(http, seller, orjson.dumps({**submission, "signature": signature}))

    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert (error["code"], error["field"]) == ("SIGNATURE_MALFORMED", "/signature")
    assert 'repeats the member "kid"' in error["message"]
    await _created_afterwards(http, seller, submission)


async def test_a_jws_in_a_lenient_base64_form_is_a_malformed_signature(
    seller: Seller, http: httpx.AsyncClient
) -> None:
    submission = submission_issued_today(seller, 4)
    head, _, signature_b64 = submission["signature"].partition("..")
    for bent in (f"{head}..{signature_b64[:10]} {signature_b64[10:]}", f"{head}=..{signature_b64}"):
        response = await _post(http, seller, orjson.dumps({**submission, "signature": bent}))

        assert response.status_code == 422, response.text
        assert [(e["code"], e["field"]) for e in response.json()["errors"]] == [
            ("SIGNATURE_MALFORMED", "/signature")
        ]
    await _created_afterwards(http, seller, submission)


async def test_a_body_nested_too_deep_is_not_json(seller: Seller, http: httpx.AsyncClient) -> None:
    deep = b'{"invoice":' + b"[" * 64 + b"]" * 64 + b"}"

    response = await _post(http, seller, deep)

    assert response.status_code == 400, response.text
    [error] = response.json()["errors"]
    assert error["code"] == "MALFORMED_JSON"
    assert "nested deeper than 64 levels" in error["message"]
