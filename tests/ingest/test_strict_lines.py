"""Strict JSON in batches, through the real API and a real worker: a line repeating a member name
or larger than a submission refuses the batch up front with the line's pointer, and nothing is
stored; a line whose JWS header repeats a member is a rejected line, as in real time."""

from __future__ import annotations

import httpx
import orjson

from einvoice.config import Settings
from signing import jws
from signing.canonical import canonical_invoice_bytes
from storage.cassandra.client import CassandraClient
from tests.api.test_invoices import Seller, make_seller
from tests.api.test_strict_bodies import submission_issued_today
from tests.ingest.test_batches import post_batch, results, wait_completed
from tests.signing.keys import private_key
from tests.support import ServerProcess


def _stored_batches(cassandra: CassandraClient, seller: Seller) -> int:
    rows = cassandra.session.execute(
        "SELECT batch_id FROM batches WHERE seller_tax_code = %s ALLOW FILTERING",
        (seller.tax_code,),
    )
    return len(list(rows))


async def test_a_line_repeating_a_member_refuses_the_batch_with_its_pointer(
    settings: Settings, http: httpx.AsyncClient, cassandra: CassandraClient
) -> None:
    seller = await make_seller(settings)
    good = orjson.dumps(submission_issued_today(seller, 1))
    line = orjson.dumps(submission_issued_today(seller, 2))
    repeated = line.replace(b'"seller":{', b'"seller":{"\\u006eame":"Someone else",', 1)
    assert repeated != line

    refused = await post_batch(http, seller, good + b"\n" + repeated + b"\n")

    assert refused.status_code == 422, refused.text
    [error] = refused.json()["errors"]
    assert (error["code"], error["field"]) == ("DUPLICATE_MEMBER", "/1/invoice/seller/name")
    assert error["message"].startswith("line 2: ")
    assert _stored_batches(cassandra, seller) == 0


async def test_a_line_larger_than_a_submission_refuses_the_batch(
    settings: Settings, http: httpx.AsyncClient, cassandra: CassandraClient
) -> None:
    seller = await make_seller(settings)
    good = orjson.dumps(submission_issued_today(seller, 1))
    huge = orjson.dumps({**submission_issued_today(seller, 2), "padding": "a" * (2 * 1024 * 1024)})

    refused = await post_batch(http, seller, good + b"\n" + huge + b"\n" + good)

    assert refused.status_code == 422, refused.text
    assert [(e["code"], e["field"]) for e in refused.json()["errors"]] == [("LINE_TOO_LARGE", "/1")]
    assert _stored_batches(cassandra, seller) == 0


async def test_a_line_whose_jws_header_repeats_a_member_is_rejected(
    settings: Settings, http: httpx.AsyncClient, worker: ServerProcess
) -> None:
    seller = await make_seller(settings)
    good, bent = submission_issued_today(seller, 1), submission_issued_today(seller, 2)
    kid = orjson.dumps(seller.kid).decode()
    header_b64 = jws.b64url_encode(f'{{"alg":"{seller.alg}","kid":{kid},"kid":{kid}}}'.encode())
    signing_input = header_b64 + b"." + jws.b64url_encode(canonical_invoice_bytes(bent["invoice"]))
    signature = jws.sign(seller.alg, private_key(seller.alg), signing_input)
    bent["signature"] = (header_b64 + b".." + jws.b64url_encode(signature)).decode()

    accepted = await post_batch(http, seller, orjson.dumps(good) + b"\n" + orjson.dumps(bent))
    assert accepted.status_code == 202, accepted.text
    batch_id = accepted.json()["batch_id"]
    status = await wait_completed(http, seller, batch_id, timeout_s=120)
    found = await results(http, seller, batch_id)

    assert status["status"] == "completed"
    assert [line["status"] for line in found] == ["authenticated", "rejected"]
    assert [(e["code"], e["field"]) for e in found[1]["errors"]] == [
        ("SIGNATURE_MALFORMED", "/signature")
    ]
