"""The authority's side: issuing codes (MCCQT), signing tokens, and publishing the keys (JWKS).

Codes need no coordination between nodes: a 2-character issuer prefix configured per node, then
32 hex digits of a 128-bit random value. Tokens are compact JWS (ES256 by default) whose claims
say what was authenticated; anyone verifies them offline with the published JWK Set. Several
authority keys may be loaded: one signs, retired ones stay published so old tokens still verify.
Each key has one X.509 certificate (the JWKS's `x5c`, the XML signature's KeyInfo): one given
beside the key (e.g. from the authority's CA), else one derived from the key, valid until 2100.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from einvoice.errors import shown
from signing import jws, strict_json
from signing.compiled import token_signer

if TYPE_CHECKING:
    from einvoice_core import TokenSigner

_PREFIX = re.compile(r"[0-9A-F]{2}")
_KID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def new_code(prefix: str) -> str:
    """A fresh 34-character authority code: the node's prefix and 128 random bits, in hex."""
    return prefix + secrets.token_hex(16).upper()


def token_claims(
    invoice: Mapping[str, Any], *, issuer: str | None, code: str, invoice_hash: str, iat: int
) -> dict[str, Any]:
    """The claims of the token that authenticates `invoice`, in the order they are signed.

    The one definition: the reference path signs these, the compiled core writes the same members
    in the same order (core/src/lib.rs), and storage rebuilds a stored token's payload from them.
    `issuer` is the authority's `iss` (EINVOICE_TOKEN_ISSUER); None gives the claims of tokens
    issued before they carried one, which storage still rebuilds (storage/cassandra/documents.py).
    No `exp`: what a token proves (this invoice was authenticated at `iat`) stays true, and it is
    checked for the ten years invoices are kept (docs/signing.md, "Authority codes and tokens").
    """
    totals = invoice["totals"]
    issued_by = {} if issuer is None else {"iss": issuer}
    return {
        **issued_by,
        "code": code,
        "seller_tax_code": invoice["seller"]["tax_code"],
        "template": invoice["template"],
        "symbol": invoice["symbol"],
        "number": invoice["number"],
        "issued_date": invoice["issued_date"],
        "total_payable": totals["total_payable"],
        "tax_amount": totals["tax_amount"],
        "invoice_hash": invoice_hash,
        "coded": invoice["symbol"][0] == "C",
        "iat": iat,
    }


def generate_private_key_pem() -> bytes:
    """A new ES256 (P-256) private key, PKCS#8 PEM, for `einvoice authority-key generate`."""
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@dataclass(frozen=True, repr=False)
class AuthorityKey:
    kid: str
    alg: str
    private_key: jws.PrivateKey
    # The token header, encoded once: it is the same for every token this key signs.
    header_b64: bytes
    # The X.509 certificate of its public key: in the JWKS (`x5c`) and in the KeyInfo of the
    # authority's XML signatures, so one key serves tokens and XML.
    certificate: x509.Certificate

    @property
    def not_after(self) -> dt.datetime:
        """When the key's certificate expires (UTC): what the key-expiry alert watches."""
        return self.certificate.not_valid_after_utc

    def __repr__(self) -> str:  # never print key material
        return f"AuthorityKey(kid={self.kid!r}, alg={self.alg!r})"


class AuthorityKeyRing:
    """The authority's keys: one active for signing, every one published for verification."""

    def __init__(self, keys: Mapping[str, AuthorityKey], active_kid: str) -> None:
        if active_kid not in keys:
            raise ValueError(f"the active authority key {active_kid} is not loaded")
        self.keys = dict(keys)
        self.active = keys[active_kid]
        # The active key's compiled signer, for the fast path (None unless ES256).
        self.token_signer: TokenSigner | None = token_signer(
            self.active.alg, self.active.private_key, self.active.header_b64
        )

    @classmethod
    def from_pems(
        cls,
        pems: Mapping[str, bytes],
        active_kid: str,
        certificates: Mapping[str, bytes] | None = None,
    ) -> AuthorityKeyRing:
        """Keys from PEM-encoded private keys by kid, each with its PEM certificate when
        `certificates` has one, else the derived one (reading the files is the caller's job)."""
        certificates = certificates or {}
        if orphans := sorted(set(certificates) - set(pems)):
            # Refused rather than ignored: a misnamed certificate would leave its key on the
            # derived one, whose expiry (2100) no alert would ever see.
            raise ValueError(f"certificates without a private key: {', '.join(orphans)}")
        keys = {}
        for kid, pem in pems.items():
            if not _KID.fullmatch(kid):
                raise ValueError(
                    f"authority key id {shown(kid)}: use letters, digits, '.', '_', '-'"
                )
            private_key = serialization.load_pem_private_key(pem, password=None)
            alg = _signing_algorithm(private_key)
            header = orjson.dumps({"alg": alg, "kid": kid, "typ": "JWT"})
            keys[kid] = AuthorityKey(
                kid,
                alg,
                private_key,  # type: ignore[arg-type]
                jws.b64url_encode(header),
                _key_certificate(kid, private_key, certificates.get(kid)),  # type: ignore[arg-type]
            )
        return cls(keys, active_kid)

    def __repr__(self) -> str:
        return f"AuthorityKeyRing(active={self.active.kid!r}, kids={sorted(self.keys)!r})"

    def sign_token(self, claims: Mapping[str, Any], *, deterministic: bool = False) -> str:
        """A compact JWS of `claims`. `deterministic` (ES256 per RFC 6979, and EdDSA): the same
        claims always give the same token, so two processes that sign the same answer again
        independently agree on it (storage/cassandra/invoices.py, recovering a crashed write)."""
        if not deterministic and self.token_signer is not None:
            # The compiled signer (ring): about a quarter faster than OpenSSL's through
            # `cryptography` here (scripts/bench_xml.py's XML path signs a token this way).
            return self.token_signer.sign_token(orjson.dumps(claims))
        key = self.active
        signing_input = key.header_b64 + b"." + jws.b64url_encode(orjson.dumps(claims))
        signature = jws.sign(key.alg, key.private_key, signing_input, deterministic=deterministic)
        return (signing_input + b"." + jws.b64url_encode(signature)).decode("ascii")

    def verify_token(self, token: str) -> dict[str, Any] | None:
        """The claims of a token one of our keys signed, or None when it is not authentic."""
        # Read as strictly as the seller's JWS (signing/jws.py): base64url in its one form, no
        # member named twice in the header or the claims. Our own tokens always are; anything
        # else was not signed by us as it reads, whatever its signature.
        try:
            header_b64, payload_b64, signature = jws.split_compact(token)
            header = jws.decode_header(header_b64)
            kid = header.get("kid") if isinstance(header, dict) else None
            key = self.keys.get(kid) if isinstance(kid, str) else None
            if key is None or header.get("alg") != key.alg:
                return None
            public_key = key.private_key.public_key()
            if not jws.verify(key.alg, public_key, header_b64 + b"." + payload_b64, signature):
                return None
            claims = strict_json.loads(jws.b64url_decode(payload_b64))
        except (jws.JwsError, strict_json.StrictJsonError):
            return None
        return claims if isinstance(claims, dict) else None

    def jwks(self) -> dict[str, list[dict[str, Any]]]:
        """The JWK Set (RFC 7517) of every key, active and retired: public parts only."""
        return {"keys": [_public_jwk(key) for key in self.keys.values()]}


def check_code_prefix(prefix: str) -> str:
    if not _PREFIX.fullmatch(prefix):
        raise ValueError("the code prefix is 2 upper-case hex characters, e.g. 00 or 1A")
    return prefix


def _signing_algorithm(key: object) -> str:
    if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
        return "ES256"
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "EdDSA"
    if isinstance(key, rsa.RSAPrivateKey) and key.key_size >= 2048:
        return "PS256"
    raise ValueError("authority keys are P-256 (ES256), Ed25519 (EdDSA) or RSA >= 2048 (PS256)")


def _public_jwk(key: AuthorityKey) -> dict[str, Any]:
    public = key.private_key.public_key()
    der = key.certificate.public_bytes(serialization.Encoding.DER)
    x5c = [base64.b64encode(der).decode()]  # RFC 7517 4.7: standard base64, not base64url
    return {"kid": key.kid, "alg": key.alg, "use": "sig", **jws.public_jwk(public), "x5c": x5c}


# Fixed, so that every process derives the same certificate from the same key (without a
# certificate beside it, the validity of an authority key is its presence in the key folder,
# docs/signing.md).
_CERTIFICATE_NOT_BEFORE = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
_CERTIFICATE_NOT_AFTER = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)


def authority_certificate(kid: str, private_key: jws.PrivateKey) -> x509.Certificate:
    """The authority key's derived self-signed certificate, the same bytes in every process: its
    serial comes from the public key, its dates are fixed and ECDSA signs deterministically
    (RFC 6979; Ed25519 and RSA PKCS#1 v1.5 are deterministic already). Used when no certificate
    is given beside the key."""
    serial = int.from_bytes(hashlib.sha256(_public_der(private_key)).digest()[:16], "big") >> 1
    return _self_signed(
        kid, private_key, serial or 1, _CERTIFICATE_NOT_BEFORE, _CERTIFICATE_NOT_AFTER
    )


def dated_certificate(
    kid: str, private_key: jws.PrivateKey, not_before: dt.datetime, days: int
) -> x509.Certificate:
    """A self-signed certificate valid `days` days from `not_before`, for `einvoice authority-key
    generate --valid-days`: it gives the key an expiry that operators watch and rotate before.
    A random serial: it must not repeat the derived certificate's, which has the same issuer."""
    if days < 1:
        raise ValueError(f"a certificate is valid for at least 1 day, not {days}")
    not_before = not_before.replace(microsecond=0)  # X.509 times are whole seconds
    not_after = not_before + dt.timedelta(days=days)
    return _self_signed(kid, private_key, x509.random_serial_number(), not_before, not_after)


def _key_certificate(kid: str, private_key: jws.PrivateKey, pem: bytes | None) -> x509.Certificate:
    """The certificate given for a key (one PEM certificate, of this key's public key), or the
    derived one when none is."""
    if pem is None:
        return authority_certificate(kid, private_key)
    try:
        certificates = x509.load_pem_x509_certificates(pem)
    except ValueError as error:
        raise ValueError(
            f"the certificate of authority key {kid} is not a PEM X.509 certificate: {error}"
        ) from None
    if len(certificates) != 1:
        # x5c and KeyInfo carry the key's own certificate; a chain would need its order checked.
        raise ValueError(
            f"the certificate file of authority key {kid} holds {len(certificates)} "
            "certificates: give the key's certificate only"
        )
    (certificate,) = certificates
    certified = certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if certified != _public_der(private_key):
        raise ValueError(
            f"the certificate of authority key {kid} is for another public key "
            f"(subject {certificate.subject.rfc4514_string()})"
        )
    return certificate


def _public_der(private_key: jws.PrivateKey) -> bytes:
    return private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _self_signed(
    kid: str,
    private_key: jws.PrivateKey,
    serial: int,
    not_before: dt.datetime,
    not_after: dt.datetime,
) -> x509.Certificate:
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "e-invoice authentication service"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"authority key {kid}"),
        ]
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private_key.public_key())
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    if isinstance(private_key, ed25519.Ed25519PrivateKey):
        return builder.sign(private_key, None)
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        return builder.sign(private_key, hashes.SHA256(), ecdsa_deterministic=True)
    return builder.sign(private_key, hashes.SHA256())
