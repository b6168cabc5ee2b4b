"""Benchmark: authenticating one 10-line XML invoice (HDon) on one core, beside the ceilings.

Measured in the same run, on the same core:
  ceiling    RSA-2048 PKCS#1 v1.5 verify + two P-256 signatures alone (the seller's signature,
             the token and the authority's XML signature): the most any implementation could do
  xmlsec     the two XML-DSig operations with libxmlsec1 alone: verify the seller's on the parsed
             tree, and sign an invoice as `sign_hdon` does (its key loaded per call)
  parse      the hardened parse alone
  full       `authenticate_xml`: parse, DLHDon read as the invoice, structure, rules, the seller's
             XML Signature, code, token, the coded answer with the authority's signature
Target (issue #16): full >= 2,000 invoices/s per core. The median of --rounds rounds, the rows
timed in turn within each round.

    .venv/bin/python scripts/bench_xml.py [--seconds 2] [--rounds 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from lxml import etree

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench_authenticate import rate

from einvoice.config import Settings
from einvoice.hdon.authenticate import AuthenticatedXml, authenticate_xml
from einvoice.hdon.fields import hdon_of
from einvoice.hdon.parse import NAMESPACE, parse_hdon
from einvoice.invoice.authenticate import Authority
from signing.authority import AuthorityKeyRing, generate_private_key_pem
from signing.xml_signature import sign_hdon, verify_seller_xml_signature
from tests.einvoice.hdon.support import (
    ISSUED,
    TAX_CODE,
    certificate,
    invoice,
    private_key,
    registered,
    signed,
)


def interleaved(
    operations: list[tuple[str, Callable[[], object]]], seconds: float, rounds: int
) -> list[tuple[str, float]]:
    """(name, operations per second): the median over rounds, each round timing every operation
    in turn, so that the box's noise (shared, 2 cores) falls alike on the rows being compared."""
    results: dict[str, list[float]] = {name: [] for name, _ in operations}
    for _ in range(rounds):
        for name, operation in operations:
            results[name].append(rate(operation, seconds, 1))
    return [(name, statistics.median(found)) for name, found in results.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    now = dt.datetime(2026, 12, 1, 3, tzinfo=dt.UTC)
    seller_key = private_key("rsa")  # RSA: the common case among Vietnamese CAs' certificates
    assert isinstance(seller_key, rsa.RSAPrivateKey)
    cert = certificate(seller_key)
    certificates = registered(cert)
    body = etree.tostring(signed(seller_key, cert, namespace=NAMESPACE))
    ring = AuthorityKeyRing.from_pems({"cqt-1": generate_private_key_pem()}, "cqt-1")
    authority = Authority(ring, "00", Settings().token_issuer)

    def full() -> None:
        outcome = authenticate_xml(
            body, certificates_for_seller=lambda _: certificates, authority=authority, now=now
        )
        assert isinstance(outcome, AuthenticatedXml), outcome

    public = seller_key.public_key()
    message = body[:3000]
    rsa_signature = seller_key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    ec_key = ec.generate_private_key(ec.SECP256R1())

    def ceiling() -> None:
        public.verify(rsa_signature, message, padding.PKCS1v15(), hashes.SHA256())
        ec_key.sign(message[:600], ec.ECDSA(hashes.SHA256()))
        ec_key.sign(message[:600], ec.ECDSA(hashes.SHA256()))

    document = parse_hdon(body)
    content = invoice()
    ec_certificate = certificate(ec_key)

    def xmlsec_only() -> None:
        verified = verify_seller_xml_signature(
            document, seller_tax_code=TAX_CODE, issued=ISSUED, certificates=certificates, now=now
        )
        assert not isinstance(verified, list), verified
        sign_hdon(hdon_of(content), ec_key, ec_certificate)  # libxmlsec1, key loaded per call

    full()
    rows = interleaved(
        [
            ("ceiling: RSA-2048 verify + 2 P-256 signs", ceiling),
            ("xmlsec: verify + sign_hdon", xmlsec_only),
            ("hardened parse alone", lambda: parse_hdon(body)),
            ("full authenticate_xml", full),
        ],
        args.seconds,
        args.rounds,
    )
    ceiling_rate, full_rate = rows[0][1], rows[-1][1]
    print(
        f"date {dt.date.today()}, cores {os.cpu_count()}, one process, "
        f"10-line HDon, {len(body)} bytes"
    )
    print(f"{'what':44} {'per second':>12} {'us each':>9} {'ratio':>7}")
    for name, per_second in rows:
        print(
            f"{name:44} {per_second:12,.0f} {1e6 / per_second:9.1f} "
            f"{per_second / ceiling_rate:7.2f}"
        )
    print(
        f"full = {full_rate:,.0f}/s per core (target >= 2,000/s); "
        f"full / ceiling = {full_rate / ceiling_rate:.0%}"
    )


if __name__ == "__main__":
    main()
