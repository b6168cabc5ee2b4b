"""The submission use case against the real Cassandra: batch blocks that fall back, repeats that
complete a claim whose rows were never written, and redelivered batch lines."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import string
import uuid
from typing import Any

import orjson
import pytest

from einvoice.invoice.authenticate import Authority
from einvoice.invoice.samples import SELLER_TAX_CODE, sample_invoice
from einvoice.registry.cache import Seller
from einvoice.submission import Submissions
from einvoice.timezone import VIETNAM
from signing.authority import AuthorityKeyRing, generate_private_key_pem, new_code
from signing.canonical import canonical_invoice_bytes, invoice_hash
from signing.seller import sign_invoice
from storage.cassandra.claims import ClaimRequest
from storage.cassandra.client import CassandraClient
from storage.cassandra.invoices import InvoiceStore
from storage.cassandra.row_writer import RowWriter
from tests.signing.keys import ISSUER, private_key, seller_key

AUTHORITY = Authority(
    AuthorityKeyRing.from_pems({"t-1": generate_private_key_pem()}, "t-1"), "00", ISSUER
)
KEY = seller_key("ES256")


class Directory:
    """The sellers the use case sees (the registry cache's one method)."""

    def __init__(self, seller: Seller) -> None:
        self.current = seller

    async def seller(self, tax_code: str) -> Seller | None:
        return self.current if tax_code == self.current.tax_code else None


def active(*keys: Any) -> Seller:
    return Seller(SELLER_TAX_CODE, "Người Bán", "active", {key.kid: key for key in keys})


_SERIES = iter(itertools.product(string.ascii_uppercase, repeat=2))


@pytest.fixture
def series() -> str:
    # A type letter and two letters of its own: the test's numbers are fresh in the session's
    # keyspace (and the series of tests/api use other type letters).
    return "M" + "".join(next(_SERIES))


@pytest.fixture
def directory() -> Directory:
    return Directory(active(KEY))


@pytest.fixture
def submissions(cassandra: CassandraClient, directory: Directory) -> Submissions:
    store = InvoiceStore(cassandra.session, RowWriter(cassandra.session))
    return Submissions(
        authority=AUTHORITY, invoices=store, registry_cache=directory, recovery_grace_s=0.3
    )


def submission(series: str, number: int, **changes: Any) -> dict[str, Any]:
    today = dt.datetime.now(VIETNAM).date()  # within the 180 days the rules accept
    invoice = {**sample_invoice(number=number, symbol_series=series, issued=today), **changes}
    signature = sign_invoice(invoice, private_key("ES256"), kid=KEY.kid, alg="ES256")
    return {"invoice": invoice, "signature": signature}


async def realtime(submissions: Submissions, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    answer = await submissions.submit(
        tax_code=SELLER_TAX_CODE,
        raw_invoice=body["invoice"],
        signature=body["signature"],
        now=dt.datetime.now(dt.UTC),
    )
    return answer.status, orjson.loads(answer.body)


async def test_a_batch_block_with_a_repeat_and_a_conflict_falls_back_and_sorts_them(
    submissions: Submissions, series: str
) -> None:
    repeated = submission(series, 5)
    _, original = await realtime(submissions, repeated)
    _, holder = await realtime(submissions, submission(series, 7))
    lines = [submission(series, n) for n in range(1, 11)]
    lines[4] = repeated
    lines[6] = submission(series, 7, payment_method="TM")  # another invoice under number 7

    results = await submissions.submit_lines(
        batch_id=uuid.uuid1(),
        seller_tax_code=SELLER_TAX_CODE,
        lines=[(index, orjson.dumps(line)) for index, line in enumerate(lines)],
        now=dt.datetime.now(dt.UTC),
    )

    assert [r.status for r in results] == ["authenticated"] * 4 + ["duplicate"] + [
        "authenticated",
        "rejected",
    ] + ["authenticated"] * 3
    assert (results[4].code, results[4].token) == (original["code"], original["token"])
    assert results[6].code == holder["code"]
    errors = orjson.loads(results[6].errors or "[]")
    assert errors[0]["code"] == "INVOICE_NUMBER_USED"
    assert holder["code"] in errors[0]["message"]
    for result in results:
        if result.status == "authenticated":
            stored = await submissions.invoices.by_code(result.code or "")
            assert stored is not None
            assert stored.token == result.token


async def test_a_redelivered_batch_recognises_the_claims_of_its_earlier_run(
    submissions: Submissions, series: str
) -> None:
    batch_id = uuid.uuid1()
    lines = [(index, orjson.dumps(submission(series, 100 + index))) for index in range(20)]
    now = dt.datetime.now(dt.UTC)

    first = await submissions.submit_lines(
        batch_id=batch_id, seller_tax_code=SELLER_TAX_CODE, lines=lines, now=now
    )
    again = await submissions.submit_lines(
        batch_id=batch_id, seller_tax_code=SELLER_TAX_CODE, lines=lines, now=now
    )
    other_batch = await submissions.submit_lines(
        batch_id=uuid.uuid1(), seller_tax_code=SELLER_TAX_CODE, lines=lines[:1], now=now
    )

    assert [r.status for r in again] == ["authenticated"] * 20
    assert [(r.code, r.token) for r in again] == [(r.code, r.token) for r in first]
    assert other_batch[0].status == "duplicate"


async def claim_without_rows(
    submissions: Submissions, body: dict[str, Any], age: dt.timedelta
) -> str:
    """A claim as an attempt that died right after it leaves it: no document, no index row."""
    invoice = body["invoice"]
    code = new_code("00")
    await submissions.invoices.claims.claim_group(
        [
            ClaimRequest(
                SELLER_TAX_CODE,
                invoice["template"],
                invoice["symbol"],
                invoice["number"],
                code,
                invoice_hash(canonical_invoice_bytes(invoice)),
                dt.datetime.now(dt.UTC) - age,
                3600,
            )
        ]
    )
    return code


@pytest.mark.parametrize("age", [dt.timedelta(hours=1), dt.timedelta(0)])
async def test_a_repeat_writes_the_rows_an_earlier_attempt_never_wrote(
    submissions: Submissions, series: str, age: dt.timedelta
) -> None:
    body = submission(series, 42)
    code = await claim_without_rows(submissions, body, age)
    assert await submissions.invoices.by_code(code) is None

    status, answer = await realtime(submissions, body)
    _, again = await realtime(submissions, body)

    assert status == 200
    assert answer["code"] == code
    assert again == answer
    stored = await submissions.invoices.by_code(code)
    assert stored is not None
    assert stored.token == answer["token"]
    claims = AUTHORITY.keyring.verify_token(answer["token"])
    assert claims is not None
    assert claims["code"] == code
    assert claims["invoice_hash"] == answer["invoice_hash"]


async def test_the_rows_are_written_even_when_the_sellers_key_was_revoked_since(
    submissions: Submissions, directory: Directory, series: str
) -> None:
    body = submission(series, 43)
    code = await claim_without_rows(submissions, body, dt.timedelta(hours=1))
    revoked = dataclasses.replace(KEY, revoked_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=2))
    directory.current = active(revoked)

    status, answer = await realtime(submissions, body)
    results = await submissions.submit_lines(
        batch_id=uuid.uuid1(),
        seller_tax_code=SELLER_TAX_CODE,
        lines=[(0, orjson.dumps(body))],
        now=dt.datetime.now(dt.UTC),
    )

    assert (status, answer["code"]) == (200, code)
    assert (results[0].status, results[0].code) == ("duplicate", code)
    assert await submissions.invoices.by_code(code) is not None
