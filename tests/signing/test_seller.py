"""The seller's detached JWS: all four algorithms, key checks, tampering, and interoperability
with an independent JOSE library (jwcrypto) in both directions."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwcrypto import jwk
from jwcrypto import jws as jwcrypto_jws

from einvoice.invoice.samples import SELLER_TAX_CODE, sample_invoice
from signing import jws
from signing.canonical import canonical_invoice_bytes
from signing.seller import SellerKey, sign_invoice, verify_seller_signature
from tests.signing.keys import ALGORITHMS, private_key, seller_key

NOW = dt.datetime(2025, 6, 20, 3, 0, tzinfo=dt.UTC)
ISSUED = dt.date(2025, 6, 15)


def verify(signature: str, invoice: Any, *keys: SellerKey, **options: Any) -> list[str]:
    found = verify_seller_signature(
        signature,
        canonical_invoice_bytes(invoice),
        seller_tax_code=options.get("seller", SELLER_TAX_CODE),
        issued=options.get("issued", ISSUED),
        keys={key.kid: key for key in keys},
        now=options.get("now", NOW),
    )
    return [error.code for error in found]


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_a_signature_by_each_algorithm_verifies(alg: str) -> None:
    invoice = sample_invoice()
    key = seller_key(alg)

    signature = sign_invoice(invoice, private_key(alg), kid=key.kid, alg=alg)

    assert signature.split(".")[1] == ""  # detached: the payload part is empty
    assert verify(signature, invoice, key) == []


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_a_detached_jws_made_by_jwcrypto_verifies(alg: str) -> None:
    invoice = sample_invoice()
    key = seller_key(alg)
    pem = private_key(alg).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    signer = jwcrypto_jws.JWS(canonical_invoice_bytes(invoice))
    signer.add_signature(
        jwk.JWK.from_pem(pem), alg, protected=orjson.dumps({"alg": alg, "kid": key.kid}).decode()
    )
    header, _, signature = signer.serialize(compact=True).split(".")

    assert verify(f"{header}..{signature}", invoice, key) == []


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_our_signature_verifies_in_jwcrypto(alg: str) -> None:
    invoice = sample_invoice()
    signature = sign_invoice(invoice, private_key(alg), kid="k", alg=alg)
    public_pem = (
        private_key(alg)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    header, _, raw = signature.split(".")
    attached = ".".join([header, jws.b64url_encode(canonical_invoice_bytes(invoice)).decode(), raw])

    checker = jwcrypto_jws.JWS()
    checker.deserialize(attached)
    checker.verify(jwk.JWK.from_pem(public_pem))  # raises when it does not verify


def _changes() -> list[tuple[str, Any]]:
    return [
        ("number", 2),
        ("issued_date", "2025-06-14"),
        ("payment_method", "TM"),
    ]


@pytest.mark.parametrize(("field", "value"), _changes())
def test_any_change_to_a_signed_invoice_breaks_the_signature(field: str, value: Any) -> None:
    invoice = sample_invoice()
    key = seller_key("ES256")
    signature = sign_invoice(invoice, private_key("ES256"), kid=key.kid, alg="ES256")

    assert verify(signature, dict(invoice, **{field: value}), key) == ["SIGNATURE_INVALID"]


def test_a_change_deep_inside_breaks_the_signature_but_reordering_keys_does_not() -> None:
    invoice = sample_invoice()
    key = seller_key("RS256")
    signature = sign_invoice(invoice, private_key("RS256"), kid=key.kid, alg="RS256")

    reordered = orjson.loads(orjson.dumps(dict(reversed(list(invoice.items())))))
    assert verify(signature, reordered, key) == []

    invoice["lines"][7]["name"] += " "
    assert verify(signature, invoice, key) == ["SIGNATURE_INVALID"]


def test_a_signature_by_another_key_of_the_same_algorithm_fails() -> None:
    invoice = sample_invoice()
    key = seller_key("RS256")
    impostor = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    signature = sign_invoice(invoice, impostor, kid=key.kid, alg="RS256")

    assert verify(signature, invoice, key) == ["SIGNATURE_INVALID"]


@pytest.mark.parametrize(
    ("key_changes", "options", "code"),
    [
        ({"tax_code": "0314409058"}, {}, "SIGNATURE_KEY_UNKNOWN"),
        ({"kid": "another"}, {}, "SIGNATURE_KEY_UNKNOWN"),
        ({"valid_from": dt.datetime(2025, 6, 16, tzinfo=dt.UTC)}, {}, "SIGNATURE_KEY_NOT_ACTIVE"),
        ({"valid_to": dt.datetime(2025, 6, 14, tzinfo=dt.UTC)}, {}, "SIGNATURE_KEY_NOT_ACTIVE"),
        ({"revoked_at": dt.datetime(2025, 6, 19, tzinfo=dt.UTC)}, {}, "SIGNATURE_KEY_REVOKED"),
        ({"algorithm": "PS256"}, {}, "SIGNATURE_KEY_ALGORITHM_MISMATCH"),
    ],
)
def test_the_key_must_be_the_sellers_valid_on_the_issue_date_and_not_revoked(
    key_changes: dict[str, Any], options: dict[str, Any], code: str
) -> None:
    invoice = sample_invoice()
    signature = sign_invoice(invoice, private_key("RS256"), kid="seller-rs256", alg="RS256")

    assert verify(signature, invoice, seller_key("RS256", **key_changes), **options) == [code]


def test_a_key_valid_until_the_issue_date_is_still_valid_that_day() -> None:
    invoice = sample_invoice()
    # 2025-06-15 00:30 in Vietnam is 2025-06-14 17:30 UTC.
    key = seller_key("ES256", valid_to=dt.datetime(2025, 6, 14, 17, 30, tzinfo=dt.UTC))
    signature = sign_invoice(invoice, private_key("ES256"), kid=key.kid, alg="ES256")

    assert verify(signature, invoice, key) == []


def test_a_revocation_later_than_now_does_not_apply_yet() -> None:
    invoice = sample_invoice()
    key = seller_key("ES256", revoked_at=dt.datetime(2025, 7, 1, tzinfo=dt.UTC))
    signature = sign_invoice(invoice, private_key("ES256"), kid=key.kid, alg="ES256")

    assert verify(signature, invoice, key) == []


def test_rsa_below_2048_bits_is_refused() -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - on purpose
    key = seller_key("RS256", public_key=weak.public_key(), kid="weak")
    invoice = sample_invoice()
    signature = sign_invoice(invoice, weak, kid="weak", alg="RS256")

    assert verify(signature, invoice, key) == ["SIGNATURE_KEY_TOO_WEAK"]


def _header(fields: Any) -> str:
    return jws.b64url_encode(orjson.dumps(fields)).decode()


_ES = {"alg": "ES256", "kid": "seller-es256"}


@pytest.mark.parametrize(
    ("signature", "code"),
    [
        ("", "SIGNATURE_MALFORMED"),
        ("abc", "SIGNATURE_MALFORMED"),
        ("a.b.c.d", "SIGNATURE_MALFORMED"),
        ("!!!..AAAA", "SIGNATURE_MALFORMED"),
        ("é..AAAA", "SIGNATURE_MALFORMED"),
        (_header(_ES) + ".cGF5bG9hZA.AAAA", "SIGNATURE_MALFORMED"),
        (_header([1, 2]) + "..AAAA", "SIGNATURE_MALFORMED"),
        (_header({**_ES, "alg": "none"}) + "..AAAA", "SIGNATURE_ALGORITHM_NOT_ALLOWED"),
        (_header({**_ES, "alg": "HS256"}) + "..AAAA", "SIGNATURE_ALGORITHM_NOT_ALLOWED"),
        (_header({"alg": "ES256"}) + "..AAAA", "SIGNATURE_KEY_UNKNOWN"),
        (_header({**_ES, "b64": False, "crit": ["b64"]}) + "..AAAA", "SIGNATURE_MALFORMED"),
        (_header(_ES) + "..AAAA", "SIGNATURE_INVALID"),
    ],
)  # fmt: skip
def test_malformed_signatures_get_a_code_never_an_exception(signature: str, code: str) -> None:
    assert verify(signature, sample_invoice(), seller_key("ES256")) == [code]


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ({"kid": "seller-es256"}, "the header has no alg: use RS256, PS256, ES256 or EdDSA"),
        ({**_ES, "alg": None}, "alg null is not accepted"),
        ({**_ES, "alg": "HS256"}, 'alg "HS256" is not accepted'),
        ({**_ES, "alg": ["ES256"]}, 'alg ["ES256"] is not accepted'),
        ({"alg": "ES256"}, "the header has no kid naming the key"),
        ({**_ES, "kid": None}, "no key null is registered to the seller"),
        ({**_ES, "kid": "k'1"}, """no key "k'1" is registered to the seller"""),
        ({**_ES, "kid": 7}, "no key 7 is registered to the seller"),
    ],
)  # fmt: skip
def test_messages_quote_header_values_as_json_never_as_python(
    header: dict[str, Any], message: str
) -> None:
    """Integrators write their clients in any language: `None` or `'x'` would be ours, not
    theirs (a client on another JOSE library found them)."""
    (found,) = verify_seller_signature(
        _header(header) + "..AAAA",
        canonical_invoice_bytes(sample_invoice()),
        seller_tax_code=SELLER_TAX_CODE,
        issued=ISSUED,
        keys={"seller-es256": seller_key("ES256")},
        now=NOW,
    )

    assert message in found.message
    assert "None" not in found.message


def test_ed25519_is_accepted_as_the_name_of_eddsa() -> None:
    """RFC 9864's fully-specified name, as newer JOSE libraries write it, for a key registered
    under either name (the registry stores EdDSA)."""
    invoice = sample_invoice()
    key = seller_key("EdDSA")
    signature = sign_invoice(invoice, private_key("EdDSA"), kid=key.kid, alg="Ed25519")

    assert _alg_of(signature) == "Ed25519"
    assert verify(signature, invoice, key) == []
    assert verify(signature, invoice, seller_key("ES256", kid=key.kid)) == [
        "SIGNATURE_KEY_ALGORITHM_MISMATCH"
    ]


def _alg_of(signature: str) -> Any:
    return orjson.loads(jws.b64url_decode(signature.split(".")[0]))["alg"]
