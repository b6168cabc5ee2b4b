"""Sellers' public keys as they are registered: PEM or JWK in, checked, one normal form out.

Accepted: RSA of at least 2048 bits (RS256, or PS256 when asked for), P-256 (ES256) and Ed25519
(EdDSA, also named Ed25519 after RFC 9864). A key is stored as its public JWK (RFC 7517) with the
algorithm it may sign with, and parsed back into a `cryptography` key when the registry is loaded.
Private key material is refused outright: nobody should ever send it.

A JWK may say what it is for (`alg`, `kid`, `use`, `key_ops`). What it says must agree with the
registration, or the key is refused (KEY_CONTRADICTS_REGISTRATION): overriding it would register
a key its owner's own JOSE library describes otherwise, and the first sign of the mix-up would be
a rejected invoice. Only the key's parameters are stored; those members are checked, not kept.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import orjson
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from einvoice.error_codes import ErrorCode
from einvoice.errors import Unprocessable, shown
from signing import jws

MIN_RSA_BITS = 2048
_ACCEPTED = "RS256, PS256, ES256, EdDSA (or Ed25519)"


@dataclass(frozen=True)
class ParsedKey:
    algorithm: str
    public_key: jws.PublicKey
    jwk: dict[str, str]


def parse_public_key(
    material: str | dict[str, Any],
    algorithm: str | None = None,
    *,
    kid: str | None = None,
    field: str = "/public_key",
) -> ParsedKey:
    """Check a submitted public key (PEM text, JWK object or JWK JSON text) and normalise it.
    `algorithm` and `kid` are the registration's; a JWK's own must not contradict them."""
    jwk: dict[str, Any] | None = None
    if isinstance(material, dict):
        jwk = material
    elif material.lstrip().startswith("-----BEGIN"):
        if "PRIVATE KEY" in material:
            raise _error(
                ErrorCode.KEY_PRIVATE_MATERIAL,
                "send the public key only, never the private key",
                field,
            )
        try:
            loaded = serialization.load_pem_public_key(material.encode())
        except ValueError as error:
            raise _error(ErrorCode.KEY_MALFORMED, "not a PEM public key", field) from error
        if not isinstance(
            loaded, rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
        ):
            raise _error(ErrorCode.KEY_TYPE_UNSUPPORTED, "use RSA, P-256 or Ed25519", field)
        public_key = loaded
    else:
        try:
            document = orjson.loads(material)
        except orjson.JSONDecodeError as error:
            raise _error(
                ErrorCode.KEY_MALFORMED, "expected a PEM public key or a JWK", field
            ) from error
        if not isinstance(document, dict):
            raise _error(ErrorCode.KEY_MALFORMED, "a JWK is a JSON object", field)
        jwk = document
    if jwk is not None:
        public_key = _from_jwk(jwk, field)  # private material is refused before anything else
    requested = _registered_algorithm(algorithm, field)
    if jwk is not None:
        requested = _agreed_algorithm(jwk, requested, kid, field)
    chosen = _algorithm(public_key, requested, field)
    return ParsedKey(chosen, public_key, jws.public_jwk(public_key))


def load_public_jwk(jwk: dict[str, Any]) -> jws.PublicKey:
    """A stored public JWK back into a key object (the registry wrote it, so it is well-formed)."""
    return _from_jwk(jwk, "/public_jwk")


def _registered_algorithm(algorithm: str | None, field: str) -> str | None:
    """The registration's algorithm in the name the registry stores (`Ed25519` is `EdDSA`)."""
    if algorithm is None:
        return None
    named = jws.algorithm_named(algorithm)
    if named is None:
        raise _error(
            ErrorCode.KEY_ALGORITHM_MISMATCH,
            f"the algorithm {shown(algorithm)} is not one of {_ACCEPTED}",
            field,
        )
    return named


def _agreed_algorithm(
    jwk: dict[str, Any], registered: str | None, kid: str | None, field: str
) -> str | None:
    """The algorithm to register once the JWK's own members agree with the registration: the
    registration's, else the JWK's `alg`, else None (the key's default)."""

    def contradiction(member: str, message: str) -> Unprocessable:
        return _error(ErrorCode.KEY_CONTRADICTS_REGISTRATION, message, f"{field}/{member}")

    if "use" in jwk and jwk["use"] != "sig":
        use = shown(jwk["use"])
        raise contradiction("use", f"the JWK's use is {use}: a seller's key verifies signatures")
    key_ops = jwk.get("key_ops", ["verify"])
    if not isinstance(key_ops, list) or "verify" not in key_ops:
        ops = shown(key_ops)
        raise contradiction("key_ops", f"the JWK's key_ops {ops} leave out verifying signatures")
    if kid is not None and "kid" in jwk and jwk["kid"] != kid:
        own_kid = shown(jwk["kid"])
        raise contradiction("kid", f"the JWK's kid is {own_kid}, the registration's {shown(kid)}")
    if "alg" not in jwk:
        return registered
    own = jws.algorithm_named(jwk["alg"])
    if registered is not None and own != registered:
        alg = shown(jwk["alg"])
        raise contradiction("alg", f"the JWK's alg is {alg}, the registration's {registered}")
    if own is None:
        raise _error(
            ErrorCode.KEY_ALGORITHM_MISMATCH,
            f"the JWK's alg {shown(jwk['alg'])} is not one of {_ACCEPTED}",
            f"{field}/alg",
        )
    return own


def _from_jwk(jwk: dict[str, Any], field: str) -> jws.PublicKey:
    if "d" in jwk:
        raise _error(
            ErrorCode.KEY_PRIVATE_MATERIAL, "send the public key only, never the private key", field
        )
    kty = jwk.get("kty")
    try:
        if kty == "RSA":
            n, e = _int(jwk["n"]), _int(jwk["e"])
            return rsa.RSAPublicNumbers(e, n).public_key()
        if kty == "EC":
            if jwk.get("crv") != "P-256":
                raise _error(ErrorCode.KEY_TYPE_UNSUPPORTED, "EC keys are P-256 (ES256)", field)
            point = ec.EllipticCurvePublicNumbers(_int(jwk["x"]), _int(jwk["y"]), ec.SECP256R1())
            return point.public_key()
        if kty == "OKP" and jwk.get("crv") == "Ed25519":
            return ed25519.Ed25519PublicKey.from_public_bytes(jws.b64url_decode(jwk["x"]))
    except (KeyError, TypeError, ValueError, jws.JwsError) as error:
        raise _error(ErrorCode.KEY_MALFORMED, f"not a valid {kty} JWK", field) from error
    raise _error(ErrorCode.KEY_TYPE_UNSUPPORTED, "use RSA, P-256 (EC) or Ed25519 (OKP)", field)


def _algorithm(key: jws.PublicKey, requested: str | None, field: str) -> str:
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise _error(
                ErrorCode.KEY_TOO_WEAK, f"RSA keys need at least {MIN_RSA_BITS} bits", field
            )
        allowed = {"RS256", "PS256"}
    else:
        allowed = jws.key_algorithm(key)
        if not allowed:
            raise _error(ErrorCode.KEY_TYPE_UNSUPPORTED, "EC keys are P-256 (ES256)", field)
    if requested is None:
        return "RS256" if "RS256" in allowed else next(iter(allowed))
    if requested not in allowed:
        raise _error(
            ErrorCode.KEY_ALGORITHM_MISMATCH,
            f"this key signs with {' or '.join(sorted(allowed))}, not {requested}",
            field,
        )
    return requested


def _error(code: ErrorCode, message: str, field: str) -> Unprocessable:
    return Unprocessable(message, code=code, field=field)


def _int(text: Any) -> int:
    """A JWK's base64urlUInt (RFC 7518 2), read as strictly as a JWS's base64url."""
    if not isinstance(text, str):
        raise TypeError("expected base64url text")
    return int.from_bytes(jws.b64url_decode(text), "big")


@dataclass(frozen=True)
class ParsedCertificate:
    """A seller's X.509 certificate: its key as any registered key, and its own bytes."""

    key: ParsedKey
    der: bytes
    not_before: dt.datetime
    not_after: dt.datetime


def parse_certificate(pem: str, *, field: str = "/certificate") -> ParsedCertificate:
    """Check a submitted certificate (PEM). Its key must be RSA of at least 2048 bits or P-256,
    the two the national XML's signatures use; self-signed is accepted (a CA chain check is the
    extension point, docs/registry.md)."""
    if "PRIVATE KEY" in pem:
        raise _error(
            ErrorCode.KEY_PRIVATE_MATERIAL,
            "send the certificate only, never the private key",
            field,
        )
    try:
        certificate = x509.load_pem_x509_certificate(pem.encode())
    except ValueError as error:
        raise _error(
            ErrorCode.CERTIFICATE_MALFORMED, "not a PEM X.509 certificate", field
        ) from error
    public_key = certificate.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        raise _error(ErrorCode.KEY_TYPE_UNSUPPORTED, "certificates of RSA or P-256 keys", field)
    algorithm = _algorithm(public_key, None, field)  # RS256 or ES256 (P-256 only), size checked
    return ParsedCertificate(
        key=ParsedKey(algorithm, public_key, jws.public_jwk(public_key)),
        der=certificate.public_bytes(serialization.Encoding.DER),
        not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
    )
