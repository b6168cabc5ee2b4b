"""Receiving sellers' notices (Form 04/SS-HĐĐT): the use case behind POST /v1/notices and
GET /v1/notices/{notice_id}. The notice itself (shape, canonical bytes, id, signature) is
einvoice/notice.py's; changing an invoice's state is einvoice/changes.py's.

Order, and why a retry is always safe (docs/lifecycle.md):
1. The request is read: the notice's shape (422), its seller is the caller's (403), active (403).
2. The same notice answered before (same seller, same canonical bytes: the same id) gets that
   answer again, 200, whatever the keys are today.
3. The seller's signature (422).
4. The notice is recorded (`IF NOT EXISTS`: an attempt that died after this point left it).
5. Each item is decided: the invoice must be the seller's (else `INVOICE_NOT_FOUND`, as for an
   unknown code); `cancel` changes its state unless it was replaced or cancelled by another
   notice already; `explain` is recorded on it. Applying the same notice again changes nothing.
6. The answer is stored (`IF answer = null`) and given: 201.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from prometheus_client import Counter

from einvoice.changes import InvoiceChanges, refusal_detail
from einvoice.error_codes import ErrorCode
from einvoice.errors import ErrorDetail, Forbidden, InvalidRequest, NotFound
from einvoice.lifecycle import Change, Refusal
from einvoice.notice import Notice, NoticeItem, parse_notice, verify_notice_signature
from einvoice.request_members import request_members
from einvoice.submission import SellerDirectory, active_seller
from lookup.documents import utc_timestamp
from storage.cassandra.invoices import InvoiceStore
from storage.cassandra.notices import NoticeStore, StoredNotice

# Items decided at once: each is a read and a lightweight transaction or two.
_CONCURRENT_ITEMS = 16

NOTICE_ITEMS = Counter(
    "einvoice_notice_items_total",
    "Items of sellers' notices decided (a resent notice's are not counted again)",
    ["action", "status"],  # cancel | explain; accepted | rejected
)


@dataclass(frozen=True)
class NoticeAnswer:
    status: int  # 201: received now; 200: the answer given to the same notice before
    body: bytes


class Notices:
    def __init__(
        self,
        *,
        notices: NoticeStore,
        invoices: InvoiceStore,
        registry_cache: SellerDirectory,
        changes: InvoiceChanges,
    ) -> None:
        self.notices = notices
        self.invoices = invoices
        self.registry_cache = registry_cache
        self.changes = changes

    async def receive(
        self, *, tax_code: str, client_id: uuid.UUID, body: Any, now: dt.datetime
    ) -> NoticeAnswer:
        """A notice sent by the business `tax_code`; raises for 403 and 422."""
        raw_notice, signature = _split(body)
        notice, errors = parse_notice(raw_notice, now)
        if notice is None:
            raise InvalidRequest("the notice is not valid", details=errors)
        if notice.seller_tax_code != tax_code:
            raise Forbidden(
                "a business sends only its own notices",
                code=ErrorCode.SELLER_MISMATCH,
                field="/notice/seller_tax_code",
            )
        seller = await active_seller(self.registry_cache, tax_code)
        earlier = await self.notices.by_id(notice.notice_id)
        if earlier is not None and earlier.answer is not None:
            return NoticeAnswer(200, earlier.answer)
        errors = verify_notice_signature(notice, signature, keys=seller.keys, now=now)
        if errors:
            raise InvalidRequest("the notice's signature is not valid", details=errors)
        received_at = now.replace(microsecond=now.microsecond // 1000 * 1000)  # as stored
        stored = await self.notices.record(
            StoredNotice(
                notice_id=notice.notice_id,
                seller_tax_code=tax_code,
                issued_date=notice.issued_date,
                canonical=notice.canonical,
                signature=signature,
                received_at=received_at,
                client_id=client_id,
                answer=None,
            )
        )
        limit = asyncio.Semaphore(_CONCURRENT_ITEMS)

        async def decide(index: int, item: NoticeItem) -> dict[str, Any]:
            async with limit:
                return await self._decide(notice, index, item, now)

        items = await asyncio.gather(
            *(decide(index, item) for index, item in enumerate(notice.items))
        )
        answer = orjson.dumps(
            {
                "notice_id": str(stored.notice_id),
                "received_at": utc_timestamp(stored.received_at),
                "items": items,
            }
        )
        return NoticeAnswer(201, await self.notices.answer(stored, answer))

    async def notice(self, notice_id: str, *, seller_tax_code: str | None) -> dict[str, Any]:
        """A notice as received, with its answer (`items`: null while it is not complete): for
        its seller (`seller_tax_code`), or anyone when None (officers). NotFound
        (NOTICE_NOT_FOUND) for an unknown id and for another seller's notice."""
        try:
            key = uuid.UUID(notice_id)
        except ValueError:
            key = None
        stored = await self.notices.by_id(key) if key is not None else None
        if stored is None or seller_tax_code not in (None, stored.seller_tax_code):
            raise NotFound("no such notice", code=ErrorCode.NOTICE_NOT_FOUND)
        answer = orjson.loads(stored.answer) if stored.answer is not None else None
        return {
            "notice_id": str(stored.notice_id),
            "received_at": utc_timestamp(stored.received_at),
            "notice": orjson.loads(stored.canonical),
            "signature": stored.signature,
            "items": answer["items"] if answer is not None else None,
        }

    async def _decide(
        self, notice: Notice, index: int, item: NoticeItem, now: dt.datetime
    ) -> dict[str, Any]:
        field = f"/notice/items/{index}/code"
        stored = await self.invoices.by_code(item.code)
        if stored is None or stored.invoice["seller"]["tax_code"] != notice.seller_tax_code:
            error = ErrorDetail(
                ErrorCode.INVOICE_NOT_FOUND, "no invoice of this seller has this code", field
            )
            return _item(item, error)
        change = Change(item.action, str(notice.notice_id))
        outcome = await self.changes.change(stored, change, now)
        if isinstance(outcome, Refusal):
            return _item(item, refusal_detail(outcome, item.code, field))
        return _item(item, None)


def _item(item: NoticeItem, error: ErrorDetail | None) -> dict[str, Any]:
    status = "accepted" if error is None else "rejected"
    NOTICE_ITEMS.labels(item.action, status).inc()
    errors = [] if error is None else [error.as_json()]
    return {"code": item.code, "status": status, "errors": errors}


def _split(body: Any) -> tuple[Any, Any]:
    raw_notice, signature = request_members(body, ("notice", "signature"), "a notice's request")
    return raw_notice, signature
