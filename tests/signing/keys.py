"""Seller key pairs for tests, one per accepted algorithm (generated once per test run)."""

from __future__ import annotations

import datetime as dt
from functools import cache

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from einvoice.invoice.samples import SELLER_TAX_CODE
from signing.jws import PrivateKey
from signing.seller import SellerKey

ALGORITHMS = ("RS256", "PS256", "ES256", "EdDSA")
# The authority's `iss` in pure tests (the service's is a setting, EINVOICE_TOKEN_ISSUER).
ISSUER = "https://einvoice.test"


@cache
def private_key(alg: str) -> PrivateKey:
    if alg in ("RS256", "PS256"):
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    return ed25519.Ed25519PrivateKey.generate()


def seller_key(alg: str, **changes: object) -> SellerKey:
    fields: dict[str, object] = {
        "kid": f"seller-{alg.lower()}",
        "tax_code": SELLER_TAX_CODE,
        "algorithm": alg,
        "public_key": private_key(alg).public_key(),
        "valid_from": dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
        **changes,
    }
    return SellerKey(**fields)  # type: ignore[arg-type]
