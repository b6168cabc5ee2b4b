"""Write the integrators' test vectors (examples/vectors/, docs/integration.md) from the project's
own code: fixed test keys, an invoice, its RFC 8785 bytes, hash and the seller's detached JWS by
each deterministic algorithm, an authority token with the key set that verifies it, and a notice.

Every output is deterministic (Ed25519; RSA PKCS#1 v1.5; the token's ES256 per RFC 6979), so
running this again writes the same bytes: tests/signing/test_vectors.py checks the files against
the code, and the example clients (examples/) reproduce them byte for byte. Run it only when the
protocol itself changes, and say so in the change.

    .venv/bin/python scripts/make_vectors.py [--out examples/vectors]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from einvoice.invoice.samples import sample_invoice
from einvoice.notice import notice_id
from signing import jws
from signing.authority import AuthorityKeyRing, token_claims
from signing.canonical import canonical_invoice_bytes, invoice_hash
from signing.seller import sign_invoice

OUT = Path(__file__).resolve().parent.parent / "examples" / "vectors"
SELLER_TAX_CODE = "0312345673"  # a valid check digit
BUYER_TAX_CODE = "0314409058"
ISSUER = "https://einvoice.gdt.gov.vn"
CODE = "00" + "1F3A9C0E5B7D2468ACE013579BDF2468"
ISSUED = dt.date(2026, 11, 30)
AUTHENTICATED_AT = dt.datetime(2026, 11, 30, 3, 4, 5, tzinfo=dt.UTC)
KIDS = {"EdDSA": "vector-ed25519", "RS256": "vector-rs256"}
AUTHORITY_KID = "vector-authority-es256"


def _seed(label: str) -> bytes:
    return hashlib.sha256(f"einvoice test vector: {label}".encode()).digest()


def _ed25519_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.from_private_bytes(_seed("seller ed25519"))


def _p256_key() -> ec.EllipticCurvePrivateKey:
    scalar = int.from_bytes(_seed("authority p-256"), "big") % (2**256 - 2**224 - 1) or 1
    return ec.derive_private_key(scalar, ec.SECP256R1())


def _rsa_key(existing: Path) -> rsa.RSAPrivateKey:
    """RSA keys cannot be derived from a seed with `cryptography`: the first run generates one
    and every later run reads it back, so the vectors stay the same bytes."""
    if existing.exists():
        key = serialization.load_pem_private_key(existing.read_bytes(), password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        return key
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem(key: Any) -> bytes:
    pem: bytes = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return pem


def _json(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2) + b"\n"


def vectors(out: Path) -> dict[str, bytes]:
    """Every file of the vectors, by name."""
    keys: dict[str, Any] = {"EdDSA": _ed25519_key(), "RS256": _rsa_key(out / "seller-rs256.pem")}
    invoice = sample_invoice(
        lines=3,
        number=1234,
        issued=ISSUED,
        seller_tax_code=SELLER_TAX_CODE,
        buyer_tax_code=BUYER_TAX_CODE,
    )
    # Member order as some accounting software writes it (not sorted): canonical bytes sort.
    sent = dict(reversed(list(invoice.items())))
    canonical = canonical_invoice_bytes(sent)
    digest = invoice_hash(canonical)
    files: dict[str, bytes] = {
        "invoice.json": _json(sent),
        "invoice.canonical.json": canonical,
        "invoice.sha256": digest.encode() + b"\n",
    }
    for alg, key in keys.items():
        name = "ed25519" if alg == "EdDSA" else "rs256"
        public = {**jws.public_jwk(key.public_key()), "kid": KIDS[alg], "alg": alg, "use": "sig"}
        signature = sign_invoice(sent, key, kid=KIDS[alg], alg=alg)
        files[f"seller-{name}.pem"] = _pem(key)
        files[f"seller-{name}.jwk.json"] = _json(public)
        files[f"invoice.signature-{name}.jws"] = signature.encode() + b"\n"
    authority = _p256_key()
    keyring = AuthorityKeyRing.from_pems({AUTHORITY_KID: _pem(authority)}, AUTHORITY_KID)
    claims = token_claims(
        sent,
        issuer=ISSUER,
        code=CODE,
        invoice_hash=digest,
        iat=int(AUTHENTICATED_AT.timestamp()),
    )
    files["token.jws"] = keyring.sign_token(claims, deterministic=True).encode() + b"\n"
    files["token.claims.json"] = _json(claims)
    files["authority.jwks.json"] = _json(keyring.jwks())
    notice = {
        "seller_tax_code": SELLER_TAX_CODE,
        "issued_date": "2026-12-01",
        "items": [
            {"code": CODE, "action": "cancel", "reason": "Sai thông tin người mua"},
        ],
    }
    notice_canonical = canonical_invoice_bytes(notice)
    files["notice.json"] = _json(notice)
    files["notice.canonical.json"] = notice_canonical
    notice_hash = invoice_hash(notice_canonical)
    files["notice.sha256"] = notice_hash.encode() + b"\n"
    files["notice.id"] = str(notice_id(SELLER_TAX_CODE, notice_hash)).encode() + b"\n"
    files["notice.signature-ed25519.jws"] = (
        sign_invoice(notice, keys["EdDSA"], kid=KIDS["EdDSA"], alg="EdDSA").encode() + b"\n"
    )
    return files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name, data in vectors(args.out).items():
        (args.out / name).write_bytes(data)
        print(f"{args.out / name}: {len(data)} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
