"""JWS compact serialisation (RFC 7515) for the four algorithms the service accepts.

Hand-written on `cryptography` rather than a JOSE library: PyJWT measured about 60 us of overhead
per RS256 verification and 45 us per ES256 signature on top of the raw crypto here, more than the
whole budget of everything else an invoice needs (docs/signing.md); and its detached mode is RFC
7797's unencoded payload, not the Appendix F detached content the API specifies. What is left is
small: split, base64url, and the ECDSA signature in JOSE's raw r||s form. Interoperability is
tested both ways against an independent library (jwcrypto).

What is read is read strictly, as the compiled core (core/src/jws.rs) reads it too: base64url
only in its one canonical form, a protected header without repeated member names (I-JSON, as RFC
7515 4 allows a reader to require), and sizes bounded before anything is decoded.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from einvoice.errors import shown
from signing import strict_json

ALGORITHMS = frozenset({"RS256", "PS256", "ES256", "EdDSA"})
# RFC 9864 (fully-specified algorithms) names `Ed25519` what RFC 8037 called `EdDSA` and
# deprecates the latter. The only Edwards curve accepted here is Ed25519, so the two names are one
# algorithm: read either, store and compare `EdDSA` (the registry's column allows it alone, and
# the JOSE libraries in the field still expect it in the authority's JWKS).
_ALIASES = {"Ed25519": "EdDSA"}
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey

_SHA256 = hashes.SHA256()
_PKCS1 = padding.PKCS1v15()
# RFC 7518 3.5: PS256 uses MGF1 with SHA-256 and a salt as long as the hash.
_PSS = padding.PSS(mgf=padding.MGF1(_SHA256), salt_length=32)
_ECDSA = ec.ECDSA(_SHA256)
# RFC 6979: the same key and input always give the same signature.
_ECDSA_DETERMINISTIC = ec.ECDSA(_SHA256, deterministic_signing=True)

# Size limits, checked before decoding (the compiled core has the same ones). A protected header
# holds alg, kid (at most 200 characters, 1,200 bytes of JSON even when every one is written
# \uXXXX) and typ: 2 KB leaves room to spare, though not for certificate chains (x5c), which the
# service does not use (keys are registered). The largest signature is RSA-16384's, the largest
# key OpenSSL verifies with. The whole compact JWS, checked first, leaves room for a payload part
# (the authority's tokens carry about 450 bytes).
MAX_HEADER_BYTES = 2048
MAX_SIGNATURE_BYTES = 2048
MAX_COMPACT_CHARS = 8192


class JwsError(ValueError):
    """Not a well-formed JWS."""


def b64url_encode(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def b64url_decode(text: str | bytes) -> bytes:
    """Strict base64url (RFC 7515 2): only the URL-safe alphabet, no padding, no whitespace,
    and the unused bits of the last character zero, so that a byte string has one encoding
    (what `b64url_encode` writes), as the compiled core's decoder requires too. The standard
    library's decoder would skip characters outside the alphabet, '=' and whitespace included."""
    try:
        raw = text.encode("ascii") if isinstance(text, str) else text
        decoded = base64.urlsafe_b64decode(raw + b"=" * (-len(raw) % 4))
    except (binascii.Error, ValueError) as error:
        raise JwsError("not base64url") from error
    if b64url_encode(decoded) != raw:  # what the lenient decoder let through
        raise JwsError("not base64url: the URL-safe alphabet only, in its canonical form")
    return decoded


def algorithm_named(name: object) -> str | None:
    """The accepted algorithm a JWS `alg` (or a JWK's, or a registration's) names, in the name
    the service stores (`Ed25519` is `EdDSA`); None when it names none of them."""
    if not isinstance(name, str):
        return None
    algorithm = _ALIASES.get(name, name)
    return algorithm if algorithm in ALGORITHMS else None


def key_algorithm(key: PublicKey | PrivateKey) -> set[str]:
    """The JWS algorithms a key may be used with."""
    if isinstance(key, rsa.RSAPublicKey | rsa.RSAPrivateKey):
        return {"RS256", "PS256"}
    if isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey):
        return {"ES256"} if isinstance(key.curve, ec.SECP256R1) else set()
    return {"EdDSA"}


def verify(alg: str, key: PublicKey, signing_input: bytes, signature: bytes) -> bool:
    """True when `signature` is `key`'s signature of `signing_input` under `alg`."""
    alg = _ALIASES.get(alg, alg)
    try:
        if alg == "RS256" and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, signing_input, _PKCS1, _SHA256)
        elif alg == "PS256" and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, signing_input, _PSS, _SHA256)
        elif alg == "ES256" and isinstance(key, ec.EllipticCurvePublicKey):
            if len(signature) != 64:
                return False
            der = encode_dss_signature(
                int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
            )
            key.verify(der, signing_input, _ECDSA)
        elif alg == "EdDSA" and isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, signing_input)
        else:
            return False
    except InvalidSignature:
        return False
    return True


def sign(alg: str, key: PrivateKey, signing_input: bytes, *, deterministic: bool = False) -> bytes:
    """`deterministic`: ES256 per RFC 6979 (EdDSA always is; PS256 never is)."""
    alg = _ALIASES.get(alg, alg)
    if alg == "ES256" and isinstance(key, ec.EllipticCurvePrivateKey):
        scheme = _ECDSA_DETERMINISTIC if deterministic else _ECDSA
        r, s = decode_dss_signature(key.sign(signing_input, scheme))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    if alg == "RS256" and isinstance(key, rsa.RSAPrivateKey):
        return key.sign(signing_input, _PKCS1, _SHA256)
    if alg == "PS256" and isinstance(key, rsa.RSAPrivateKey):
        return key.sign(signing_input, _PSS, _SHA256)
    if alg == "EdDSA" and isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(signing_input)
    raise ValueError(f"a {type(key).__name__} cannot sign {alg}")


def public_jwk(key: PublicKey) -> dict[str, str]:
    """The public JWK (RFC 7517) of a key: kty and its public parameters, nothing else."""
    if isinstance(key, rsa.RSAPublicKey):
        numbers = key.public_numbers()
        return {"kty": "RSA", "n": _b64_int(numbers.n), "e": _b64_int(numbers.e)}
    if isinstance(key, ec.EllipticCurvePublicKey):
        point = key.public_numbers()
        x = b64url_encode(point.x.to_bytes(32, "big")).decode("ascii")
        y = b64url_encode(point.y.to_bytes(32, "big")).decode("ascii")
        return {"kty": "EC", "crv": "P-256", "x": x, "y": y}
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(raw).decode("ascii")}


def _b64_int(value: int) -> str:
    return b64url_encode(value.to_bytes((value.bit_length() + 7) // 8, "big")).decode("ascii")


def split_compact(jws: str) -> tuple[bytes, bytes, bytes]:
    """(encoded header, encoded payload, signature bytes) of a compact JWS."""
    if len(jws) > MAX_COMPACT_CHARS:
        raise JwsError(f"a compact JWS here is at most {MAX_COMPACT_CHARS} characters")
    parts = jws.split(".")
    if len(parts) != 3 or not parts[0] or not parts[2]:
        raise JwsError("a compact JWS has three dot-separated parts")
    if len(parts[0]) > _b64_chars(MAX_HEADER_BYTES):
        raise JwsError(f"the protected header is longer than {MAX_HEADER_BYTES} bytes")
    if len(parts[2]) > _b64_chars(MAX_SIGNATURE_BYTES):
        raise JwsError(f"the signature is longer than {MAX_SIGNATURE_BYTES} bytes")
    try:
        header, payload = parts[0].encode("ascii"), parts[1].encode("ascii")
    except UnicodeEncodeError as error:
        raise JwsError("a compact JWS is ASCII") from error
    return header, payload, b64url_decode(parts[2])


def decode_header(header_b64: bytes) -> Any:
    """The protected header's JSON value (a caller checks it is an object), read strictly."""
    try:
        return strict_json.loads(b64url_decode(header_b64))
    except strict_json.DuplicateMember as error:
        raise JwsError(f"the protected header repeats the member {shown(error.name)}") from error
    except strict_json.NotJson as error:
        raise JwsError("the protected header is not JSON") from error


def _b64_chars(size: int) -> int:
    """Characters of the unpadded base64url of `size` bytes."""
    return -(-size * 4 // 3)
