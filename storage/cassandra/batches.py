"""Batches in Cassandra: the raw lines, stored before the API answers 202, and per-line results.

A batch is written as its chunks first (about 1 MB of NDJSON each, compressed), then its row in
`batches`: a batch row exists only once all its lines are durable. Results are one row per line,
written once per line by whichever worker processes it; writing one again changes nothing.
A batch's status goes `accepted` -> `processing` -> `completed`, or `failed` when the workers gave
up on it after EINVOICE_BATCH_MAX_ATTEMPTS (`completed_at` then says when; why is in their log).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from cassandra.cluster import Session
from cassandra.query import UNSET_VALUE, SimpleStatement

from storage.cassandra.bridge import execute
from storage.cassandra.row_writer import Row, RowWriter

CHUNK_BYTES = 1024 * 1024
_RESULT_ROW_BYTES = 80  # a result row beside its token and errors


@dataclass(frozen=True)
class BatchRow:
    batch_id: uuid.UUID
    seller_tax_code: str
    client_id: str
    line_count: int
    chunk_count: int
    received_at: dt.datetime
    status: str
    authenticated: int | None
    rejected: int | None
    duplicates: int | None
    request_id: str | None  # the submitting request's X-Request-ID (None: before schema 10)


@dataclass(frozen=True)
class LineResult:
    line: int
    status: str  # authenticated | duplicate | rejected
    code: str | None = None
    token: str | None = None
    errors: str | None = None  # JSON array of {code, field, message}


def chunked(lines: list[bytes]) -> Iterator[tuple[int, list[bytes]]]:
    """(index of the first line, lines) groups of about CHUNK_BYTES."""
    first, size = 0, 0
    group: list[bytes] = []
    for index, line in enumerate(lines):
        if group and size + len(line) > CHUNK_BYTES:
            yield first, group
            first, group, size = index, [], 0
        group.append(line)
        size += len(line) + 1
    if group:
        yield first, group


class BatchStore:
    def __init__(self, session: Session, writer: RowWriter | None = None) -> None:
        self.session = session
        # The process's grouped writer (results); one of its own when the caller has none.
        self.writer = writer or RowWriter(session)
        self._chunk = session.prepare(
            "INSERT INTO batch_chunks (batch_id, chunk, first_line, data) VALUES (?, ?, ?, ?)"
        )
        self._batch = session.prepare(
            "INSERT INTO batches (batch_id, seller_tax_code, client_id, line_count, chunk_count, "
            "received_at, request_id, status) VALUES (?, ?, ?, ?, ?, ?, ?, 'accepted')"
        )
        self._get = session.prepare("SELECT * FROM batches WHERE batch_id = ?")
        self._chunks = session.prepare("SELECT chunk, data FROM batch_chunks WHERE batch_id = ?")
        self._status = session.prepare("UPDATE batches SET status = ? WHERE batch_id = ?")
        self._progress = session.prepare(
            "UPDATE batches SET authenticated = ?, rejected = ?, duplicates = ? WHERE batch_id = ?"
        )
        self._complete = session.prepare(
            "UPDATE batches SET status = 'completed', completed_at = ?, authenticated = ?, "
            "rejected = ?, duplicates = ? WHERE batch_id = ?"
        )
        self._failed = session.prepare(
            "UPDATE batches SET status = 'failed', completed_at = ? WHERE batch_id = ?"
        )
        self._result = session.prepare(
            "INSERT INTO batch_results (batch_id, line, status, code, authority_token, errors) "
            "VALUES (?, ?, ?, ?, ?, ?)"
        )
        self._results = session.prepare(
            "SELECT line, status, code, authority_token, errors FROM batch_results "
            "WHERE batch_id = ? AND line >= ? LIMIT ?"
        )

    async def save(
        self,
        batch_id: uuid.UUID,
        seller_tax_code: str,
        client_id: str,
        lines: list[bytes],
        received_at: dt.datetime,
        request_id: str | None = None,
    ) -> None:
        chunks = list(chunked(lines))
        await asyncio.gather(
            *(
                execute(
                    self.session,
                    self._chunk,
                    (batch_id, index, first, zlib.compress(b"\n".join(group), 1)),
                )
                for index, (first, group) in enumerate(chunks)
            )
        )
        await execute(
            self.session,
            self._batch,
            (
                batch_id,
                seller_tax_code,
                client_id,
                len(lines),
                len(chunks),
                received_at,
                UNSET_VALUE if request_id is None else request_id,  # no null cell
            ),
        )

    async def get(self, batch_id: uuid.UUID) -> BatchRow | None:
        rows = (await execute(self.session, self._get, (batch_id,))).current_rows
        if not rows:
            return None
        row = rows[0]
        return BatchRow(**{key: row[key] for key in BatchRow.__dataclass_fields__})

    async def lines(self, batch_id: uuid.UUID) -> list[bytes]:
        rows = (await execute(self.session, self._chunks, (batch_id,))).current_rows
        lines: list[bytes] = []
        for row in sorted(rows, key=lambda row: row["chunk"]):
            lines.extend(zlib.decompress(row["data"]).split(b"\n"))
        return lines

    async def set_status(self, batch_id: uuid.UUID, status: str) -> None:
        await execute(self.session, self._status, (status, batch_id))

    async def progress(
        self, batch_id: uuid.UUID, authenticated: int, rejected: int, duplicates: int
    ) -> None:
        """The counts so far of a batch being processed (after each saved step), so that a
        status poll reads one row, not every result."""
        await execute(self.session, self._progress, (authenticated, rejected, duplicates, batch_id))

    async def complete(
        self, batch_id: uuid.UUID, authenticated: int, rejected: int, duplicates: int
    ) -> None:
        await execute(
            self.session,
            self._complete,
            (dt.datetime.now(dt.UTC), authenticated, rejected, duplicates, batch_id),
        )

    async def mark_failed(self, batch_id: uuid.UUID) -> None:
        """The batch could not be processed (the worker's log says why); it is not retried."""
        await execute(self.session, self._failed, (dt.datetime.now(dt.UTC), batch_id))

    async def save_results(self, batch_id: uuid.UUID, results: list[LineResult]) -> None:
        """Results of one batch: single-partition batches through the grouped writer."""
        await self.writer.write_many(
            [
                [
                    Row(
                        self._result,
                        (
                            batch_id,
                            result.line,
                            result.status,
                            result.code,
                            result.token,
                            result.errors,
                        ),
                        len(result.token or "") + len(result.errors or "") + _RESULT_ROW_BYTES,
                    )
                ]
                for result in results
            ],
            group=batch_id,
        )

    async def results(
        self, batch_id: uuid.UUID, from_line: int = 0, limit: int = 1000
    ) -> list[LineResult]:
        rows = (
            await execute(self.session, self._results, (batch_id, from_line, limit))
        ).current_rows
        return [
            LineResult(
                row["line"], row["status"], row["code"], row["authority_token"], row["errors"]
            )
            for row in rows
        ]

    async def all_results(self, batch_id: uuid.UUID) -> list[LineResult]:
        found: list[LineResult] = []
        while True:
            page = await self.results(batch_id, found[-1].line + 1 if found else 0, 2000)
            found.extend(page)
            if len(page) < 2000:
                return found

    def unfinished(self, accepted_before: dt.datetime | None = None) -> list[uuid.UUID]:
        """Blocking: ids of batches neither completed nor failed (a full scan; batches live 90
        days). With `accepted_before`: only those never started and received before that time."""
        statement = SimpleStatement(
            "SELECT batch_id, status, received_at FROM batches", fetch_size=1000
        )
        rows: Any = self.session.execute(statement)
        if accepted_before is None:
            return [row["batch_id"] for row in rows if row["status"] not in ("completed", "failed")]
        cutoff = accepted_before.replace(tzinfo=None)  # the driver returns naive UTC
        return [
            row["batch_id"]
            for row in rows
            if row["status"] == "accepted" and row["received_at"] < cutoff
        ]
