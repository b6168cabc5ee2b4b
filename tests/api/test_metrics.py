"""Operators' view of every request: metrics on their own port with a bounded label set, the
request id answered and logged, and one access log line per request (issue #19)."""

from __future__ import annotations

import random
import re
import string
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import orjson
import pytest

from api.metrics import METHODS, OTHER_METHOD, UNMATCHED
from tests.support import running_service

_SERIES = re.compile(r'^einvoice_http_requests_total\{method="([^"]*)",route="([^"]*)",status="')

MetricsText = Callable[[], Awaitable[str]]


async def _series(read: MetricsText) -> set[tuple[str, str, str]]:
    text = await read()
    return {
        (match.group(1), match.group(2), line)
        for line in text.splitlines()
        if (match := _SERIES.match(line))
    }


def _labels(series: set[tuple[str, str, str]]) -> set[str]:
    return {line.rsplit(" ", 1)[0] for _, _, line in series}


async def test_random_methods_and_paths_add_only_a_few_series(
    http: httpx.AsyncClient, metrics_text: MetricsText
) -> None:
    rng = random.Random(14)
    before = _labels(await _series(metrics_text))

    for index in range(50):
        method = "".join(rng.choices(string.ascii_uppercase, k=rng.randint(3, 12)))
        word = "".join(rng.choices(string.ascii_lowercase + string.digits, k=12))
        # Every fifth on a real route: the route's template with a method it does not allow.
        path = "/healthz" if index % 5 == 0 else f"/{word}/{index}"
        await http.request(method, path)

    after = await _series(metrics_text)
    added = _labels(after) - before

    assert {method for method, _, _ in after} <= METHODS | {OTHER_METHOD}
    assert {route for _, route, _ in after if not route.startswith("/")} <= {UNMATCHED}
    # other x {<unmatched>: 404, /healthz: 405}, whatever ran before in this session.
    assert len(added) <= 2, added


async def test_metrics_are_not_served_on_the_public_port(http: httpx.AsyncClient) -> None:
    response = await http.get("/metrics")

    assert response.status_code == 404


async def test_the_metrics_port_adds_up_every_api_process(
    session_env: dict[str, str], tmp_path: Path
) -> None:
    """Two granian workers: a scrape counts the requests both answered, whichever took each."""
    from tests.support import free_port

    port = free_port()
    with running_service(
        session_env, tmp_path / "service.log", HTTP_WORKERS="2", METRICS_PORT=str(port)
    ) as url:
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            for _ in range(40):
                # A new connection each time, so the kernel spreads them over both processes.
                await client.get("/healthz", headers={"Connection": "close"})
            text = (await client.get(f"http://127.0.0.1:{port}/metrics")).text

    line = next(
        line
        for line in text.splitlines()
        if line.startswith('einvoice_http_requests_total{method="GET",route="/healthz"')
    )
    assert float(line.rsplit(" ", 1)[1]) >= 40
    assert "einvoice_http_request_duration_seconds_bucket" in text


async def test_every_answer_carries_a_request_id(http: httpx.AsyncClient) -> None:
    ok = await http.get("/healthz")
    missing = await http.get("/no/such/thing")
    again = await http.get("/healthz")

    assert re.fullmatch(r"[0-9a-f]{32}", ok.headers["X-Request-ID"])
    assert missing.json()["request_id"] == missing.headers["X-Request-ID"]
    assert len({ok.headers["X-Request-ID"], missing.headers["X-Request-ID"]}) == 2
    assert again.headers["X-Request-ID"] != ok.headers["X-Request-ID"]


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("3f1c2a9e-5b7d-4e8f-9a0b-1c2d3e4f5a6b", True),
        ("01HZX3M8Q7K2V9J4T6N5R0W1YB", True),
        ("client:order/42+retry=1", True),
        ("x" * 128, True),
        ("x" * 129, False),
        ("has space", False),
        ('quote"d', False),
        ("semi;colon", False),
        ("", False),
    ],
)
async def test_a_sane_request_id_is_kept_and_anything_else_replaced(
    http: httpx.AsyncClient, sent: str, kept: bool
) -> None:
    response = await http.get("/no/such/thing", headers={"X-Request-ID": sent})

    answered = response.headers["X-Request-ID"]
    assert (answered == sent) is kept
    assert response.json()["request_id"] == answered
    if not kept:
        assert re.fullmatch(r"[0-9a-f]{32}", answered)


async def test_a_refusal_before_routing_carries_the_request_id(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/v1/verify",
        content=b"x" * (256 * 1024),
        headers={"Content-Type": "application/json", "X-Request-ID": "too-large-1"},
    )

    assert response.status_code == 413
    assert response.headers["X-Request-ID"] == "too-large-1"
    assert response.json()["request_id"] == "too-large-1"


async def test_the_access_log_has_one_json_line_per_request(
    session_env: dict[str, str], tmp_path: Path
) -> None:
    log_path = tmp_path / "service.log"
    with running_service(session_env, log_path) as url:
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            await client.get("/healthz", headers={"X-Request-ID": "access-log-1"})
            await client.get("/v1/invoices/nothing", headers={"X-Request-ID": "access-log-2"})
            await client.get(
                "/v1/invoices/nothing",
                headers={"X-Request-ID": "access-log-3", "Authorization": "Bearer not-a-key"},
            )
    records = [orjson.loads(line) for line in log_path.read_bytes().splitlines() if line.strip()]

    access = {r["request_id"]: r for r in records if r["logger"] == "einvoice.access"}
    assert access["access-log-1"]["route"] == "/healthz"
    assert access["access-log-1"]["status"] == 200
    assert access["access-log-1"]["method"] == "GET"
    assert access["access-log-2"]["route"] == "/v1/invoices/{code}"  # the template, not the path
    assert access["access-log-2"]["status"] == 401
    assert isinstance(access["access-log-2"]["duration_ms"], float)
    assert all({"time", "level", "message"} <= set(record) for record in records)
    assert "not-a-key" not in log_path.read_text()


async def test_the_access_log_can_be_turned_off(
    session_env: dict[str, str], tmp_path: Path
) -> None:
    log_path = tmp_path / "service.log"
    with running_service(session_env, log_path, ACCESS_LOG="false") as url:
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            await client.get("/healthz", headers={"X-Request-ID": "quiet-1"})

    assert "quiet-1" not in log_path.read_text()
