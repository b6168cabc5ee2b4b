"""Authenticating a submission end to end (pure): code, token, and every error collected."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import orjson
import pytest
from jwcrypto import jwk, jwt

from einvoice.invoice.authenticate import Authenticated, Authority, Rejected, authenticate
from einvoice.invoice.samples import SELLER_TAX_CODE, sample_invoice
from signing.authority import AuthorityKeyRing, generate_private_key_pem
from signing.canonical import canonical_invoice_bytes, invoice_hash
from signing.seller import SellerKey, sign_invoice
from tests.signing.keys import ALGORITHMS, ISSUER, private_key, seller_key

NOW = dt.datetime(2025, 6, 20, 3, 0, tzinfo=dt.UTC)
AUTHORITY = Authority(
    AuthorityKeyRing.from_pems({"cqt-1": generate_private_key_pem()}, "cqt-1"), "00", ISSUER
)


def submit(invoice: Any, signature: Any, *keys: SellerKey) -> Authenticated | Rejected:
    registered = {key.kid: key for key in keys}
    return authenticate(
        invoice,
        signature,
        keys_for_seller=lambda tax_code: registered if tax_code == SELLER_TAX_CODE else {},
        authority=AUTHORITY,
        now=NOW,
    )


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_a_valid_invoice_gets_a_code_and_a_token_anyone_can_verify(alg: str) -> None:
    invoice = sample_invoice()
    key = seller_key(alg)
    signature = sign_invoice(invoice, private_key(alg), kid=key.kid, alg=alg)

    outcome = submit(invoice, signature, key)

    assert isinstance(outcome, Authenticated)
    assert re.fullmatch(r"00[0-9A-F]{32}", outcome.code)
    assert outcome.invoice_hash == invoice_hash(canonical_invoice_bytes(invoice))
    key_set = jwk.JWKSet.from_json(orjson.dumps(AUTHORITY.keyring.jwks()).decode())
    claims = orjson.loads(jwt.JWT(jwt=outcome.token, key=key_set, expected_type="JWS").claims)
    assert claims == {
        "iss": ISSUER,
        "code": outcome.code,
        "seller_tax_code": SELLER_TAX_CODE,
        "template": "1",
        "symbol": "C25TAA",
        "number": 1,
        "issued_date": "2025-06-15",
        "total_payable": invoice["totals"]["total_payable"],
        "tax_amount": invoice["totals"]["tax_amount"],
        "invoice_hash": outcome.invoice_hash,
        "coded": True,
        "iat": int(NOW.timestamp()),
    }
    assert len(outcome.token) < 1000  # fits a QR code with room to spare


def test_a_k_symbol_invoice_is_signed_with_coded_false() -> None:
    invoice = dict(sample_invoice(), symbol="K25TAA")
    key = seller_key("ES256")
    signature = sign_invoice(invoice, private_key("ES256"), kid=key.kid, alg="ES256")

    outcome = submit(invoice, signature, key)

    assert isinstance(outcome, Authenticated)
    assert outcome.coded is False
    assert AUTHORITY.keyring.verify_token(outcome.token)["coded"] is False  # type: ignore[index]


def test_rule_and_signature_failures_are_collected_together_with_pointers() -> None:
    invoice = sample_invoice()
    key = seller_key("ES256")
    signature = sign_invoice(invoice, private_key("ES256"), kid=key.kid, alg="ES256")
    invoice["totals"]["total_payable"] = "1"  # breaks a rule, and the signature with it

    outcome = submit(invoice, signature, key)

    assert isinstance(outcome, Rejected)
    assert [(e.code, e.field) for e in outcome.errors] == [
        ("TOTAL_PAYABLE_MISMATCH", "/invoice/totals/total_payable"),
        ("SIGNATURE_INVALID", "/signature"),
    ]
    assert outcome.invoice_hash == invoice_hash(canonical_invoice_bytes(invoice))


def test_a_structurally_broken_submission_reports_structure_and_a_missing_signature() -> None:
    outcome = submit({"template": "1"}, None)

    assert isinstance(outcome, Rejected)
    fields = {e.field for e in outcome.errors}
    assert {"/invoice/symbol", "/invoice/seller", "/signature"} <= fields
    assert outcome.invoice is None


def test_a_seller_without_registered_keys_is_refused() -> None:
    invoice = sample_invoice()
    signature = sign_invoice(invoice, private_key("ES256"), kid="seller-es256", alg="ES256")

    outcome = submit(invoice, signature)

    assert isinstance(outcome, Rejected)
    assert [e.code for e in outcome.errors] == ["SIGNATURE_KEY_UNKNOWN"]


def test_each_authentication_issues_a_new_code() -> None:
    invoice = sample_invoice()
    key = seller_key("EdDSA")
    signature = sign_invoice(invoice, private_key("EdDSA"), kid=key.kid, alg="EdDSA")

    first, second = submit(invoice, signature, key), submit(invoice, signature, key)

    # Idempotency (the same answer for a resubmission) is the storage layer's business.
    assert isinstance(first, Authenticated)
    assert isinstance(second, Authenticated)
    assert first.code != second.code
    assert first.invoice_hash == second.invoice_hash
