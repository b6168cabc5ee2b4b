"""Keys in the form the compiled core (`einvoice_core`, built from core/) takes.

The compiled core runs the fast path of authentication (docs/signing.md, "The compiled core"):
it verifies seller signatures and signs tokens with ring rather than `cryptography`, so each key
is handed over once, as its public numbers (or the authority's private scalar), when it is loaded.
A key the compiled core does not take (RSA above 8192 bits, say) gets no handle: invoices signed
with it take the reference path, which gives the same answer. Without the core (not installed,
or EINVOICE_PURE=1: einvoice/accelerator.py) no key gets one, and `cryptography` verifies and
signs everything (signing/jws.py).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from einvoice.accelerator import core
from einvoice.timezone import VIETNAM
from signing import jws

if TYPE_CHECKING:
    from einvoice_core import CompiledKey, TokenSigner


def compiled_seller_key(
    *,
    tax_code: str,
    algorithm: str,
    public_key: jws.PublicKey,
    valid_from: dt.datetime,
    valid_to: dt.datetime | None,
    revoked_at: dt.datetime | None,
) -> CompiledKey | None:
    if core is None:
        return None
    exponent: bytes | None = None
    if isinstance(public_key, rsa.RSAPublicKey):
        numbers = public_key.public_numbers()
        public = _big_endian(numbers.n)
        exponent = _big_endian(numbers.e)
    elif isinstance(public_key, ec.EllipticCurvePublicKey):
        if not isinstance(public_key.curve, ec.SECP256R1):
            return None
        public = public_key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    else:
        public = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    try:
        compiled: CompiledKey = core.CompiledKey(
            tax_code,
            algorithm,
            public,
            exponent,
            _vietnam_day(valid_from),
            None if valid_to is None else _vietnam_day(valid_to),
            None if revoked_at is None else revoked_at.timestamp(),
        )
    except ValueError:
        return None
    return compiled


def token_signer(alg: str, private_key: jws.PrivateKey, header_b64: bytes) -> TokenSigner | None:
    """The compiled signer of an ES256 authority key (the default); None for other algorithms,
    whose tokens the reference path signs, and without the compiled core. The fast path of
    authentication runs only with a signer (einvoice/invoice/authenticate.py)."""
    if core is None or alg != "ES256" or not isinstance(private_key, ec.EllipticCurvePrivateKey):
        return None
    scalar = private_key.private_numbers().private_value.to_bytes(32, "big")
    point = private_key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    signer: TokenSigner = core.TokenSigner(header_b64, scalar, point)
    return signer


def _vietnam_day(moment: dt.datetime) -> int:
    return moment.astimezone(VIETNAM).date().toordinal()


def _big_endian(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8, "big")
