"""The lookup use case: an invoice by its code or its business key, a seller's listing, and the
public check of an invoice's printed fields or token; read through the Redis cache
(lookup/cache.py), under the access policy (lookup/access.py).

One per process, built from the process's clients (no HTTP in here: api/lookup.py and api/page.py
translate requests into these calls and the results into responses). Every error a caller can
see is einvoice.errors' with its stable code. Stateless beyond its clients: safe to share between
concurrent requests.

Order, where it shows: inputs are checked first (lookup/params.py, lookup/listing.py, a listing's
page token), so a malformed request reads nothing and is refused alike for every caller; an
invoice is looked up before access is decided (a reader without access gets exactly what an
unknown code gets); an officer's lookup is recorded before anything is answered, found or not,
so no officer sees an invoice or a listing, or learns that one does not exist, without an
`officer_reads` row.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable
from typing import Any, Protocol

import redis.asyncio as redis
from prometheus_client import Counter, Histogram
from pydantic import SecretStr

from einvoice.errors import NotAcceptable, NotFound
from einvoice.registry.cache import RegistryCache
from einvoice.timezone import VIETNAM
from lookup.access import (
    AUDIT_BUYER_INVOICES,
    AUDIT_INVOICE,
    AUDIT_SELLER_INVOICES,
    Reader,
    buyer_not_found,
    invoice_not_found,
    is_officer,
    may_list_buyer,
    may_list_seller,
    may_read_invoice,
    seller_not_found,
)
from lookup.cache import CachedDocument, read_through
from lookup.documents import document_from_stored
from lookup.listing import (
    ListingPage,
    MonthIndex,
    buyer_listing_item,
    listing_item,
    walk,
    window,
)
from lookup.page_tokens import Listing, PageTokens
from lookup.params import BusinessKey, business_key, check_code, check_tax_code, is_code
from lookup.public_check import (
    PUBLIC_RATE_CLASS,
    PUBLIC_RATE_KIND,
    PrintedFields,
    PublicAnswer,
    same_amount,
)
from signing.authority import AuthorityKeyRing
from storage.cassandra.invoices import InvoiceStore
from storage.postgres.registry import Registry

LOOKUPS = Counter("einvoice_lookups_total", "Lookups", ["kind", "result"])
LOOKUP_SECONDS = Histogram(
    "einvoice_lookup_seconds",
    "Lookup latency by cache outcome",
    ["cache"],
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5),
)

# Label children bound once: `labels()` on every lookup was a measurable share of a cache hit.
_OUTCOMES = ("hit", "miss", "negative_hit", "bypass")
_SECONDS = {outcome: LOOKUP_SECONDS.labels(outcome) for outcome in _OUTCOMES}
_BY_CODE = {outcome: LOOKUPS.labels("code", outcome) for outcome in _OUTCOMES}


class RateLimit(Protocol):
    """api/ratelimit.py's RateLimiter: spend one token or raise RateLimited."""

    def take(self, client_id: uuid.UUID, rate_class: str, kind: str) -> None: ...


class LookupService:
    def __init__(
        self,
        *,
        invoices: InvoiceStore,
        cache: redis.Redis,
        registry: Registry,
        registry_cache: RegistryCache,
        keyring: AuthorityKeyRing,
        rate_limiter: RateLimit,
        page_token_secret: SecretStr,
    ) -> None:
        self.invoices = invoices  # the record: documents, claims, the seller-month index
        self.cache = cache  # the lookup cache (lookup/cache.py)
        self.registry = registry  # the officer audit (officer_reads)
        self.registry_cache = registry_cache  # sellers: existence and month buckets
        self.keyring = keyring  # the authority's keys, to check a token
        self.rate_limiter = rate_limiter  # the public check's per-address limit
        self.page_tokens = PageTokens(page_token_secret)  # the listing's signed page tokens

    # -- reading through the cache ---------------------------------------------------------------

    async def find_by_code(self, code: str) -> CachedDocument | None:
        """The document of `code`, from the cache or Cassandra; no access check."""

        async def load() -> CachedDocument | None:
            stored = await self.invoices.by_code(code)
            if stored is None:
                return None
            return CachedDocument.of(document_from_stored(stored), stored.state.version)

        started = time.perf_counter()
        document, outcome = await read_through(self.cache, code, load)
        _SECONDS[outcome].observe(time.perf_counter() - started)
        _BY_CODE[outcome].inc()
        return document

    async def find_by_key(self, key: BusinessKey) -> CachedDocument | None:
        """The document of a business key: the claim names the code, then by code."""
        claim = await self.invoices.claim_of(
            key.seller_tax_code, key.template, key.symbol, key.number
        )
        return await self.find_by_code(claim.code) if claim else None

    # -- the parties and officers ----------------------------------------------------------------

    async def invoice_by_code(self, reader: Reader, code: str) -> CachedDocument:
        """NotFound (INVOICE_NOT_FOUND) when unknown or not the reader's to see; InvalidRequest
        (/code) for what is not a code."""
        document = await self.find_by_code(check_code(code))
        return await self._readable(reader, document, code)

    async def signed_xml(self, document: CachedDocument) -> bytes:
        """The signed XML (HDon with MCCQT) of a document the reader may see: read from
        Cassandra, not cached (asked for far less often than JSON, and several times its size).
        NotAcceptable (XML_NOT_AVAILABLE) for an invoice submitted as JSON."""
        fields = document.document
        signed = None
        if fields.get("format") != "json":
            signed = await self.invoices.signed_xml(fields["code"])
        if signed is None:
            raise NotAcceptable(
                "this invoice was submitted as JSON and has no signed XML: ask for application/json"
            )
        return signed

    async def invoice_by_key(
        self, reader: Reader, seller_tax_code: str, template: str, symbol: str, number: int
    ) -> CachedDocument:
        """As by code; InvalidRequest naming each malformed part of the key."""
        key = business_key(seller_tax_code, template, symbol, number)
        document = await self.find_by_key(key)
        return await self._readable(reader, document, key.subject())

    async def _readable(
        self, reader: Reader, document: CachedDocument | None, subject: str
    ) -> CachedDocument:
        # Found or not: an officer learning that an invoice does not exist is a read too.
        if is_officer(reader):
            await self.registry.record_officer_read(reader.client_id, AUDIT_INVOICE, subject)
        if document is None or not may_read_invoice(reader, document.seller, document.buyer):
            raise invoice_not_found()
        return document

    async def seller_invoices(
        self,
        reader: Reader,
        tax_code: str,
        *,
        date_from: dt.date,
        date_to: dt.date,
        limit: int = 100,
        page_token: str | None = None,
    ) -> ListingPage:
        """The seller's invoices issued in [date_from, date_to], newest first, at most `limit`
        a page (lookup/listing.py: the range's bounds, and a page's bounded reads).

        InvalidRequest for a malformed tax code (/tax_code), a range or limit out of bounds
        (/to, /limit) or a page token that is not one of this listing's (/page_token); NotFound
        (SELLER_NOT_FOUND) for an unknown seller or another's listing.
        """
        return await self._listing(
            reader,
            Listing(tax_code, date_from, date_to, limit),
            page_token,
            allowed=may_list_seller(reader, tax_code),
            not_found=seller_not_found,
            audit_kind=AUDIT_SELLER_INVOICES,
            index=self.invoices.seller_month,
            item=listing_item,
        )

    async def buyer_invoices(
        self,
        reader: Reader,
        tax_code: str,
        *,
        date_from: dt.date,
        date_to: dt.date,
        limit: int = 100,
        page_token: str | None = None,
    ) -> ListingPage:
        """The invoices the buyer `tax_code` received, issued in [date_from, date_to], newest
        first: as `seller_invoices`, through the buyer-month index, for officers (audited) and
        the buyer's own business clients. NotFound (BUYER_NOT_FOUND) for a buyer the registry
        does not know, and for anyone else."""
        return await self._listing(
            reader,
            Listing(tax_code, date_from, date_to, limit, whose="buyer"),
            page_token,
            allowed=may_list_buyer(reader, tax_code),
            not_found=buyer_not_found,
            audit_kind=AUDIT_BUYER_INVOICES,
            index=self.invoices.buyer_month,
            item=buyer_listing_item,
        )

    async def _listing(
        self,
        reader: Reader,
        listing: Listing,
        page_token: str | None,
        *,
        allowed: bool,
        not_found: Callable[[], NotFound],
        audit_kind: str,
        index: MonthIndex,
        item: Callable[[dict[str, Any], dt.date], dict[str, Any]],
    ) -> ListingPage:
        """One page of a taxpayer's listing, in this order: the inputs checked (a malformed
        request reads nothing), access, the officer's read recorded (before the taxpayer is
        known: learning it is not is a read too), the taxpayer looked up, then the walk."""
        tax_code, date_from, date_to = listing.tax_code, listing.date_from, listing.date_to
        check_tax_code(tax_code)
        today = dt.datetime.now(VIETNAM).date()
        days = window(date_from, date_to, listing.limit, today)
        cursor = self.page_tokens.decode(listing, page_token) if page_token else None
        if not allowed:
            raise not_found()
        if is_officer(reader):
            subject = f"{tax_code} {date_from}..{date_to} {page_token or ''}".strip()
            await self.registry.record_officer_read(reader.client_id, audit_kind, subject)
        taxpayer = await self.registry_cache.seller(tax_code)  # any registered taxpayer
        if taxpayer is None:
            raise not_found()
        items, following = await walk(
            index,
            tax_code,
            taxpayer.month_buckets,
            days=days,
            limit=listing.limit,
            cursor=cursor,
            item=item,
        )
        token = self.page_tokens.encode(listing, following) if following else None
        return ListingPage(items, token)

    # -- anyone: the public check ----------------------------------------------------------------

    async def verify(self, fields: PrintedFields, *, caller_address: str | None) -> PublicAnswer:
        """The public check, within the per-address limit (RateLimited beyond it) that the API
        and the lookup page share. Callers whose address is not known share one bucket."""
        caller = uuid.uuid5(uuid.NAMESPACE_URL, caller_address or "unknown")
        self.rate_limiter.take(caller, PUBLIC_RATE_CLASS, PUBLIC_RATE_KIND)
        return await self.check_printed_fields(fields)

    async def check_printed_fields(self, fields: PrintedFields) -> PublicAnswer:
        """Whether an authentic invoice has these printed fields (or this token); no limit.

        A token must be signed by one of the authority's keys and name a stored invoice with its
        hash; printed fields must name a stored invoice with that total. InvalidRequest when
        neither a token nor every printed field is given, or a printed field is malformed.
        """
        if fields.token:
            claims = self.keyring.verify_token(fields.token)
            code = claims.get("code") if claims else None
            cached = (
                await self.find_by_code(code) if isinstance(code, str) and is_code(code) else None
            )
            document = cached.document if cached else None
            authentic = (
                claims is not None
                and document is not None
                and document["invoice_hash"] == claims.get("invoice_hash")
            )
            return PublicAnswer.of(document if authentic else None)
        cached = await self.find_by_key(fields.require_printed())
        document = cached.document if cached else None
        if document is not None and not same_amount(
            document["invoice"]["totals"]["total_payable"], fields.total_payable
        ):
            document = None
        LOOKUPS.labels("verify", "valid" if document else "invalid").inc()
        return PublicAnswer.of(document)
