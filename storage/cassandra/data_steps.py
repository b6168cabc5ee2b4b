"""Data steps of schema changes: Python that `einvoice migrate` runs right after a change's CQL,
for the rare change that must carry existing rows over (CQL cannot re-encode them).

A step is part of its change: the change's version is recorded only after the step finished, so
an interrupted run repeats it, and every step is idempotent (it writes the same rows again).
Blocking code: the migrator runs outside any event loop, with writers stopped.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import orjson
from cassandra.cluster import Session
from cassandra.concurrent import execute_concurrent_with_args
from cassandra.query import SimpleStatement

from storage.cassandra import documents
from storage.cassandra.claims import BLOCK_SIZE

log = logging.getLogger(__name__)

_PAGE = 500


def copy_v4_invoices(session: Session) -> None:
    """Change 5: claims and invoices of the version-4 tables into the compact, grouped ones,
    keeping each row's remaining TTL. Claims are written with lightweight transactions, as every
    claim is; a claim already in the new table is left as it is."""
    tables = session.cluster.metadata.keyspaces[session.keyspace].tables
    if "invoice_claims" in tables:
        claim = session.prepare(
            "INSERT INTO invoice_claim_blocks (seller_tax_code, template, symbol, block, number, "
            "code, invoice_hash, authenticated_at, batch_id, line) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS USING TTL ?"
        )
        rows = _rows(
            session,
            "SELECT seller_tax_code, template, symbol, number, code, invoice_hash, "
            "authenticated_at, claimed_at, source, TTL(code) AS ttl FROM invoice_claims",
        )
        copied = _write(session, claim, (_claim_values(row) for row in rows))
        log.info("copied %d claims into invoice_claim_blocks", copied)
    if "invoices_by_code" in tables:
        document = session.prepare(
            "INSERT INTO invoice_documents (code, document, token_signature, authenticated_at, "
            "status) VALUES (?, ?, ?, ?, ?) USING TTL ? AND TIMESTAMP ?"
        )
        rows = _rows(
            session,
            "SELECT code, invoice, seller_signature, authority_token, authenticated_at, status, "
            "invoice_hash, TTL(invoice) AS ttl, WRITETIME(invoice) AS written FROM "
            "invoices_by_code",
        )
        copied = _write(session, document, (_document_values(row) for row in rows))
        log.info("copied %d invoices into invoice_documents", copied)


# Data steps by the version of the change they belong to.
DATA_STEPS: dict[int, Callable[[Session], None]] = {5: copy_v4_invoices}


def _rows(session: Session, query: str) -> Iterator[dict[str, Any]]:
    yield from session.execute(SimpleStatement(query, fetch_size=_PAGE))


def _write(session: Session, statement: Any, values: Iterator[tuple[object, ...]]) -> int:
    count = 0
    page: list[tuple[object, ...]] = []
    for value in values:
        page.append(value)
        if len(page) == _PAGE:
            count += _write_page(session, statement, page)
            page = []
    return count + (_write_page(session, statement, page) if page else 0)


def _write_page(session: Session, statement: Any, page: list[tuple[object, ...]]) -> int:
    for success, result in execute_concurrent_with_args(
        session, statement, page, concurrency=32, raise_on_first_error=True
    ):
        if not success:
            raise result  # never reached with raise_on_first_error; keeps types honest
    return len(page)


def _claim_values(row: dict[str, Any]) -> tuple[object, ...]:
    batch_id: uuid.UUID | None = None
    line: int | None = None
    source = row.get("source") or "realtime"
    if source.startswith("batch:"):
        _, batch, index = source.split(":")
        batch_id, line = uuid.UUID(batch), int(index)
    number = int(row["number"])
    return (
        row["seller_tax_code"],
        row["template"],
        row["symbol"],
        number // BLOCK_SIZE,
        number,
        documents.code_bytes(row["code"]),
        bytes.fromhex(row["invoice_hash"]),
        row["authenticated_at"] or row["claimed_at"],
        batch_id,
        line,
        row["ttl"] or 0,
    )


def _document_values(row: dict[str, Any]) -> tuple[object, ...]:
    canonical = zlib.decompress(row["invoice"])
    authenticated_at: dt.datetime = row["authenticated_at"].replace(tzinfo=dt.UTC)
    stored = documents.encode(
        canonical=canonical,
        invoice=orjson.loads(canonical),
        seller_signature=row["seller_signature"],
        token=row["authority_token"],
        code=row["code"],
        invoice_hash=row["invoice_hash"],
        authenticated_at=authenticated_at,
    )
    return (
        documents.code_bytes(row["code"]),
        stored.document,
        stored.token_signature,
        authenticated_at,
        row["status"],
        row["ttl"] or 0,
        row["written"],
    )
