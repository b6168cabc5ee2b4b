"""`einvoice batch submit FILE.ndjson` against a real service and worker: a file cut into several
batches, every line's result written beside it under the file's line index, a batch refused as a
whole named by the file's line, and clear errors for a refused key or a missing one."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from einvoice.cli import main
from tests.api.test_invoices import Seller
from tests.einvoice.service_client.conftest import DemoRegistry
from tests.ingest.test_batches import bad
from tests.support import ServerProcess


async def run(*argv: str) -> int:
    # In a thread: the command blocks on HTTP, and the session's event loop must stay free.
    return await asyncio.to_thread(main, list(argv))


def write_lines(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(b"\n".join(lines) + b"\n")


def line(submission: dict[str, Any]) -> bytes:
    return orjson.dumps(submission)


def submit_args(path: Path, url: str, api_key: str, *more: str) -> list[str]:
    return [
        "batch", "submit", str(path), "--url", url, "--api-key", api_key,
        "--poll-interval", "0.2", "--no-progress", *more,
    ]  # fmt: skip


def read_results(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(text) for text in path.read_bytes().splitlines()]


async def test_a_file_goes_as_batches_and_every_line_s_result_is_written_beside_it(
    demo_registry: DemoRegistry,
    service_url: str,
    http: httpx.AsyncClient,
    worker: ServerProcess,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    seller: Seller = demo_registry.seller
    first = seller.submission(number=1)
    path = tmp_path / "june.ndjson"
    write_lines(
        path,
        [
            line(first),
            line(seller.submission(number=2)),
            b"",  # blank: not sent, no result, but it counts in the file's indices
            line(bad(seller.submission(number=3))),
            line(seller.submission(number=4)),
            line(first),  # the same invoice again, in another batch
        ],
    )

    args = submit_args(path, service_url, demo_registry.api_key, "--lines-per-batch", "2")
    assert await run(*args) == 0

    printed = capsys.readouterr().out
    assert "5 of 5 lines have a result" in printed
    assert "from 3 batches" in printed
    assert str(tmp_path / "june.results.ndjson") in printed
    results = read_results(tmp_path / "june.results.ndjson")
    assert [result["index"] for result in results] == [0, 1, 3, 4, 5]
    by_index = {result["index"]: result for result in results}
    assert by_index[1]["status"] == by_index[4]["status"] == "authenticated"
    assert by_index[3]["status"] == "rejected"
    assert by_index[3]["errors"][0]["code"] == "TOTAL_PAYABLE_MISMATCH"
    # Which of the two identical lines is first is up to the worker; one code for both.
    assert sorted([by_index[0]["status"], by_index[5]["status"]]) == ["authenticated", "duplicate"]
    assert by_index[0]["code"] == by_index[5]["code"]
    for index in (0, 1, 4):
        found = await http.get(f"/v1/invoices/{by_index[index]['code']}", headers=seller.headers)
        assert found.status_code == 200, found.text
        assert found.json()["token"] == by_index[index]["token"]


async def test_a_batch_refused_as_a_whole_names_the_file_s_line_and_stops_the_sending(
    demo_registry: DemoRegistry,
    service_url: str,
    worker: ServerProcess,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    seller = demo_registry.seller
    path = tmp_path / "broken.ndjson"
    write_lines(
        path,
        [
            line(seller.submission(number=1)),
            line(seller.submission(number=2)),
            line(seller.submission(number=3)),
            b'{"invoice": ',  # file line 4, the second line of batch 2
            line(seller.submission(number=5)),
        ],
    )

    args = submit_args(path, service_url, demo_registry.api_key, "--lines-per-batch", "2")
    assert await run(*args) == 1

    captured = capsys.readouterr()
    assert "batch 2 (lines 3-4 of" in captured.err
    assert "refused with 400" in captured.err
    assert "MALFORMED_JSON at /1" in captured.err
    assert "(line 4 of the file)" in captured.err
    assert "2 of 5 lines have a result" in captured.out
    results = read_results(tmp_path / "broken.results.ndjson")
    assert [(r["index"], r["status"]) for r in results] == [
        (0, "authenticated"),
        (1, "authenticated"),
    ]


async def test_a_refused_key_is_shown_with_the_service_s_error(
    service_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "in.ndjson"
    write_lines(path, [b'{"invoice": {}, "signature": ""}'])

    assert await run(*submit_args(path, service_url, "einv_wrong")) == 1

    error = capsys.readouterr().err
    assert "batch 1 (line 1 of" in error
    assert "refused with 401" in error
    assert "UNAUTHENTICATED" in error
    assert not (tmp_path / "in.results.ndjson").exists()


async def test_without_an_api_key_it_asks_for_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EINVOICE_API_KEY", raising=False)
    path = tmp_path / "in.ndjson"
    write_lines(path, [b"{}"])

    assert await run("batch", "submit", str(path)) == 2

    assert "--api-key or EINVOICE_API_KEY" in capsys.readouterr().err
