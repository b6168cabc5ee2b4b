"""Batches with HDon lines (`{"xml": "<HDon ...>"}`) end to end: the API checks and stores them,
a real worker process authenticates them, their signed XML is read by code."""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from einvoice.config import Settings
from einvoice.hdon.parse import NAMESPACE
from tests.api.test_xml_invoices import (
    XML,
    check_authority_signature,
    jwks_of,
    make_xml_seller,
)
from tests.ingest.test_batches import ndjson, post_batch, results, wait_completed
from tests.support import ServerProcess


async def test_a_batch_with_xml_lines(
    settings: Settings, http: httpx.AsyncClient, worker: ServerProcess
) -> None:
    xml_seller = await make_xml_seller(settings)
    xml_lines = [
        {"xml": xml_seller.hdon(n, namespace=NAMESPACE if n % 2 else None).decode()}
        for n in range(1, 5)
    ]
    broken = orjson.loads(orjson.dumps(xml_lines[0]))
    broken["xml"] = broken["xml"].replace("<SHDon>1</SHDon>", "<SHDon>99</SHDon>")
    lines = [*xml_lines, xml_seller.seller.submission(10), broken, xml_lines[1]]
    response = await post_batch(http, xml_seller.seller, ndjson(lines))
    assert response.status_code == 202, response.text
    batch_id = response.json()["batch_id"]
    status = await wait_completed(http, xml_seller.seller, batch_id)
    assert status["status"] == "completed"
    found = await results(http, xml_seller.seller, batch_id)
    assert [line["status"] for line in found] == ["authenticated"] * 5 + [
        "rejected",
        "duplicate",
    ]
    assert "SIGNATURE_INVALID" in [error["code"] for error in found[5]["errors"]]
    assert found[6]["code"] == found[1]["code"]
    jwks = await jwks_of(http)
    for line in found[:4]:
        signed = await http.get(
            f"/v1/invoices/{line['code']}",
            headers={**xml_seller.headers, "Accept": "application/xml"},
        )
        assert signed.status_code == 200
        assert check_authority_signature(signed.content, jwks) == line["code"]
    # The same HDon in real time afterwards: its batch answer, with 200.
    again = await http.post(
        "/v1/invoices",
        content=xml_lines[2]["xml"].encode(),
        headers={**xml_seller.headers, **XML},
    )
    assert again.status_code == 200
    assert again.headers["X-Invoice-Code"] == found[2]["code"]


async def test_bad_xml_lines_refuse_the_batch_up_front(
    settings: Settings, http: httpx.AsyncClient
) -> None:
    xml_seller = await make_xml_seller(settings)
    good = {"xml": xml_seller.hdon(1).decode()}
    cases: list[tuple[dict[str, Any], int, str, str]] = [
        ({"xml": "<HDon><DLHDon>"}, 400, "MALFORMED_XML", "/1/xml"),
        ({"xml": 5}, 422, "INVALID_TYPE", "/1/xml"),
        ({"xml": good["xml"], "signature": "x"}, 422, "UNKNOWN_FIELD", "/1/signature"),
    ]
    other = await make_xml_seller(settings)
    cases.append(
        (
            {"xml": other.hdon(1).decode()},
            403,
            "SELLER_MISMATCH",
            "/1/xml/HDon/DLHDon/NDHDon/NBan/MST",
        )
    )
    for line, status, code, field in cases:
        response = await post_batch(http, xml_seller.seller, ndjson([good, line]))
        assert response.status_code == status, (line, response.text)
        error = response.json()["errors"][0]
        assert error["code"] == code
        assert error["field"].startswith(field), error
