"""Benchmark: authenticating one 10-line invoice on one core, beside the raw-crypto ceiling.

Measured in the same run, on the same core:
  ceiling   RSA-2048 PKCS#1 v1.5 verify + ECDSA P-256 sign alone (the two public-key operations
            every real-time invoice needs): the most invoices/s any implementation could reach
  full      orjson parse of the request body + structure + business rules + RFC 8785 canonical
            bytes + SHA-256 + seller RS256 signature verification + code + ES256 token, as the
            service runs it: through the compiled core (core/, docs/signing.md)
  reference the same in the Python reference implementation alone (what runs whenever the
            compiled core is not certain, and what it is tested against)
  canonical the canonical bytes alone: orjson (the hot path) and the rfc8785 reference package

Targets (issue #3): full >= 8,000 invoices/s per core and >= 50 % of the ceiling. Not a test:
timings on a shared machine are noisy, so each figure is the median of --rounds rounds.

    .venv/bin/python scripts/bench_authenticate.py [--seconds 2] [--rounds 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import time
from collections.abc import Callable

import orjson
import rfc8785
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from einvoice.config import Settings
from einvoice.invoice.authenticate import (
    Authenticated,
    Authority,
    authenticate,
    authenticate_reference,
)
from einvoice.invoice.samples import SELLER_TAX_CODE, sample_invoice
from signing.authority import AuthorityKeyRing, generate_private_key_pem
from signing.canonical import canonical_invoice_bytes
from signing.seller import SellerKey, sign_invoice


def rate(operation: Callable[[], object], seconds: float, rounds: int) -> float:
    """Operations per second: the median over rounds of a timed loop of about `seconds`."""
    results = []
    for _ in range(rounds):
        count = 0
        started = time.perf_counter()
        deadline = started + seconds
        while True:
            for _ in range(50):
                operation()
            count += 50
            now = time.perf_counter()
            if now >= deadline:
                break
        results.append(count / (now - started))
    return statistics.median(results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="length of one round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--lines", type=int, default=10)
    args = parser.parse_args()

    now = dt.datetime(2025, 6, 20, 3, 0, tzinfo=dt.UTC)
    seller_private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    seller_key = SellerKey(
        kid="seller-2025",
        tax_code=SELLER_TAX_CODE,
        algorithm="RS256",
        public_key=seller_private.public_key(),
        valid_from=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
    )
    keys = {seller_key.kid: seller_key}
    authority = Authority(
        AuthorityKeyRing.from_pems({"cqt-1": generate_private_key_pem()}, "cqt-1"),
        "00",
        Settings().token_issuer,
    )
    invoice = sample_invoice(lines=args.lines)
    signature = sign_invoice(invoice, seller_private, kid=seller_key.kid, alg="RS256")
    body = orjson.dumps({"invoice": invoice, "signature": signature})

    def full(implementation: Callable[..., object] = authenticate) -> None:
        submission = orjson.loads(body)
        outcome = implementation(
            submission["invoice"],
            submission["signature"],
            keys_for_seller=lambda _: keys,
            authority=authority,
            now=now,
        )
        assert isinstance(outcome, Authenticated), outcome

    # The ceiling's two operations, on inputs of the real sizes.
    canonical = canonical_invoice_bytes(invoice)
    signing_input = signature.split(".")[0].encode() + b"." + canonical  # same length class
    rsa_signature = seller_private.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    public = seller_private.public_key()
    ec_key = ec.generate_private_key(ec.SECP256R1())
    token_input = b"x" * 600  # about a token's signing input

    def ceiling() -> None:
        public.verify(rsa_signature, signing_input, padding.PKCS1v15(), hashes.SHA256())
        ec_key.sign(token_input, ec.ECDSA(hashes.SHA256()))

    full()  # warm up
    seconds, rounds = args.seconds, args.rounds
    ceiling_rate = rate(ceiling, seconds, rounds)
    full_rate = rate(full, seconds, rounds)
    reference_path_rate = rate(lambda: full(authenticate_reference), seconds, rounds)
    orjson_rate = rate(lambda: canonical_invoice_bytes(invoice), seconds / 4, rounds)
    reference_rate = rate(lambda: rfc8785.dumps(invoice), seconds / 4, rounds)
    assert rfc8785.dumps(invoice) == canonical_invoice_bytes(invoice)

    print(f"date {dt.date.today()}, cores {os.cpu_count()}, one process, {args.lines}-line invoice")
    print(f"{'what':44} {'per second':>12} {'us each':>9} {'ratio':>7}")
    rows = [
        ("ceiling: RSA-2048 verify + P-256 sign", ceiling_rate, 1.0),
        ("full authentication", full_rate, full_rate / ceiling_rate),
        ("reference path (Python only)", reference_path_rate, reference_path_rate / ceiling_rate),
        ("canonical bytes, orjson (hot path)", orjson_rate, None),
        ("canonical bytes, rfc8785 reference", reference_rate, reference_rate / orjson_rate),
    ]
    for name, per_second, ratio in rows:
        ratio_text = f"{ratio:7.2f}" if ratio is not None else " " * 7
        print(f"{name:44} {per_second:12,.0f} {1e6 / per_second:9.1f} {ratio_text}")
    print(
        f"full / ceiling = {full_rate / ceiling_rate:.0%} (target >= 50 %); "
        f"full = {full_rate:,.0f}/s (target >= 8,000/s); "
        f"compiled / reference = {full_rate / reference_path_rate:.1f}x"
    )


if __name__ == "__main__":
    main()
