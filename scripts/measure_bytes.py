"""Bytes stored per invoice, table by table, as Cassandra itself counts them.

Writes --invoices authenticated invoices through the storage layer (claims grouped by block, rows
through the grouped writer: exactly what the service writes) into a scratch keyspace, flushes,
and divides each table's `Space used (live)` from `nodetool tablestats` by the invoice count.
Twice: the 10-line sample invoice of the tests and benchmarks (numbers and dates change), and
varied invoices (random names, addresses, items, 1-20 lines), which compress less.

    .venv/bin/python scripts/measure_bytes.py [--invoices 12000]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import sys
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

from einvoice.config import get_settings
from einvoice.invoice.samples import sample_invoice
from signing.authority import AuthorityKeyRing, generate_private_key_pem, new_code, token_claims
from signing.canonical import canonical_invoice_bytes, invoice_hash
from storage.cassandra.client import connect
from storage.cassandra.invoices import InvoiceStore, NewInvoice
from storage.cassandra.migrate import migrate
from storage.cassandra.row_writer import RowWriter

# devstack/ (the local stack, for nodetool) is not installed: it is read from the checkout's root.
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from local_nodes import LocalNodes

TABLES = (
    "invoice_documents",
    "invoice_claim_blocks",
    "invoices_by_seller_month",
    "invoices_by_buyer_month",
)
_WORDS = [
    "Công",
    "ty",
    "TNHH",
    "Cổ",
    "phần",
    "Thương",
    "mại",
    "Dịch",
    "vụ",
    "Sản",
    "xuất",
    "Xây",
    "dựng",
    "Vận",
    "tải",
    "Kỹ",
    "thuật",
    "Điện",
    "Nước",
    "Phần",
    "mềm",
    "Thực",
    "phẩm",
    "Nông",
    "sản",
    "Vật",
    "liệu",
    "Thiết",
    "bị",
    "Y",
    "tế",
    "Giáo",
    "dục",
    "Du",
    "lịch",
    "Khách",
    "sạn",
    "Nhà",
    "hàng",
    "Bất",
    "động",
    "sản",
    "Tư",
    "vấn",
    "Quảng",
    "cáo",
    "In",
    "ấn",
    "Bao",
    "bì",
    "Nhựa",
    "Thép",
    "Gỗ",
    "Giấy",
    "Vải",
    "May",
    "mặc",
    "Giày",
    "dép",
    "Điện",
    "tử",
    "Máy",
    "tính",
    "Linh",
    "kiện",
    "Ô",
    "tô",
    "Xe",
    "máy",
    "Phụ",
    "tùng",
    "Hóa",
    "chất",
    "Phân",
    "bón",
    "Thuốc",
    "Mỹ",
    "phẩm",
    "Đồ",
    "uống",
    "Bánh",
    "kẹo",
    "Gạo",
    "Cà",
    "phê",
    "Chè",
    "Hải",
    "sản",
    "Thủy",
    "sản",
    "Rau",
    "quả",
    "Trái",
    "cây",
    "Sữa",
    "Dầu",
    "ăn",
    "Gia",
    "vị",
    "Nội",
    "thất",
    "Văn",
    "phòng",
    "phẩm",
    "Đồ",
    "gia",
    "dụng",
]
_STREETS = [
    "Lê Lợi",
    "Trần Hưng Đạo",
    "Nguyễn Trãi",
    "Hai Bà Trưng",
    "Lý Thường Kiệt",
    "Điện Biên Phủ",
]
_CITIES = [
    "Hà Nội",
    "TP. Hồ Chí Minh",
    "Đà Nẵng",
    "Hải Phòng",
    "Cần Thơ",
    "Bắc Ninh",
    "Bình Dương",
    "Đồng Nai",
]
_UNITS = ["cái", "hộp", "kg", "thùng", "bộ", "chiếc", "lần", "tháng", "mét", "lít", "gói", "ram"]


def varied_invoice(rng: random.Random, tax_code: str, number: int, issued: dt.date) -> Any:
    """An invoice with random parties and lines (its totals are not checked: storage only)."""
    invoice = sample_invoice(
        seller_tax_code=tax_code, number=number, issued=issued, lines=rng.randint(1, 20)
    )

    def name(words: int) -> str:
        return " ".join(rng.choice(_WORDS) for _ in range(words))

    def address() -> str:
        return (
            f"{rng.randint(1, 999)} {rng.choice(_STREETS)}, Phường {rng.randint(1, 30)}, "
            f"Quận {rng.randint(1, 12)}, {rng.choice(_CITIES)}"
        )

    invoice["buyer"].update(name="Công ty " + name(rng.randint(3, 7)), address=address())
    invoice["seller"].update(name="Công ty " + name(rng.randint(3, 7)), address=address())
    for line in invoice["lines"]:
        quantity, price = rng.randint(1, 500), rng.randint(1, 5_000_000)
        line.update(
            name=name(rng.randint(2, 8)),
            code=f"{rng.choice('ABCDEFGH')}{rng.randint(0, 99999):05d}",
            unit=rng.choice(_UNITS),
            quantity=str(quantity),
            unit_price=str(price),
            amount=str(quantity * price),
        )
    return invoice


async def write(
    store: InvoiceStore, ring: AuthorityKeyRing, invoices: list[Any], tax_code: str
) -> None:
    now = dt.datetime.now(dt.UTC)
    rows = []
    for invoice in invoices:
        canonical = canonical_invoice_bytes(invoice)
        digest = invoice_hash(canonical)
        code = new_code("00")
        token = ring.sign_token(
            token_claims(
                invoice,
                issuer=get_settings().token_issuer,
                code=code,
                invoice_hash=digest,
                iat=int(now.timestamp()),
            )
        )
        rows.append(
            NewInvoice(
                code=code,
                seller_tax_code=tax_code,
                template=invoice["template"],
                symbol=invoice["symbol"],
                number=invoice["number"],
                issued_date=dt.date.fromisoformat(invoice["issued_date"]),
                buyer_tax_code=invoice["buyer"].get("tax_code"),
                total_payable=Decimal(invoice["totals"]["total_payable"]),
                invoice_hash=digest,
                canonical=canonical,
                invoice=invoice,
                # An ES256 detached JWS of a registered seller key: its usual size.
                seller_signature="eyJhbGciOiJFUzI1NiIsImtpZCI6IjAzMTQ0MDkwNTgtRVMyNTYifQ.."
                + os.urandom(64).hex()[:86],
                token=token,
                authenticated_at=now,
            )
        )
    for start in range(0, len(rows), 2000):
        part = rows[start : start + 2000]
        outcomes = await store.claim_all(part, now)
        assert all(outcome.created for outcome in outcomes)
        await store.write_all(part, now)


def measure(kind: str, count: int) -> dict[str, float]:
    settings = get_settings()
    client = connect(settings)
    keyspace = f"bytes_{uuid.uuid4().hex[:8]}"
    try:
        migrate(client.session, keyspace, settings.cassandra_replication_map())
        client.session.set_keyspace(keyspace)
        store = InvoiceStore(client.session, RowWriter(client.session))
        ring = AuthorityKeyRing.from_pems({"bytes-1": generate_private_key_pem()}, "bytes-1")
        rng = random.Random(7)  # noqa: S311 - varied sample data, no secret
        tax_code = "0314409058"
        issued = dt.date.today()
        invoices = [
            varied_invoice(rng, tax_code, number, issued)
            if kind == "varied"
            else sample_invoice(seller_tax_code=tax_code, number=number, issued=issued)
            for number in range(1, count + 1)
        ]
        asyncio.run(write(store, ring, invoices, tax_code))
        nodes = LocalNodes.of(settings)
        used = nodes.live_bytes(keyspace)  # every replica's
        return {table: used.get(table, 0) / count / nodes.replicas for table in TABLES}
    finally:
        client.session.execute(f"DROP KEYSPACE IF EXISTS {keyspace}")
        client.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--invoices", type=int, default=12_000)
    args = parser.parse_args()
    nodes = LocalNodes.of(get_settings())
    print(f"date {dt.date.today()}, cores {os.cpu_count()}, {args.invoices} invoices")
    print(f"Cassandra: {nodes.describe()}; bytes below are per replica (all nodes / replicas)")
    print(f"{'invoices':10} " + " ".join(f"{table:>26}" for table in TABLES) + f" {'total':>8}")
    for kind in ("sample", "varied"):
        per_table = measure(kind, args.invoices)
        cells = " ".join(f"{per_table[table]:26.0f}" for table in TABLES)
        print(f"{kind:10} {cells} {sum(per_table.values()):8.0f}")
    print("bytes per invoice (Space used (live) after a flush / invoices); target: <= 1,000")
    return 0


if __name__ == "__main__":
    sys.exit(main())
