"""The demo registry (`scripts/stack demo seed`) and signed submissions of its sellers' invoices,
shared by the locust users (locustfile.py) and the open-loop capacity run (openloop.py).

Invoices have 1-200 lines, most under 10 (exponential, mean 6), are issued today (Vietnam time)
and carry numbers that count up from a random start per seller and process, so two runs against
the same registry rarely reuse a number (a reused one would be answered 409, an error).
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
import threading
from pathlib import Path
from typing import Any

import orjson
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from einvoice.invoice.samples import sample_invoice
from einvoice.timezone import VIETNAM
from signing import jws
from signing.seller import sign_invoice

# Numbers stay below the largest a number may be (99,999,999) for any run's length.
_FIRST_NUMBER_MAX = 90_000_000


class DemoRegistry:
    """The sellers of a demo registry file with their private keys, loaded once per process."""

    def __init__(self, path: Path) -> None:
        data = orjson.loads(path.read_bytes())
        self.sellers: list[dict[str, Any]] = data["sellers"]
        self.officers: list[dict[str, Any]] = data["officers"]
        if not self.sellers:
            raise ValueError(f"{path} names no seller (scripts/stack demo seed --taxpayers N)")
        self.keys: dict[str, jws.PrivateKey] = {
            seller["tax_code"]: load_pem_private_key(  # type: ignore[misc]
                Path(seller["private_key"]).read_bytes(), password=None
            )
            for seller in self.sellers
        }
        # Zipf-like sizes: the first sellers are the very large ones.
        self.weights = [1 / (rank + 1) for rank in range(len(self.sellers))]
        self.numbers = {
            s["tax_code"]: itertools.count(random.randint(1, _FIRST_NUMBER_MAX))
            for s in self.sellers
        }
        self.lock = threading.Lock()  # locust's users share the counters across greenlets
        self.by_tax_code = {s["tax_code"]: s for s in self.sellers}

    def seller(self) -> dict[str, Any]:
        """A seller drawn by size (a few very large, many small)."""
        return random.choices(self.sellers, weights=self.weights)[0]

    def new_submission(self, seller: dict[str, Any], *, invalid: bool = False) -> dict[str, Any]:
        """A new signed invoice of `seller`; `invalid` breaks a total (the service answers 422)."""
        with self.lock:
            number = next(self.numbers[seller["tax_code"]])
        lines = min(200, max(1, int(random.expovariate(1 / 6)) + 1))
        today = dt.datetime.now(VIETNAM).date()  # invoices are issued today
        invoice = sample_invoice(
            seller_tax_code=seller["tax_code"], lines=lines, number=number, issued=today
        )
        if invalid:
            invoice["totals"]["total_payable"] = "1"  # a rule failure the service must report
        signature = sign_invoice(
            invoice, self.keys[seller["tax_code"]], kid=seller["kid"], alg=seller["algorithm"]
        )
        return {"invoice": invoice, "signature": signature}


def printed_fields(invoice: dict[str, Any]) -> dict[str, Any]:
    """The body of the public check (POST /v1/verify): what is printed on the paper invoice."""
    return {
        "seller_tax_code": invoice["seller"]["tax_code"],
        "template": invoice["template"],
        "symbol": invoice["symbol"],
        "number": invoice["number"],
        "total_payable": invoice["totals"]["total_payable"],
    }
