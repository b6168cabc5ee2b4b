"""Authority codes, tokens verifiable by anyone with the JWKS, and the key ring."""

from __future__ import annotations

import base64
import re

import orjson
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from jwcrypto import jwk, jwt

from einvoice.invoice.samples import sample_invoice
from signing import jws
from signing.authority import (
    AuthorityKeyRing,
    check_code_prefix,
    generate_private_key_pem,
    new_code,
    token_claims,
)
from tests.signing.keys import ISSUER

CLAIMS = {"code": "00" + "AB" * 16, "number": 12, "coded": True, "iat": 1750000000}


def ring(*kids: str, active: str | None = None) -> AuthorityKeyRing:
    return AuthorityKeyRing.from_pems(
        {kid: generate_private_key_pem() for kid in kids}, active or kids[0]
    )


def test_codes_are_34_upper_case_hex_with_the_node_prefix() -> None:
    codes = {new_code("1A") for _ in range(1000)}

    assert len(codes) == 1000
    assert all(re.fullmatch(r"1A[0-9A-F]{32}", code) for code in codes)


@pytest.mark.parametrize("prefix", ["0", "000", "0a", "GG", ""])
def test_a_code_prefix_is_two_upper_case_hex_digits(prefix: str) -> None:
    with pytest.raises(ValueError, match="2 upper-case hex"):
        check_code_prefix(prefix)


def test_a_token_verifies_with_the_published_jwks_in_an_independent_library() -> None:
    keys = ring("cqt-1")
    token = keys.sign_token(CLAIMS)

    key_set = jwk.JWKSet.from_json(orjson.dumps(keys.jwks()).decode())
    verified = jwt.JWT(jwt=token, key=key_set, expected_type="JWS")

    assert orjson.loads(verified.claims) == CLAIMS
    assert orjson.loads(verified.token.objects["protected"]) == {
        "alg": "ES256",
        "kid": "cqt-1",
        "typ": "JWT",
    }


def test_tokens_of_a_retired_key_still_verify_and_new_ones_use_the_active_key() -> None:
    pems = {"old": generate_private_key_pem(), "new": generate_private_key_pem()}
    old_token = AuthorityKeyRing.from_pems(pems, "old").sign_token(CLAIMS)
    rotated = AuthorityKeyRing.from_pems(pems, "new")

    assert rotated.verify_token(old_token) == CLAIMS
    assert {key["kid"] for key in rotated.jwks()["keys"]} == {"old", "new"}
    new_header = orjson.loads(
        base64.urlsafe_b64decode(rotated.sign_token(CLAIMS).split(".")[0] + "==")
    )
    assert new_header["kid"] == "new"


def test_a_tampered_or_foreign_token_does_not_verify() -> None:
    keys = ring("cqt-1")
    header, payload, signature = keys.sign_token(CLAIMS).split(".")
    other = ring("cqt-1").sign_token(CLAIMS)  # same kid, another key
    forged_claims = base64.urlsafe_b64encode(orjson.dumps({**CLAIMS, "number": 13}))

    assert keys.verify_token(f"{header}.{forged_claims.decode().rstrip('=')}.{signature}") is None
    assert keys.verify_token(other) is None
    assert keys.verify_token("not a token") is None
    assert keys.verify_token(f"{header}.{payload}.") is None


def test_the_jwks_holds_public_parts_only() -> None:
    keys = ring("cqt-1")

    (published,) = keys.jwks()["keys"]

    assert set(published) == {"kid", "alg", "use", "kty", "crv", "x", "y", "x5c"}
    assert "d" not in published


def test_the_jwks_carries_the_keys_certificate_the_same_in_every_process() -> None:
    pem = generate_private_key_pem()  # one key file, loaded by two processes
    first, second = (AuthorityKeyRing.from_pems({"cqt-1": pem}, "cqt-1") for _ in range(2))

    (published,) = first.jwks()["keys"]
    certificate = x509.load_der_x509_certificate(base64.b64decode(published["x5c"][0]))

    assert published == second.jwks()["keys"][0]
    assert certificate.public_key() == first.active.private_key.public_key()
    certificate.verify_directly_issued_by(certificate)  # self-signed, and its signature holds


def test_an_ed25519_authority_key_signs_eddsa_tokens() -> None:
    pem = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    keys = AuthorityKeyRing.from_pems({"ed": pem}, "ed")
    token = keys.sign_token(CLAIMS)

    key_set = jwk.JWKSet.from_json(orjson.dumps(keys.jwks()).decode())
    assert orjson.loads(jwt.JWT(jwt=token, key=key_set, expected_type="JWS").claims) == CLAIMS


def test_key_material_never_appears_in_a_repr() -> None:
    pem = generate_private_key_pem()
    keys = AuthorityKeyRing.from_pems({"cqt-1": pem}, "cqt-1")
    secret_body = pem.decode().splitlines()[1]

    assert secret_body not in repr(keys)
    assert secret_body not in repr(keys.active)
    assert "cqt-1" in repr(keys)


def test_the_active_key_must_be_loaded() -> None:
    with pytest.raises(ValueError, match="not loaded"):
        AuthorityKeyRing.from_pems({"a": generate_private_key_pem()}, "b")


def test_a_token_names_its_issuer_first_and_never_expires() -> None:
    """`iss` is what JOSE libraries check a token's origin by; no `exp`, since what a token
    proves stays true and is checked for the ten years invoices are kept (docs/signing.md)."""
    keys = ring("cqt-1")
    claims = token_claims(
        sample_invoice(), issuer=ISSUER, code=new_code("00"), invoice_hash="ab" * 32, iat=1
    )
    token = keys.sign_token(claims)

    key_set = jwk.JWKSet.from_json(orjson.dumps(keys.jwks()).decode())
    verified = jwt.JWT(jwt=token, key=key_set, expected_type="JWS", check_claims={"iss": ISSUER})

    assert list(orjson.loads(verified.claims))[:2] == ["iss", "code"]
    assert "exp" not in claims
    assert "iss" not in token_claims(
        sample_invoice(), issuer=None, code=new_code("00"), invoice_hash="ab" * 32, iat=1
    )


def _signed_as_sent(keys: AuthorityKeyRing, header: bytes, payload: bytes) -> str:
    """A token whose signature holds over its encoded parts exactly as given: only the reading
    can refuse it."""
    signing_input = header + b"." + payload
    signature = jws.sign(keys.active.alg, keys.active.private_key, signing_input)
    return (signing_input + b"." + jws.b64url_encode(signature)).decode()


_TOKEN_HEADER = '{"alg":"ES256","kid":"cqt-1","typ":"JWT"}'


@pytest.mark.parametrize(
    ("header", "claims"),
    [
        ('{"alg":"ES256","kid":"cqt-1","kid":"cqt-1","typ":"JWT"}', '{"iat":1}'),
        ('{"alg":"ES256","kid":"cqt-1","typ":"JWT","typ":"JWT"}', '{"iat":1}'),
        ('{"alg":"ES256","kid":"other","\\u006bid":"cqt-1","typ":"JWT"}', '{"iat":1}'),
        (_TOKEN_HEADER, '{"code":"00AA","code":"00BB","iat":1}'),
    ],
)
def test_a_token_repeating_a_member_does_not_verify(header: str, claims: str) -> None:
    keys = ring("cqt-1")
    plain = _signed_as_sent(
        keys, jws.b64url_encode(_TOKEN_HEADER.encode()), jws.b64url_encode(b'{"iat":1}')
    )
    repeated = _signed_as_sent(
        keys, jws.b64url_encode(header.encode()), jws.b64url_encode(claims.encode())
    )

    assert keys.verify_token(plain) == {"iat": 1}
    assert keys.verify_token(repeated) is None


def test_a_token_in_padded_base64_does_not_verify() -> None:
    """RFC 7515 2: base64url without padding. Each part padded, its signature over those very
    bytes: a lenient reader would take every one of them."""
    keys = ring("cqt-1")
    header = base64.urlsafe_b64encode(_TOKEN_HEADER.encode())  # 41 bytes: one "="
    payload = base64.urlsafe_b64encode(b'{"iat":12}')  # 10 bytes: two "="
    clean_header, clean_payload = header.rstrip(b"="), payload.rstrip(b"=")
    clean = _signed_as_sent(keys, clean_header, clean_payload)
    head, _, signature = clean.rpartition(".")

    assert header.endswith(b"=")
    assert payload.endswith(b"==")
    assert keys.verify_token(clean) == {"iat": 12}
    for bent in (
        _signed_as_sent(keys, header, clean_payload),
        _signed_as_sent(keys, clean_header, payload),
        f"{head}.{signature}==",  # ES256: 64 bytes, two "="
    ):
        assert keys.verify_token(bent) is None
