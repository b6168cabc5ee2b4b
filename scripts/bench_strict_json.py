"""Benchmark: the duplicate-member check (I-JSON) beside orjson.loads of the same bytes.

Bodies: one submission of the 10-line sample invoice (about 3 KB, signed), and a batch of 10,000
such lines read line by line as POST /v1/batches reads them. Rounds alternate between the
baseline (orjson.loads alone) and the strict reading (orjson.loads, then the compiled walk);
medians are reported, with the walk alone beside them, and the pure scan (what runs without the
compiled core, einvoice/accelerator.py).

    .venv/bin/python scripts/bench_strict_json.py [--rounds 7]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import orjson
from cryptography.hazmat.primitives.asymmetric import ec
from einvoice_core import first_duplicate_member

from einvoice.invoice.samples import sample_invoice
from signing import strict_json
from signing.seller import sign_invoice


def _per_call_us(work: Callable[[], object], seconds: float = 0.5) -> float:
    calls, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        for _ in range(50):
            work()
        calls += 50
    return elapsed / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    rounds = parser.parse_args().rounds

    invoice = sample_invoice()
    signature = sign_invoice(invoice, ec.generate_private_key(ec.SECP256R1()), kid="k", alg="ES256")
    body = orjson.dumps({"invoice": invoice, "signature": signature})
    lines = [
        orjson.dumps({"invoice": sample_invoice(number=number), "signature": signature})
        for number in range(1, 10_001)
    ]

    def batch_orjson() -> None:
        for line in lines:
            orjson.loads(line)

    def batch_strict() -> None:
        for line in lines:
            strict_json.loads(line)

    def batch_walk() -> None:
        for line in lines:
            first_duplicate_member(line)

    def batch_pure() -> None:
        for line in lines:
            strict_json.first_duplicate_pure(line)

    cases: dict[str, Callable[[], object]] = {
        "invoice: orjson.loads": lambda: orjson.loads(body),
        "invoice: strict_json.loads": lambda: strict_json.loads(body),
        "invoice: first_duplicate_member": lambda: first_duplicate_member(body),
        "invoice: first_duplicate_pure": lambda: strict_json.first_duplicate_pure(body),
    }
    batch_cases: dict[str, Callable[[], object]] = {
        "batch: orjson.loads per line": batch_orjson,
        "batch: strict_json.loads per line": batch_strict,
        "batch: first_duplicate_member per line": batch_walk,
        "batch: first_duplicate_pure per line": batch_pure,
    }
    found: dict[str, list[float]] = {name: [] for name in [*cases, *batch_cases]}
    for _ in range(rounds):
        for name, work in cases.items():
            found[name].append(_per_call_us(work))
        for name, work in batch_cases.items():
            started = time.perf_counter()
            work()
            found[name].append((time.perf_counter() - started) * 1e3)

    print(f"invoice body {len(body)} bytes; batch {sum(map(len, lines)):,} bytes in 10,000 lines")
    for name, values in found.items():
        unit = "ms" if name.startswith("batch") else "us"
        print(f"{name:42} {statistics.median(values):9.2f} {unit}")


if __name__ == "__main__":
    main()
