"""Benchmark: batch ingest end to end (accepted -> stored and readable), in invoices/s, beside raw
Cassandra driver writes of the same rows (claim LWT + invoice by code + seller-month index) in
the same run.

Needs the local stack up and migrated. It registers a seller, signs --invoices invoices (ES256),
writes --baseline of them straight through the driver from this process, then starts
`einvoice serve` and --workers `einvoice worker` processes, posts the rest as batches of 10,000,
and times until every batch is completed.

    .venv/bin/python scripts/bench_ingest.py [--invoices 20000] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from decimal import Decimal
from pathlib import Path

import orjson

from einvoice.authority_keys import generate_key_file
from einvoice.config import get_settings
from einvoice.invoice.samples import sample_invoice
from signing.canonical import canonical_invoice_bytes, invoice_hash
from signing.seller import sign_invoice
from storage.cassandra.client import connect
from storage.cassandra.invoices import InvoiceStore, NewInvoice

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_submit import free_port, register_seller, wait_ready


async def raw_writes(invoices: list[dict[str, object]], tax_code: str) -> float:
    """Invoices/s for the same three statements per invoice, straight through the driver."""
    settings = get_settings()
    client = connect(settings)
    client.session.set_keyspace(settings.cassandra_keyspace)
    store = InvoiceStore(client.session)
    now = dt.datetime.now(dt.UTC)
    limit = asyncio.Semaphore(64)

    async def one(index: int, invoice: dict[str, object]) -> None:
        canonical = canonical_invoice_bytes(invoice)
        row = NewInvoice(
            code=f"FF{index:032X}",
            seller_tax_code=tax_code,
            template="1",
            symbol=str(invoice["symbol"]),
            number=int(str(invoice["number"])),
            issued_date=now.date(),
            buyer_tax_code=None,
            currency="VND",
            total_payable=Decimal(1),
            invoice_hash=invoice_hash(canonical),
            canonical=canonical,
            seller_signature="x",
            token="t" * 600,
            authenticated_at=now,
        )
        async with limit:
            await store.store(row, now)

    started = time.perf_counter()
    await asyncio.gather(*(one(i, inv) for i, inv in enumerate(invoices)))
    elapsed = time.perf_counter() - started
    client.close()
    return len(invoices) / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--invoices", type=int, default=20_000)
    parser.add_argument("--baseline", type=int, default=5_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    tax_code, kid, key, api_key = asyncio.run(register_seller())
    today = dt.datetime.now(dt.UTC).date()
    raw_invoices = [
        sample_invoice(seller_tax_code=tax_code, number=n, issued=today)
        for n in range(1, args.baseline + 1)
    ]
    baseline = asyncio.run(raw_writes(raw_invoices, tax_code))
    first = args.baseline + 1
    lines = [
        orjson.dumps(
            {
                "invoice": (
                    inv := sample_invoice(seller_tax_code=tax_code, number=n, issued=today)
                ),
                "signature": sign_invoice(inv, key, kid=kid, alg="ES256"),
            }
        )
        for n in range(first, first + args.invoices)
    ]
    work = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    generate_key_file(work / "authority", "bench-1")
    port = free_port()
    env = dict(
        os.environ,
        EINVOICE_HTTP_PORT=str(port),
        EINVOICE_AUTHORITY_KEYS_DIR=str(work / "authority"),
    )

    def launch(command: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "einvoice.cli", command],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    processes = [launch("serve")]
    processes += [launch("worker") for _ in range(args.workers)]
    url = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {api_key}"}
    try:
        wait_ready(url)
        started = time.perf_counter()
        batch_ids = []
        for start in range(0, len(lines), 10_000):
            request = urllib.request.Request(  # noqa: S310 - loopback only
                f"{url}/v1/batches",
                data=b"\n".join(lines[start : start + 10_000]),
                headers={**headers, "Content-Type": "application/x-ndjson"},
            )
            with urllib.request.urlopen(request, timeout=120) as answer:  # noqa: S310
                batch_ids.append(orjson.loads(answer.read())["batch_id"])
        accepted = time.perf_counter() - started
        for batch_id in batch_ids:
            while True:
                request = urllib.request.Request(f"{url}/v1/batches/{batch_id}", headers=headers)  # noqa: S310
                with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
                    if orjson.loads(answer.read())["status"] == "completed":
                        break
                time.sleep(0.5)
        elapsed = time.perf_counter() - started
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(timeout=30)

    rate = len(lines) / elapsed
    cores = os.cpu_count()
    print(f"date {dt.date.today()}, cores {cores}, {args.workers} workers, whole stack on this box")
    print(f"{'what':52} {'invoices/s':>11} {'ratio':>6}")
    print(
        f"{'raw driver writes (LWT claim + 2 rows), one process':52} {baseline:11,.0f} {1.0:6.2f}"
    )
    print(f"{'batch ingest end to end':52} {rate:11,.0f} {rate / baseline:6.2f}")
    print(
        f"({len(lines)} invoices; accepting the batches took {accepted:.1f} s of {elapsed:.1f} s)"
    )
    print("target: >= 5,000 invoices/s on 2 cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
