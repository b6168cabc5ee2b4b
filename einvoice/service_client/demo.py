"""`einvoice demo submit`: a fresh invoice of a demo seller, signed and authenticated in real time.

The demo registry is the file `scripts/stack demo seed` writes (devstack/demo.py): its sellers'
tax code, key id, algorithm, private key file and API key. It is read here as plain JSON, since
the product never imports the development stack.

Fresh means authenticated now (201). The invoice is issued today in Vietnam, under a number taken
from the clock: the seconds since the year began there, plus one, which stays within the 8 digits
a number may have and grows from one run to the next. A number some other invoice holds (409), or
this very invoice authenticated before (200: a run within the same second built the same one),
moves on to the next number.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from einvoice.invoice.samples import sample_invoice
from einvoice.service_client.http import ClientError, Refused, ServiceClient, Submitted
from einvoice.timezone import VIETNAM
from signing import jws
from signing.seller import sign_invoice

# Numbers tried before giving up: more than a handful taken in a row means something else is
# using the demo seller's numbers, which a person should look at.
MAX_NUMBERS = 20
# The sample's lines: enough to look like an invoice, few enough to read in the answer.
LINES = 3


@dataclass(frozen=True)
class DemoSeller:
    tax_code: str
    kid: str
    algorithm: str
    private_key: Path
    api_key: str


@dataclass(frozen=True)
class DemoSubmission:
    invoice: dict[str, Any]
    answer: Submitted


def load_sellers(registry: Path) -> list[DemoSeller]:
    """The sellers of a demo registry file; ClientError when there is none to use."""
    try:
        manifest = orjson.loads(registry.read_bytes())
        sellers = [
            DemoSeller(
                seller["tax_code"],
                seller["kid"],
                seller["algorithm"],
                Path(seller["private_key"]),
                seller["api_key"],
            )
            for seller in manifest["sellers"]
        ]
    except FileNotFoundError as error:
        raise ClientError(
            f"no demo registry at {registry}: `scripts/stack demo seed` writes one "
            "(`scripts/start` does the first time)"
        ) from error
    except (orjson.JSONDecodeError, KeyError, TypeError) as error:
        raise ClientError(f"{registry} is not a demo registry ({error!r})") from error
    if not sellers:
        raise ClientError(f"{registry} lists no sellers: `scripts/stack demo seed` adds some")
    return sellers


def choose_seller(sellers: list[DemoSeller], tax_code: str | None) -> DemoSeller:
    """The seller with `tax_code`, or the first one."""
    if tax_code is None:
        return sellers[0]
    for seller in sellers:
        if seller.tax_code == tax_code:
            return seller
    known = ", ".join(seller.tax_code for seller in sellers)
    raise ClientError(f"no demo seller {tax_code} (the registry has {known})")


def first_number(now: dt.datetime) -> int:
    """The clock's invoice number: seconds since 1 January in Vietnam, plus one (1..31,622,400)."""
    local = now.astimezone(VIETNAM)
    year_start = dt.datetime(local.year, 1, 1, tzinfo=VIETNAM)
    return int((local - year_start).total_seconds()) + 1


def submit_fresh_invoice(
    client: ServiceClient, seller: DemoSeller, now: dt.datetime
) -> DemoSubmission:
    """Sign and submit an invoice of `seller` issued today until one is authenticated now."""
    key = _private_key(seller)
    issued = now.astimezone(VIETNAM).date()
    start = first_number(now)
    for number in range(start, start + MAX_NUMBERS):
        invoice = sample_invoice(
            lines=LINES, number=number, issued=issued, seller_tax_code=seller.tax_code
        )
        signature = sign_invoice(invoice, key, kid=seller.kid, alg=seller.algorithm)
        try:
            answer = client.submit_invoice({"invoice": invoice, "signature": signature})
        except Refused as refusal:
            if refusal.status == 409:
                continue
            raise
        if answer.status == 201:
            return DemoSubmission(invoice, answer)
    raise ClientError(
        f"numbers {start} to {start + MAX_NUMBERS - 1} of seller {seller.tax_code} are all "
        "taken today; try again in a minute"
    )


def _private_key(seller: DemoSeller) -> jws.PrivateKey:
    try:
        key = load_pem_private_key(seller.private_key.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as error:
        raise ClientError(
            f"cannot read demo seller {seller.tax_code}'s private key {seller.private_key}: {error}"
        ) from error
    if not isinstance(key, jws.PrivateKey):
        raise ClientError(f"{seller.private_key} is not an RSA, P-256 or Ed25519 private key")
    return key
