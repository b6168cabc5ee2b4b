"""Sellers' public keys as they are registered: PEM or JWK in, checked, one normal form out.

Accepted: RSA of at least 2048 bits (RS256, or PS256 when asked for), P-256 (ES256) and Ed25519
(EdDSA). A key is stored as its public JWK (RFC 7517) with the algorithm it may sign with, and
parsed back into a `cryptography` key when the registry is loaded. Private key material is refused
outright: nobody should ever send it.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from dataclasses import dataclass
from typing import Any

import orjson
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from einvoice.error_codes import ErrorCode
from einvoice.errors import Unprocessable
from signing import jws

MIN_RSA_BITS = 2048


@dataclass(frozen=True)
class ParsedKey:
    algorithm: str
    public_key: jws.PublicKey
    jwk: dict[str, str]


def parse_public_key(
    material: str | dict[str, Any], algorithm: str | None = None, *, field: str = "/public_key"
) -> ParsedKey:
    """Check a submitted public key (PEM text, JWK object or JWK JSON text) and normalise it."""
    if isinstance(material, dict):
        public_key, jwk_alg = _from_jwk(material, field)
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
        public_key, jwk_alg = loaded, None
    else:
        try:
            document = orjson.loads(material)
        except orjson.JSONDecodeError as error:
            raise _error(
                ErrorCode.KEY_MALFORMED, "expected a PEM public key or a JWK", field
            ) from error
        if not isinstance(document, dict):
            raise _error(ErrorCode.KEY_MALFORMED, "a JWK is a JSON object", field)
        public_key, jwk_alg = _from_jwk(document, field)
    chosen = _algorithm(public_key, algorithm or jwk_alg, field)
    return ParsedKey(chosen, public_key, jws.public_jwk(public_key))


def load_public_jwk(jwk: dict[str, Any]) -> jws.PublicKey:
    """A stored public JWK back into a key object (the registry wrote it, so it is well-formed)."""
    return _from_jwk(jwk, "/public_jwk")[0]


def _from_jwk(jwk: dict[str, Any], field: str) -> tuple[jws.PublicKey, str | None]:
    if "d" in jwk:
        raise _error(
            ErrorCode.KEY_PRIVATE_MATERIAL, "send the public key only, never the private key", field
        )
    kty, alg = jwk.get("kty"), jwk.get("alg")
    try:
        if kty == "RSA":
            n, e = _int(jwk["n"]), _int(jwk["e"])
            return rsa.RSAPublicNumbers(e, n).public_key(), alg
        if kty == "EC":
            if jwk.get("crv") != "P-256":
                raise _error(ErrorCode.KEY_TYPE_UNSUPPORTED, "EC keys are P-256 (ES256)", field)
            point = ec.EllipticCurvePublicNumbers(_int(jwk["x"]), _int(jwk["y"]), ec.SECP256R1())
            return point.public_key(), alg
        if kty == "OKP" and jwk.get("crv") == "Ed25519":
            return ed25519.Ed25519PublicKey.from_public_bytes(jws.b64url_decode(jwk["x"])), alg
    except (KeyError, TypeError, ValueError, jws.JwsError) as error:
        raise _error(ErrorCode.KEY_MALFORMED, f"not a valid {kty} JWK", field) from error
    raise _error(ErrorCode.KEY_TYPE_UNSUPPORTED, "use RSA, P-256 (EC) or Ed25519 (OKP)", field)


def _algorithm(key: jws.PublicKey, requested: Any, field: str) -> str:
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
            f"this key signs with {sorted(allowed)}, not {requested}",
            field,
        )
    return str(requested)


def _error(code: ErrorCode, message: str, field: str) -> Unprocessable:
    return Unprocessable(message, code=code, field=field)


def _int(text: Any) -> int:
    if not isinstance(text, str):
        raise TypeError("expected base64url text")
    try:
        return int.from_bytes(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)), "big")
    except binascii.Error as error:
        raise ValueError("not base64url") from error


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
