"""Corrections in batches and as HDon (docs/lifecycle.md): a real worker decides replacements and
adjustments as the real-time path does, two lines racing for one original included; an HDon's
TTHDLQuan is a correction too."""

from __future__ import annotations

import httpx

from einvoice.config import Settings
from tests.api.test_lifecycle import _correction, _document, _issue, _reference
from tests.api.test_xml_invoices import XML, make_xml_seller
from tests.ingest.test_batches import ndjson, post_batch, results, wait_completed
from tests.support import ServerProcess


async def test_a_batch_replaces_and_adjusts_and_one_of_two_racing_lines_wins(
    settings: Settings, http: httpx.AsyncClient, worker: ServerProcess
) -> None:
    xml_seller = await make_xml_seller(settings)
    seller = xml_seller.seller
    first, second = seller.submission(1), seller.submission(2)
    first_code = await _issue(http, seller, first)
    second_code = await _issue(http, seller, second)
    unknown = seller.submission(13, original={**_reference(first, "replaces"), "number": 999})
    lines = [
        _correction(seller, 10, first),
        _correction(seller, 11, second, "adjusts"),
        _correction(seller, 12, first),  # races line 0 for the same original
        unknown,
    ]

    response = await post_batch(http, seller, ndjson(lines))
    assert response.status_code == 202, response.text
    batch_id = response.json()["batch_id"]
    assert (await wait_completed(http, seller, batch_id))["status"] == "completed"
    found = await results(http, seller, batch_id)

    racing = [found[0], found[2]]
    assert sorted(line["status"] for line in racing) == ["authenticated", "rejected"]
    winner = next(line for line in racing if line["status"] == "authenticated")
    loser = next(line for line in racing if line["status"] == "rejected")
    assert [(e["code"], e["field"]) for e in loser["errors"]] == [
        ("ORIGINAL_REPLACED", "/invoice/original")
    ]
    assert loser.get("code") is None  # nobody holds its number
    assert found[1]["status"] == "authenticated"
    assert found[3]["status"] == "rejected"
    assert [e["code"] for e in found[3]["errors"]] == ["ORIGINAL_NOT_FOUND"]
    replaced = await _document(http, seller, first_code)
    assert (replaced["status"], replaced["replaced_by"]) == ("replaced", winner["code"])
    adjusted = await _document(http, seller, second_code)
    assert (adjusted["status"], adjusted["adjusted_by"]) == ("adjusted", [found[1]["code"]])
    assert (await _document(http, seller, winner["code"]))["original_code"] == first_code

    # An HDon naming its original in TTHDLQuan replaces it the same way, in real time.
    third = seller.submission(3)
    third_code = await _issue(http, seller, third)
    content = xml_seller.invoice(20, original=_reference(third, "replaces"))
    answer = await http.post(
        "/v1/invoices",
        content=xml_seller.hdon(20, content=content),
        headers={**seller.headers, **XML},
    )
    assert answer.status_code == 201, answer.text
    assert b"<TTHDLQuan>" in answer.content
    replaced = await _document(http, seller, third_code)
    assert replaced["replaced_by"] == answer.headers["X-Invoice-Code"]
    again = await http.post(
        "/v1/invoices",
        content=xml_seller.hdon(21, content={**content, "number": 21}),
        headers={**seller.headers, **XML},
    )
    assert again.status_code == 409
    assert [(e["code"], e["field"]) for e in again.json()["errors"]] == [
        ("ORIGINAL_REPLACED", "/HDon/DLHDon/TTChung/TTHDLQuan")
    ]
