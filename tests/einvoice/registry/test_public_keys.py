"""Registering public keys: PEM or JWK, checked and normalised (pure)."""

from __future__ import annotations

import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from einvoice.errors import Unprocessable
from einvoice.registry.public_keys import load_public_jwk, parse_public_key
from signing import jws
from tests.signing.keys import ALGORITHMS, private_key


def _pem(key: jws.PublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_pem_and_jwk_forms_of_a_key_agree(alg: str) -> None:
    public = private_key(alg).public_key()
    requested = alg if alg == "PS256" else None

    from_pem = parse_public_key(_pem(public), requested)
    from_jwk = parse_public_key(from_pem.jwk, requested)

    assert from_pem.algorithm == from_jwk.algorithm == alg
    assert from_pem.jwk == from_jwk.jwk
    assert jws.public_jwk(load_public_jwk(from_pem.jwk)) == from_pem.jwk


def test_a_jwk_may_come_as_json_text_and_name_its_algorithm() -> None:
    jwk = dict(jws.public_jwk(private_key("PS256").public_key()), alg="PS256")

    assert parse_public_key(orjson.dumps(jwk).decode()).algorithm == "PS256"


@pytest.mark.parametrize(
    ("material", "algorithm", "code"),
    [
        ("not a key", None, "KEY_MALFORMED"),
        ("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", None, "KEY_MALFORMED"),
        ({"kty": "RSA", "n": "%%%", "e": "AQAB"}, None, "KEY_MALFORMED"),
        ({"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"}, None, "KEY_TYPE_UNSUPPORTED"),
        ({"kty": "oct", "k": "c2VjcmV0"}, None, "KEY_TYPE_UNSUPPORTED"),
        ({"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA", "d": "AA"}, None, "KEY_PRIVATE_MATERIAL"),
        ("[1, 2]", None, "KEY_MALFORMED"),
    ],
)  # fmt: skip
def test_malformed_keys_are_refused_with_a_code(
    material: object, algorithm: str | None, code: str
) -> None:
    with pytest.raises(Unprocessable) as refused:
        parse_public_key(material, algorithm)  # type: ignore[arg-type]

    assert refused.value.details[0].code == code
    assert refused.value.details[0].field == "/public_key"


def test_a_private_key_in_pem_is_refused() -> None:
    pem = private_key("ES256").private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )

    with pytest.raises(Unprocessable, match="public key only"):
        parse_public_key(pem.decode())


def test_rsa_below_2048_bits_is_refused() -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505

    with pytest.raises(Unprocessable) as refused:
        parse_public_key(_pem(weak.public_key()))

    assert refused.value.details[0].code == "KEY_TOO_WEAK"


def test_an_algorithm_the_key_cannot_sign_with_is_refused() -> None:
    p256 = ec.generate_private_key(ec.SECP256R1()).public_key()

    with pytest.raises(Unprocessable) as refused:
        parse_public_key(_pem(p256), "RS256")

    assert refused.value.details[0].code == "KEY_ALGORITHM_MISMATCH"


def test_a_curve_other_than_p256_in_pem_is_refused() -> None:
    p384 = ec.generate_private_key(ec.SECP384R1()).public_key()

    with pytest.raises(Unprocessable) as refused:
        parse_public_key(_pem(p384))

    assert refused.value.details[0].code == "KEY_TYPE_UNSUPPORTED"
