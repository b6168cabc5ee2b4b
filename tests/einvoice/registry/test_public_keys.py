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


def _jwk(key_alg: str, /, **members: object) -> dict[str, object]:
    return {**jws.public_jwk(private_key(key_alg).public_key()), **members}


@pytest.mark.parametrize(
    ("members", "algorithm", "kid", "field"),
    [
        ({"alg": "RS256"}, "PS256", "k1", "/public_key/alg"),
        ({"alg": "PS256"}, "RS256", "k1", "/public_key/alg"),
        ({"use": "enc"}, None, "k1", "/public_key/use"),
        ({"use": None}, None, "k1", "/public_key/use"),
        ({"key_ops": ["encrypt"]}, None, "k1", "/public_key/key_ops"),
        ({"key_ops": ["sign"]}, None, "k1", "/public_key/key_ops"),
        ({"key_ops": "verify"}, None, "k1", "/public_key/key_ops"),
        ({"kid": "k2"}, None, "k1", "/public_key/kid"),
        ({"kid": "k1", "alg": "RS256", "use": "enc"}, "RS256", "k1", "/public_key/use"),
    ],
)
def test_a_jwk_contradicting_its_registration_is_refused_not_overridden(
    members: dict[str, object], algorithm: str | None, kid: str, field: str
) -> None:
    """What a JWK says about itself holds (found by a client on another JOSE library, whose
    key said PS256 and was registered as RS256 without a word)."""
    with pytest.raises(Unprocessable) as refused:
        parse_public_key(_jwk("PS256", **members), algorithm, kid=kid)

    (detail,) = refused.value.details
    assert (detail.code, detail.field) == ("KEY_CONTRADICTS_REGISTRATION", field)
    assert "None" not in detail.message


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ({"alg": "RS256"}, "the JWK's alg is \"RS256\", the registration's PS256"),
        ({"use": "enc"}, "the JWK's use is \"enc\": a seller's key verifies signatures"),
        ({"use": None}, "the JWK's use is null: a seller's key verifies signatures"),
        ({"key_ops": ["sign"]}, 'the JWK\'s key_ops ["sign"] leave out verifying signatures'),
        ({"kid": "k2"}, 'the JWK\'s kid is "k2", the registration\'s "k1"'),
    ],
)
def test_a_contradiction_is_told_in_json_terms(members: dict[str, object], message: str) -> None:
    with pytest.raises(Unprocessable) as refused:
        parse_public_key(_jwk("PS256", **members), "PS256", kid="k1")

    assert refused.value.details[0].message == message


def test_a_jwk_agreeing_with_its_registration_is_registered() -> None:
    agreeing = _jwk("PS256", alg="PS256", kid="k1", use="sig", key_ops=["verify"])

    parsed = parse_public_key(agreeing, "PS256", kid="k1")

    assert parsed.algorithm == "PS256"
    assert parsed.jwk == jws.public_jwk(private_key("PS256").public_key())  # parameters only
    assert parse_public_key(_jwk("ES256", alg="ES256"), None, kid="k1").algorithm == "ES256"


@pytest.mark.parametrize(
    ("jwk_alg", "algorithm"),
    [("Ed25519", None), ("Ed25519", "EdDSA"), ("EdDSA", "Ed25519"), (None, "Ed25519")],
)
def test_ed25519_registers_as_eddsa(jwk_alg: str | None, algorithm: str | None) -> None:
    """RFC 9864's name is accepted wherever EdDSA is, and stored as EdDSA, one algorithm."""
    members = {} if jwk_alg is None else {"alg": jwk_alg}

    assert parse_public_key(_jwk("EdDSA", **members), algorithm).algorithm == "EdDSA"


def test_a_jwk_naming_an_algorithm_not_accepted_is_refused_on_its_alg() -> None:
    with pytest.raises(Unprocessable) as refused:
        parse_public_key(_jwk("RS256", alg="RS384"))

    (detail,) = refused.value.details
    assert (detail.code, detail.field) == ("KEY_ALGORITHM_MISMATCH", "/public_key/alg")
    assert detail.message == (
        'the JWK\'s alg "RS384" is not one of RS256, PS256, ES256, EdDSA (or Ed25519)'
    )


def test_the_algorithms_a_key_signs_with_are_listed_as_text() -> None:
    with pytest.raises(Unprocessable) as refused:
        parse_public_key(_jwk("RS256"), "ES256")

    assert refused.value.details[0].message == "this key signs with PS256 or RS256, not ES256"


@pytest.mark.parametrize("bent", ["AQAB=", "AQAB==", "AQ AB", "AQA+"])
def test_jwk_parameters_are_base64url_in_its_one_form(bent: str) -> None:
    with pytest.raises(Unprocessable) as refused:
        parse_public_key(_jwk("RS256", e=bent))

    assert refused.value.details[0].code == "KEY_MALFORMED"
