"""Submitting invoices: the one use case behind the real-time route and the batch workers.

Seller checks, rules and signatures, the claim, the rows, the cache write-through and every
answer (201/200, the 409 body, a rejection's errors, a batch line's result) are decided here, so
the same case reads the same whether it arrives alone or in a batch.

- Real time (`submit`): one invoice; its claim joins this process's other waiting claims of the
  same block (storage/cassandra/claims.py); the answer is built after its own rows are written.
- Batches (`submit_lines`): many lines of one seller; every line is authenticated first, then
  the numbers are claimed one Paxos round per block, then the rows are written in groups, and
  only then are results returned (the worker saves them).
- A number claimed before with the same invoice hash is a repeat: the original answer, read back
  by code. When the document is missing (an earlier attempt claimed and died before its rows),
  the repeat writes the rows itself (storage/cassandra/invoices.py), whatever the state of the
  seller's key today: a 200 or a `duplicate` always names a readable invoice.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

import orjson
from prometheus_client import Counter, Histogram

from einvoice.changes import InvoiceChanges, refusal_detail
from einvoice.error_codes import ErrorCode
from einvoice.errors import ErrorDetail, Forbidden, InvalidRequest, error_body
from einvoice.hdon.answer import coded_hdon
from einvoice.hdon.authenticate import AuthenticatedXml, authenticate_xml
from einvoice.hdon.fields import invoice_of, xml_path
from einvoice.hdon.parse import MalformedXml, parse_hdon
from einvoice.invoice.authenticate import Authenticated, Authority, Rejected, authenticate
from einvoice.invoice.model import Invoice
from einvoice.lifecycle import Change, Refusal
from einvoice.registry.cache import Seller
from lookup.cache import CacheWriter
from lookup.documents import invoice_document, utc_timestamp
from lookup.public_check import verify_url
from signing.authority import token_claims
from signing.canonical import canonical_invoice_bytes
from storage.cassandra.batches import LineResult
from storage.cassandra.claims import Claim
from storage.cassandra.invoices import InvoiceStore, NewInvoice

RULE_FAILURES = Counter("einvoice_rule_failures_total", "Invoice rule failures", ["code"])
SUBMISSIONS = Counter(
    "einvoice_submissions_total",
    "Invoices submitted, by path and outcome",
    ["path", "outcome"],  # realtime | batch; created | repeated | conflict | rejected
)
# Label children bound once: `labels()` on every request is a measurable share of a cheap one.
_OUTCOMES = ("created", "repeated", "conflict", "rejected")
_REALTIME = {outcome: SUBMISSIONS.labels("realtime", outcome) for outcome in _OUTCOMES}
_BATCH = {outcome: SUBMISSIONS.labels("batch", outcome) for outcome in _OUTCOMES}
WRITE_SECONDS = Histogram(
    "einvoice_cassandra_write_seconds",
    "Latency of a real-time submission's claim (its Paxos round) and of its rows",
    ["statement"],
    buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0),
)
_CLAIM_SECONDS = WRITE_SECONDS.labels("claim")
_ROWS_SECONDS = WRITE_SECONDS.labels("rows")
RECOVERED = Counter(
    "einvoice_claims_recovered_total",
    "Claims whose rows an earlier attempt never wrote, completed by a repeat",
)

# Lines authenticated between two yields to the event loop (a line takes about 0.1 ms).
_LINES_PER_SLICE = 200

NUMBER_USED = ErrorCode.INVOICE_NUMBER_USED
NUMBER_USED_MESSAGE = (
    "another invoice was authenticated under this seller, template, symbol and number"
)
NOT_ACTIVE = ErrorCode.TAXPAYER_NOT_ACTIVE
NOT_ACTIVE_MESSAGE = "the taxpayer is not active (suspended, closed or unknown)"


class SellerDirectory(Protocol):
    """Where sellers and their keys come from (einvoice.registry.cache.RegistryCache)."""

    async def seller(self, tax_code: str) -> Seller | None: ...


@dataclass(frozen=True)
class Answer:
    """A real-time answer: 201 (authenticated now), 200 (the original answer) or 409."""

    status: int
    body: bytes
    media_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Earlier:
    """The answer of an invoice authenticated before."""

    code: str
    invoice_hash: str
    token: str
    authenticated_at: dt.datetime


class Submissions:
    def __init__(
        self,
        *,
        authority: Authority,
        invoices: InvoiceStore,
        registry_cache: SellerDirectory,
        cache: CacheWriter | None = None,
        changes: InvoiceChanges | None = None,
        recovery_grace_s: float = 7.0,
        page_url: str = "http://127.0.0.1:8000",
    ) -> None:
        self.authority = authority
        self.invoices = invoices
        self.registry_cache = registry_cache
        self.cache = cache
        # How a correction changes its original (einvoice/changes.py).
        self.changes = changes or InvoiceChanges(
            invoices=invoices, taxpayers=registry_cache, cache=None
        )
        # How long after a claim its own attempt may still be writing its rows (at most the
        # Cassandra request timeout, plus a margin): a repeat waits that long before it writes
        # them itself, so that the answer the first attempt gives is the one stored.
        self.recovery_grace = dt.timedelta(seconds=recovery_grace_s)
        # The lookup page's public base URL (Settings.lookup_page_url; the default is the
        # development service's): answers name the page's check of their token, `verify_url`.
        self.page_url = page_url

    async def submit(
        self, *, tax_code: str, raw_invoice: Any, signature: Any, now: dt.datetime
    ) -> Answer:
        """One real-time submission by the business `tax_code`; raises for 403 and 422."""
        claimed_seller = _seller_tax_code(raw_invoice)
        if claimed_seller is not None and claimed_seller != tax_code:
            raise Forbidden(
                "a business submits only invoices it sells",
                code=ErrorCode.SELLER_MISMATCH,
                field="/invoice/seller/tax_code",
            )
        seller = await self._active_seller(tax_code)
        outcome = self._authenticate(raw_invoice, signature, seller, now)
        if isinstance(outcome, Rejected):
            received = _json_received(raw_invoice, signature)
            before = await self._accepted_before(outcome, received, seller, now)
            if before is None:
                _REALTIME["rejected"].inc()
                raise InvalidRequest("the invoice is not valid", details=list(outcome.errors))
            _REALTIME["repeated"].inc()
            return _answer(before[1], outcome.invoice, 200, self.page_url)
        invoice = await self._with_buyer(_authenticated_invoice(outcome, signature, seller))
        try:
            invoice = await self._with_original(invoice, _json_field)
            held = await self._claim_and_write(invoice, now)
            if held is None:
                earlier = _Earlier(invoice.code, invoice.invoice_hash, invoice.token, now)
                return _answer(earlier, outcome.invoice, 201, self.page_url)
            if held.invoice_hash != invoice.invoice_hash:
                return _conflict(held)
            earlier = await self._earlier(held, invoice, now)
        except CorrectionRefused as refused:
            if refused.detail.code.status == 422:  # no such original (409s counted as conflicts)
                _REALTIME["rejected"].inc()
            return refused.answer()
        return _answer(earlier, outcome.invoice, 200, self.page_url)

    async def submit_xml(self, *, tax_code: str, body: bytes, now: dt.datetime) -> Answer:
        """One real-time HDon by the business `tax_code`: the coded HDon (201, or 200 with the
        stored one for a repeat) or the JSON 409; raises for 400 (MalformedXml), 403 and 422."""
        seller = await self._active_seller(tax_code)
        outcome = self._authenticate_xml(body, seller, now)
        if isinstance(outcome, Rejected):
            _check_xml_seller(outcome.invoice, tax_code)
            before = await self._accepted_before(
                outcome, _xml_received(body, outcome, self.authority), seller, now
            )
            if before is None:
                _REALTIME["rejected"].inc()
                raise InvalidRequest("the invoice is not valid", details=list(outcome.errors))
            _REALTIME["repeated"].inc()
            return await self._xml_answer(before[1], 200, body)
        authenticated = outcome.authenticated
        _check_xml_seller(authenticated.invoice, tax_code)
        invoice = _authenticated_invoice(authenticated, "", seller, signed_xml=outcome.answer)
        invoice = await self._with_buyer(invoice)
        try:
            invoice = await self._with_original(invoice, xml_path)
            held = await self._claim_and_write(invoice, now)
            if held is None:
                earlier = _Earlier(invoice.code, invoice.invoice_hash, invoice.token, now)
                return _xml(earlier, 201, outcome.answer, self.page_url)
            if held.invoice_hash != invoice.invoice_hash:
                return _conflict(held, XML_NUMBER)
            recode = _recoder(body, invoice.invoice_hash, self.authority)
            earlier = await self._earlier(held, invoice, now, recode)
        except CorrectionRefused as refused:
            if refused.detail.code.status == 422:  # no such original (409s counted as conflicts)
                _REALTIME["rejected"].inc()
            return refused.answer()
        return await self._xml_answer(earlier, 200, body)

    async def _claim_and_write(self, invoice: NewInvoice, now: dt.datetime) -> Claim | None:
        """Claim a real-time invoice's number. None when this submission won it: its rows are
        written and the cache told. Otherwise the claim that holds the number (a repeat, or a
        conflict when its hash differs), counted as such."""
        started = time.perf_counter()
        claimed = await self.invoices.claim(invoice, now)
        _CLAIM_SECONDS.observe(time.perf_counter() - started)
        if not claimed.created:
            same = claimed.claim.invoice_hash == invoice.invoice_hash
            _REALTIME["repeated" if same else "conflict"].inc()
            return claimed.claim
        if invoice.original_code is not None:
            try:
                await self._correct(invoice, now)
            except CorrectionRefused:
                _REALTIME["conflict"].inc()
                raise
        started = time.perf_counter()
        await self.invoices.write(invoice, now)
        _ROWS_SECONDS.observe(time.perf_counter() - started)
        _REALTIME["created"].inc()
        if self.cache is not None:
            self.cache.write(claimed.claim.code, _document(invoice))
        return None

    async def _with_original(self, invoice: NewInvoice, field: Callable[[str], str]) -> NewInvoice:
        """A correction, with the code of the invoice it corrects: one of the same seller,
        authenticated under the template, symbol and number its `original` names, issued on the
        date it names. CorrectionRefused (422 ORIGINAL_NOT_FOUND) when there is none. Other
        invoices are returned as they are, without a read."""
        reference = invoice.invoice.get("original")
        if reference is None:
            return invoice
        claim = await self.invoices.claim_of(
            invoice.seller_tax_code, reference["template"], reference["symbol"], reference["number"]
        )
        stored = await self.invoices.by_code(claim.code) if claim is not None else None
        if stored is None:
            raise CorrectionRefused(
                ErrorDetail(
                    ORIGINAL_NOT_FOUND,
                    "no invoice of this seller was authenticated under this template, symbol "
                    "and number",
                    field("/invoice/original"),
                )
            )
        issued = stored.invoice["issued_date"]
        if issued != reference["issued_date"]:
            raise CorrectionRefused(
                ErrorDetail(
                    ORIGINAL_NOT_FOUND,
                    f"the invoice under this template, symbol and number was issued on {issued}",
                    field("/invoice/original/issued_date"),
                )
            )
        return dataclasses.replace(invoice, original_code=stored.code)

    async def _correct(self, invoice: NewInvoice, now: dt.datetime) -> None:
        """Replace or adjust the original of a correction that has just claimed its number (or
        whose claim is being completed), before its rows are written. When the original's state
        forbids it (replaced or cancelled meanwhile), the claim is released, so the number is free
        again, and CorrectionRefused (409) says why."""
        assert invoice.original_code is not None
        field = xml_path if invoice.signed_xml is not None else _json_field
        stored = await self.invoices.by_code(invoice.original_code)
        refusal: ErrorDetail | None = None
        existing: dict[str, str] = {}
        if stored is None:  # its ten years ended meanwhile
            refusal = ErrorDetail(
                ORIGINAL_NOT_FOUND,
                "the original invoice is no longer stored",
                field("/invoice/original"),
            )
        else:
            relation = invoice.invoice["original"]["relation"]
            change = Change("replace" if relation == "replaces" else "adjust", invoice.code)
            outcome = await self.changes.change(stored, change, now)
            if isinstance(outcome, Refusal):
                refusal = refusal_detail(outcome, stored.code, field("/invoice/original"))
                existing = {"code": stored.code, "status": outcome.status}
        if refusal is not None:
            await self.invoices.claims.release(
                invoice.seller_tax_code,
                invoice.template,
                invoice.symbol,
                invoice.number,
                invoice.code,
            )
            raise CorrectionRefused(refusal, existing)

    async def _active_seller(self, tax_code: str) -> Seller:
        return await active_seller(self.registry_cache, tax_code)

    async def _xml_answer(self, earlier: _Earlier, status: int, body: bytes) -> Answer:
        """The stored coded HDon of an earlier answer."""
        signed = await self.invoices.signed_xml(earlier.code)
        if signed is None:  # not written by this code (never expected): the same bytes, signed
            signed = _recoder(body, earlier.invoice_hash, self.authority)(earlier.code)
        return _xml(earlier, status, signed, self.page_url)

    async def submit_lines(
        self,
        *,
        batch_id: uuid.UUID,
        seller_tax_code: str,
        lines: Sequence[tuple[int, bytes]],
        now: dt.datetime,
    ) -> list[LineResult]:
        """Results for (index, NDJSON line) of one batch, once every authenticated line's rows
        are written. Lines were checked for shape and seller when the batch was accepted."""
        seller = await self.registry_cache.seller(seller_tax_code)
        if seller is None or not seller.active:
            error = ErrorDetail(NOT_ACTIVE, NOT_ACTIVE_MESSAGE)
            return [_rejected(index, [error]) for index, _ in lines]
        results: dict[int, LineResult] = {}
        accepted: list[tuple[int, NewInvoice, _Received]] = []
        rejected: list[tuple[int, Rejected, _Received]] = []
        for count, (index, line) in enumerate(lines, 1):
            submission: Any = orjson.loads(line)
            xml = submission.get("xml")
            if isinstance(xml, str):  # an HDon (api/batches.py checked it parses)
                body = xml.encode()
                try:
                    xml_outcome = self._authenticate_xml(body, seller, now)
                except MalformedXml as error:
                    results[index] = _rejected(index, error.details)
                    continue
                if isinstance(xml_outcome, Rejected):
                    received = _xml_received(body, xml_outcome, self.authority)
                    rejected.append((index, xml_outcome, received))
                else:
                    authenticated = xml_outcome.authenticated
                    invoice = _authenticated_invoice(
                        authenticated,
                        "",
                        seller,
                        batch_id=batch_id,
                        line=index,
                        signed_xml=xml_outcome.answer,
                    )
                    received = _xml_accepted(body, authenticated, self.authority)
                    accepted.append((index, invoice, received))
            else:
                raw_invoice, signature = submission.get("invoice"), submission.get("signature")
                outcome = self._authenticate(raw_invoice, signature, seller, now)
                received = _json_received(raw_invoice, signature)
                if isinstance(outcome, Rejected):
                    rejected.append((index, outcome, received))
                else:
                    invoice = _authenticated_invoice(
                        outcome, signature, seller, batch_id=batch_id, line=index
                    )
                    accepted.append((index, invoice, received))
            if count % _LINES_PER_SLICE == 0:
                await asyncio.sleep(0)  # other tasks (the worker's lease renewal) get a turn

        buckets = await self._buyer_buckets({invoice.buyer_tax_code for _, invoice, _ in accepted})
        accepted = [
            (index, _with_buyer_buckets(invoice, buckets), received)
            for index, invoice, received in accepted
        ]
        accepted = await self._with_originals(accepted, results)
        outcomes = await self.invoices.claim_all([invoice for _, invoice, _ in accepted], now)
        created = [
            (index, invoice)
            for (index, invoice, _), outcome in zip(accepted, outcomes, strict=True)
            if outcome.created
        ]
        created = await self._corrected(created, now, results)
        await self.invoices.write_all([invoice for _, invoice in created], now)
        tokens = {invoice.code: invoice.token for _, invoice in created}
        for index, invoice in created:
            results[index] = LineResult(index, "authenticated", invoice.code, invoice.token)

        async def repeat(
            index: int, claim: Claim, invoice: NewInvoice, received: _Received
        ) -> None:
            if claim.invoice_hash != invoice.invoice_hash:
                results[index] = _line_conflict(index, claim, received.number_field)
                return
            token = tokens.get(claim.code)  # a line repeated within this run
            if token is None:
                try:
                    token = (await self._earlier(claim, invoice, now, received.recode)).token
                except CorrectionRefused as refused:
                    results[index] = refused.line_result(index)
                    return
            mine = claim.made_by(batch_id, index)  # this line, in an earlier run of the batch
            results[index] = LineResult(
                index, "authenticated" if mine else "duplicate", claim.code, token
            )

        async def check_rejected(index: int, outcome: Rejected, received: _Received) -> None:
            try:
                earlier = await self._accepted_before(outcome, received, seller, now)
            except CorrectionRefused as refused:
                results[index] = refused.line_result(index)
                return
            if earlier is None:
                results[index] = _rejected(index, outcome.errors)
                return
            claim, answer = earlier
            mine = claim.made_by(batch_id, index)
            results[index] = LineResult(
                index, "authenticated" if mine else "duplicate", answer.code, answer.token
            )

        await _bounded(
            [
                repeat(index, outcome.claim, invoice, received)
                for (index, invoice, received), outcome in zip(accepted, outcomes, strict=True)
                if not outcome.created
            ]
            + [check_rejected(*item) for item in rejected]
        )
        for result in results.values():
            _BATCH[_batch_outcome(result)].inc()
        return [results[index] for index, _ in lines]

    async def _with_originals(
        self,
        accepted: list[tuple[int, NewInvoice, _Received]],
        results: dict[int, LineResult],
    ) -> list[tuple[int, NewInvoice, _Received]]:
        """A batch's authenticated lines, corrections with their originals' codes; a correction
        whose original is not found gets its result here and is left out."""
        found: dict[int, NewInvoice] = {}

        async def resolve(index: int, invoice: NewInvoice, received: _Received) -> None:
            try:
                found[index] = await self._with_original(invoice, _field_of(received))
            except CorrectionRefused as refused:
                results[index] = refused.line_result(index)

        corrections = [item for item in accepted if item[1].invoice.get("original") is not None]
        if not corrections:
            return accepted
        await _bounded([resolve(*item) for item in corrections])
        return [
            (index, found.get(index, invoice), received)
            for index, invoice, received in accepted
            if index not in results
        ]

    async def _corrected(
        self,
        created: list[tuple[int, NewInvoice]],
        now: dt.datetime,
        results: dict[int, LineResult],
    ) -> list[tuple[int, NewInvoice]]:
        """A batch's newly claimed lines whose rows may be written: every line that corrects
        nothing, and the corrections whose originals took the change. A refused one gets its
        result here (its claim released)."""

        async def correct(index: int, invoice: NewInvoice) -> None:
            try:
                await self._correct(invoice, now)
            except CorrectionRefused as refused:
                results[index] = refused.line_result(index)

        corrections = [item for item in created if item[1].original_code is not None]
        if not corrections:
            return created
        await _bounded([correct(*item) for item in corrections], limit=16)
        return [(index, invoice) for index, invoice in created if index not in results]

    async def _buyer_buckets(self, tax_codes: set[str | None]) -> dict[str, int]:
        """Each buyer's bucket count for its month partitions: its registry `month_buckets`, 1
        for a buyer the registry does not know (the registry cache keeps that answer too)."""
        known = sorted(code for code in tax_codes if code)
        taxpayers = await asyncio.gather(*(self.registry_cache.seller(code) for code in known))
        return {
            code: taxpayer.month_buckets if taxpayer is not None else 1
            for code, taxpayer in zip(known, taxpayers, strict=True)
        }

    async def _with_buyer(self, invoice: NewInvoice) -> NewInvoice:
        if not invoice.buyer_tax_code:
            return invoice
        return _with_buyer_buckets(invoice, await self._buyer_buckets({invoice.buyer_tax_code}))

    def _authenticate(
        self, raw_invoice: Any, signature: Any, seller: Seller, now: dt.datetime
    ) -> Authenticated | Rejected:
        outcome = authenticate(
            raw_invoice,
            signature,
            keys_for_seller=lambda _: seller.keys,
            authority=self.authority,
            now=now,
        )
        if isinstance(outcome, Rejected):
            for error in outcome.errors:
                RULE_FAILURES.labels(error.code).inc()
        return outcome

    def _authenticate_xml(
        self, body: bytes, seller: Seller, now: dt.datetime
    ) -> AuthenticatedXml | Rejected:
        tax_code = seller.tax_code
        certificates = seller.certificates
        outcome = authenticate_xml(
            body,
            certificates_for_seller=lambda code: certificates if code == tax_code else {},
            authority=self.authority,
            now=now,
        )
        if isinstance(outcome, Rejected):
            for error in outcome.errors:
                RULE_FAILURES.labels(error.code).inc()
        return outcome

    async def _accepted_before(
        self, outcome: Rejected, received: _Received, seller: Seller, now: dt.datetime
    ) -> tuple[Claim, _Earlier] | None:
        """The original answer when this very invoice was authenticated before (a key revoked
        since does not change that); None when it never was."""
        invoice = outcome.invoice
        if invoice is None or outcome.invoice_hash is None:
            return None
        claim = await self.invoices.claim_of(
            invoice["seller"]["tax_code"], invoice["template"], invoice["symbol"], invoice["number"]
        )
        if claim is None or claim.invoice_hash != outcome.invoice_hash:
            return None
        stand_in = _new_invoice(
            invoice,
            code=claim.code,
            invoice_hash=claim.invoice_hash,
            canonical=received.canonical(),
            signature=received.seller_signature,
            token="",  # signed again by `_earlier` if its rows must be written
            authenticated_at=claim.authenticated_at,
            seller=seller,
        )
        stand_in = await self._with_buyer(stand_in)
        stand_in = await self._with_original(stand_in, _field_of(received))
        return claim, await self._earlier(claim, stand_in, now, received.recode)

    async def _earlier(
        self,
        claim: Claim,
        invoice: NewInvoice,
        now: dt.datetime,
        recode: Callable[[str], bytes] | None = None,
    ) -> _Earlier:
        """The stored answer of `claim`. When its rows are missing and the claim is older than the
        recovery grace (its own attempt died or gave up), they are written now from this same
        invoice (`invoice`, same hash) with the claim's code, time and a token signed again; an
        XML invoice's answer is made again for the claim's code by `recode`. Should the first
        attempt still write after that, its rows win (storage/cassandra/invoices.py): the answer
        read back afterwards is its one, an equally valid signature of the same content."""
        stored = await self.invoices.by_code(claim.code)
        pause = 0.01
        while (
            stored is None
            and dt.datetime.now(dt.UTC) < claim.authenticated_at + self.recovery_grace
        ):
            await asyncio.sleep(pause)  # the claim's own attempt may still be writing
            pause = min(pause * 2, 0.25)
            stored = await self.invoices.by_code(claim.code)
        if stored is not None:
            return _Earlier(stored.code, stored.invoice_hash, stored.token, stored.authenticated_at)
        iat = int(claim.authenticated_at.timestamp())
        claims = token_claims(
            invoice.invoice,
            issuer=self.authority.issuer,
            code=claim.code,
            invoice_hash=claim.invoice_hash,
            iat=iat,
        )
        token = self.authority.keyring.sign_token(claims, deterministic=True)
        recovered = dataclasses.replace(
            invoice,
            code=claim.code,
            token=token,
            authenticated_at=claim.authenticated_at,
            batch_id=claim.batch_id,
            line=claim.line,
            signed_xml=recode(claim.code) if recode is not None else None,
        )
        if recovered.original_code is not None:  # the correction, decided again (idempotent)
            await self._correct(recovered, now)
        await self.invoices.write(recovered, now, recovering=True)
        RECOVERED.inc()
        return _Earlier(claim.code, claim.invoice_hash, token, claim.authenticated_at)


# Where an invoice's number is, in a JSON submission and in an HDon.
JSON_NUMBER = "/invoice/number"
XML_NUMBER = xml_path(JSON_NUMBER)
ORIGINAL_NOT_FOUND = ErrorCode.ORIGINAL_NOT_FOUND


async def active_seller(directory: SellerDirectory, tax_code: str) -> Seller:
    """The seller `tax_code`; Forbidden (TAXPAYER_NOT_ACTIVE) unless it is registered and
    active."""
    seller = await directory.seller(tax_code)
    if seller is None or not seller.active:
        raise Forbidden(NOT_ACTIVE_MESSAGE, code=NOT_ACTIVE)
    return seller


class CorrectionRefused(Exception):
    """A replacement or adjustment whose original cannot be corrected: 422 when there is no such
    original, 409 when its state forbids it (`existing`: its code and status)."""

    def __init__(self, detail: ErrorDetail, existing: dict[str, str] | None = None) -> None:
        super().__init__(detail.message)
        self.detail = detail
        self.existing = existing or {}

    def answer(self) -> Answer:
        body = error_body([self.detail])
        if self.existing:
            body["original"] = self.existing
        return Answer(self.detail.code.status, orjson.dumps(body))

    def line_result(self, index: int) -> LineResult:
        return _rejected(index, [self.detail])


def _json_field(pointer: str) -> str:
    return pointer


def _field_of(received: _Received) -> Callable[[str], str]:
    return xml_path if received.number_field == XML_NUMBER else _json_field


def number_used(existing_code: str, field: str = JSON_NUMBER) -> ErrorDetail:
    """The error of an invoice under a number another invoice holds (409, or a batch line)."""
    return ErrorDetail(NUMBER_USED, f"{NUMBER_USED_MESSAGE}: {existing_code}", field)


@dataclass(frozen=True)
class _Received:
    """What a submission brought beside its parsed invoice, to write its rows again
    (`Submissions._earlier`) and to name its number in a conflict."""

    canonical: Callable[[], bytes]  # the invoice's canonical JSON (made only when needed)
    seller_signature: str  # the detached JWS; empty for an HDon (its signature is in the XML)
    recode: Callable[[str], bytes] | None = None  # an HDon: its answer for a given code
    number_field: str = JSON_NUMBER


def _json_received(raw_invoice: Any, signature: Any) -> _Received:
    return _Received(
        lambda: canonical_invoice_bytes(raw_invoice),
        signature if isinstance(signature, str) else "",
    )


def _xml_received(body: bytes, outcome: Rejected, authority: Authority) -> _Received:
    return _Received(
        lambda: canonical_invoice_bytes(invoice_of(parse_hdon(body))),
        "",
        _recoder(body, outcome.invoice_hash or "", authority),
        XML_NUMBER,
    )


def _xml_accepted(body: bytes, outcome: Authenticated, authority: Authority) -> _Received:
    canonical = outcome.canonical
    return _Received(
        lambda: canonical, "", _recoder(body, outcome.invoice_hash, authority), XML_NUMBER
    )


def _recoder(body: bytes, invoice_hash: str, authority: Authority) -> Callable[[str], bytes]:
    """The answer to the HDon `body` for a given code, signed again (its content is the same for
    a code; the authority's signature value differs each time, ECDSA being randomised)."""
    keyring = authority.keyring
    return lambda code: coded_hdon(
        body, parse_hdon(body), code, keyring.active, invoice_hash, keyring.token_signer
    )


def _check_xml_seller(invoice: Invoice | None, tax_code: str) -> None:
    if invoice is not None and invoice["seller"]["tax_code"] != tax_code:
        raise Forbidden(
            "a business submits only invoices it sells",
            code=ErrorCode.SELLER_MISMATCH,
            field=xml_path("/invoice/seller/tax_code"),
        )


def _new_invoice(
    invoice: Invoice,
    *,
    code: str,
    invoice_hash: str,
    canonical: bytes,
    signature: str,
    token: str,
    authenticated_at: dt.datetime,
    seller: Seller,
    batch_id: uuid.UUID | None = None,
    line: int | None = None,
    signed_xml: bytes | None = None,
) -> NewInvoice:
    return NewInvoice(
        code=code,
        seller_tax_code=invoice["seller"]["tax_code"],
        template=invoice["template"],
        symbol=invoice["symbol"],
        number=invoice["number"],
        issued_date=dt.date.fromisoformat(invoice["issued_date"]),
        buyer_tax_code=(invoice.get("buyer") or {}).get("tax_code"),
        total_payable=Decimal(invoice["totals"]["total_payable"]),
        invoice_hash=invoice_hash,
        canonical=canonical,
        invoice=invoice,
        seller_signature=signature,
        token=token,
        authenticated_at=authenticated_at,
        month_buckets=seller.month_buckets,
        batch_id=batch_id,
        line=line,
        signed_xml=signed_xml,
    )


def _with_buyer_buckets(invoice: NewInvoice, buckets: dict[str, int]) -> NewInvoice:
    count = buckets.get(invoice.buyer_tax_code or "", 1)
    return invoice if count == 1 else dataclasses.replace(invoice, buyer_month_buckets=count)


def _authenticated_invoice(
    outcome: Authenticated,
    signature: str,
    seller: Seller,
    *,
    batch_id: uuid.UUID | None = None,
    line: int | None = None,
    signed_xml: bytes | None = None,
) -> NewInvoice:
    return _new_invoice(
        outcome.invoice,
        code=outcome.code,
        invoice_hash=outcome.invoice_hash,
        canonical=outcome.canonical,
        signature=signature,
        token=outcome.token,
        authenticated_at=outcome.authenticated_at,
        seller=seller,
        batch_id=batch_id,
        line=line,
        signed_xml=signed_xml,
    )


def _document(invoice: NewInvoice) -> dict[str, Any]:
    return invoice_document(
        code=invoice.code,
        invoice=dict(invoice.invoice),
        invoice_hash=invoice.invoice_hash,
        authenticated_at=invoice.authenticated_at,
        token=invoice.token,
        seller_signature=invoice.seller_signature,
        xml=invoice.signed_xml is not None,
        original_code=invoice.original_code,
    )


def _answer(earlier: _Earlier, invoice: Invoice | None, status: int, page_url: str) -> Answer:
    symbol = invoice["symbol"] if invoice is not None else ""
    body = {
        "code": earlier.code,
        "coded": symbol.startswith("C"),
        "authenticated_at": utc_timestamp(earlier.authenticated_at),
        "invoice_hash": earlier.invoice_hash,
        "token": earlier.token,
        # A string, never a QR code: the code is drawn where people look (the page, the invoice
        # view), not on the real-time path.
        "verify_url": verify_url(page_url, earlier.token),
    }
    return Answer(status, orjson.dumps(body))


def _xml(earlier: _Earlier, status: int, signed_xml: bytes, page_url: str) -> Answer:
    """An HDon's answer: the coded HDon, and the JSON answer's fields as headers
    (docs/invoice-format.md, "The national XML")."""
    headers = {
        "Location": f"/v1/invoices/{earlier.code}",
        "X-Invoice-Code": earlier.code,
        "X-Invoice-Hash": earlier.invoice_hash,
        "X-Invoice-Token": earlier.token,
        "X-Authenticated-At": utc_timestamp(earlier.authenticated_at),
        "X-Verify-URL": verify_url(page_url, earlier.token),
    }
    return Answer(status, signed_xml, "application/xml", headers)


def _conflict(existing: Claim, field: str = JSON_NUMBER) -> Answer:
    body = error_body([number_used(existing.code, field)])
    body["existing"] = {"code": existing.code, "invoice_hash": existing.invoice_hash}
    return Answer(409, orjson.dumps(body))


def _line_conflict(index: int, existing: Claim, field: str = JSON_NUMBER) -> LineResult:
    errors = orjson.dumps([number_used(existing.code, field).as_json()]).decode()
    return LineResult(index, "rejected", existing.code, None, errors)


def _rejected(index: int, errors: Sequence[ErrorDetail]) -> LineResult:
    return LineResult(
        index, "rejected", errors=orjson.dumps([error.as_json() for error in errors]).decode()
    )


def _batch_outcome(result: LineResult) -> str:
    if result.status == "authenticated":
        return "created"
    if result.status == "duplicate":
        return "repeated"
    return "conflict" if result.code else "rejected"


def _seller_tax_code(raw_invoice: Any) -> str | None:
    seller = raw_invoice.get("seller") if isinstance(raw_invoice, dict) else None
    tax_code = seller.get("tax_code") if isinstance(seller, dict) else None
    return tax_code if isinstance(tax_code, str) else None


async def _bounded(work: list[Any], limit: int = 64) -> None:
    """Await coroutines with at most `limit` running at once."""
    semaphore = asyncio.Semaphore(limit)

    async def one(coroutine: Any) -> None:
        async with semaphore:
            await coroutine

    await asyncio.gather(*(one(coroutine) for coroutine in work))
