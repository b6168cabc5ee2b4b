"""Sellers' notices (Form 04/SS-HĐĐT, einvoice/notice.py) by their derived id: the notice as signed,
and the answer given, so the same notice sent again gets that answer (einvoice/notices.py).

Written only with lightweight transactions: `record` inserts `IF NOT EXISTS` (the first arrival's
time and client stay), `answer` sets the answer `IF answer = null` (the first complete answer
stays; a second attempt of the same notice that finishes later is answered with it). Kept ten
years from the day received, like invoices.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from cassandra.cluster import Session
from cassandra.query import PreparedStatement

from einvoice.timezone import VIETNAM
from storage.cassandra.bridge import execute
from storage.cassandra.client import ClaimRouting
from storage.cassandra.invoices import ttl_seconds

_INSERT = """
INSERT INTO notices (notice_id, seller_tax_code, issued_date, notice, signature, received_at,
    client_id)
VALUES (?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS USING TTL ?
"""
_ANSWER = "UPDATE notices USING TTL ? SET answer = ? WHERE notice_id = ? IF answer = null"
_SELECT = """
SELECT notice_id, seller_tax_code, issued_date, notice, signature, received_at, client_id, answer
FROM notices WHERE notice_id = ?
"""


@dataclass(frozen=True)
class StoredNotice:
    notice_id: uuid.UUID
    seller_tax_code: str
    issued_date: dt.date
    canonical: bytes  # the notice's RFC 8785 bytes, as signed
    signature: str
    received_at: dt.datetime
    client_id: uuid.UUID
    answer: bytes | None  # the answer's JSON; None until every item is decided


class NoticeStore:
    def __init__(self, session: Session, routing: ClaimRouting | None = None) -> None:
        self.session = session
        self.routing = routing or ClaimRouting()
        self._insert: PreparedStatement = session.prepare(_INSERT)
        self._answer: PreparedStatement = session.prepare(_ANSWER)
        self._select: PreparedStatement = session.prepare(_SELECT)

    async def record(self, notice: StoredNotice) -> StoredNotice:
        """The notice as stored: this one, or the same notice recorded earlier."""
        values = (
            notice.notice_id,
            notice.seller_tax_code,
            notice.issued_date,
            notice.canonical,
            notice.signature,
            notice.received_at,
            notice.client_id,
            _ttl(notice.received_at),
        )
        profile = self.routing.profile_for(notice.seller_tax_code)
        result = await execute(self.session, self._insert, values, execution_profile=profile)
        if result.was_applied:
            return notice
        return _notice(result.current_rows[0])

    async def answer(self, notice: StoredNotice, answer: bytes) -> bytes:
        """Store the notice's answer unless one is stored already; the answer that stays."""
        values = (_ttl(notice.received_at), answer, notice.notice_id)
        profile = self.routing.profile_for(notice.seller_tax_code)
        result = await execute(self.session, self._answer, values, execution_profile=profile)
        if result.was_applied:
            return answer
        stored: bytes = result.current_rows[0]["answer"]
        return stored

    async def by_id(self, notice_id: uuid.UUID) -> StoredNotice | None:
        result = await execute(self.session, self._select, (notice_id,))
        return _notice(result.current_rows[0]) if result.current_rows else None


def _ttl(received_at: dt.datetime) -> int:
    return ttl_seconds(received_at.astimezone(VIETNAM).date(), received_at)


def _notice(row: dict[str, Any]) -> StoredNotice:
    received_at: dt.datetime = row["received_at"]
    if received_at.tzinfo is None:  # the driver answers naive UTC
        received_at = received_at.replace(tzinfo=dt.UTC)
    answer = row["answer"]
    return StoredNotice(
        notice_id=row["notice_id"],
        seller_tax_code=row["seller_tax_code"],
        issued_date=row["issued_date"].date(),
        canonical=bytes(row["notice"]),
        signature=row["signature"],
        received_at=received_at,
        client_id=row["client_id"],
        answer=bytes(answer) if answer is not None else None,
    )
