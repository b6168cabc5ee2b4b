"""The request limits (api/limits.py): body sizes per route before any parsing, the body's read
timeout and the request deadline; in process with small limits, then through real `einvoice serve`
processes (the session's, and one with short timeouts of its own)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel
from starlette.types import Message

from api.body import read_body
from api.errors import install_error_handlers
from api.limits import (
    SMALL_BODY_BYTES,
    DeadlineExceeded,
    LimitsMiddleware,
    RequestTimeout,
    limit_table,
)
from einvoice.config import Settings
from tests.support import running_service

INVOICE_LIMIT = 2 * 1024 * 1024


def _settings(**changes: Any) -> Settings:
    return Settings(**{"body_read_timeout_s": 0.2, "request_deadline_s": 0.5, **changes})


class _Fields(BaseModel):
    token: str


class _App:
    """A small app behind the limits: the real error handlers and body reader, routes that
    note whether they ran and whether they were cancelled."""

    def __init__(self, settings: Settings) -> None:
        self.ran = False
        self.cancelled = asyncio.Event()
        self.app = FastAPI()
        install_error_handlers(self.app)
        self.app.add_middleware(LimitsMiddleware, table=limit_table(settings))
        self.app.add_api_route("/v1/invoices", self.invoices, methods=["POST"])
        self.app.add_api_route("/v1/verify", self.verify, methods=["POST"])
        self.app.add_api_route("/slow", self.slow, methods=["GET"])
        self.app.add_api_route("/stream", self.stream, methods=["GET"])

    async def invoices(self, request: Request) -> Response:
        self.ran = True
        body = await read_body(request, INVOICE_LIMIT, "too large")
        return Response(body)

    async def verify(self, fields: _Fields) -> dict[str, str]:
        self.ran = True
        return {"token": fields.token}

    async def slow(self) -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            self.cancelled.set()
            raise

    async def stream(self) -> StreamingResponse:
        async def lines() -> AsyncIterator[bytes]:
            yield b"first\n"
            await asyncio.sleep(60)
            yield b"never\n"

        return StreamingResponse(lines())

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(self.app), base_url="http://app")


async def _chunks(size: int, count: int, stall_after: int | None = None) -> AsyncIterator[bytes]:
    for index in range(count):
        if index == stall_after:
            await asyncio.sleep(60)
        yield b"x" * size


def _code(response: httpx.Response) -> str:
    code: str = response.json()["errors"][0]["code"]
    return code


def test_each_route_finds_its_limits() -> None:
    settings = _settings(batch_max_bytes=4096)
    table = limit_table(settings)

    assert table.lookup("POST", "/v1/invoices").body_bytes == INVOICE_LIMIT
    assert table.lookup("POST", "/v1/invoices/").body_bytes == INVOICE_LIMIT
    assert table.lookup("POST", "/v1/batches").body_bytes == 4096
    assert table.lookup("POST", "/v1/batches").deadline_s == settings.batch_deadline_s
    assert table.lookup("GET", "/v1/batches/abc/results").deadline_s == settings.batch_deadline_s
    assert table.lookup("POST", "/v1/verify").body_bytes == SMALL_BODY_BYTES
    assert table.lookup("PATCH", "/v1/admin/taxpayers/0100233488").body_bytes == SMALL_BODY_BYTES
    assert table.lookup("GET", "/v1/invoices/00ABC").body_bytes == 0
    assert table.lookup("GET", "/v1/invoices/00ABC").deadline_s == 0.5
    assert table.lookup("DELETE", "/anything").body_bytes == 0


def test_a_body_read_timeout_longer_than_the_deadline_is_the_deadline() -> None:
    table = limit_table(_settings(body_read_timeout_s=30, request_deadline_s=3))

    assert table.lookup("POST", "/v1/invoices").read_s == 3


def test_the_refusals_answer_with_the_status_of_their_code() -> None:
    for cls in (RequestTimeout, DeadlineExceeded):
        assert cls.status == cls.code.status


async def test_a_declared_length_over_the_limit_is_refused_before_the_route_runs() -> None:
    app = _App(_settings())
    async with app.client() as client:
        response = await client.post("/v1/verify", content=b"{" + b" " * SMALL_BODY_BYTES + b"}")

    assert response.status_code == 413
    assert _code(response) == "PAYLOAD_TOO_LARGE"
    assert not app.ran


@pytest.mark.parametrize("path", ["/v1/verify", "/v1/invoices"])
async def test_a_chunked_body_growing_past_the_limit_gets_413(path: str) -> None:
    # /v1/verify is parsed by FastAPI (which would make a failed read a 400), /v1/invoices by
    # api/body.py: both answer the limits' 413.
    app = _App(_settings())
    async with app.client() as client:
        response = await client.post(
            path,
            content=_chunks(64 * 1024, 40),
            headers={"Content-Type": "application/json"},
        )

    assert response.status_code == 413
    assert _code(response) == "PAYLOAD_TOO_LARGE"


async def test_a_body_within_the_limit_reaches_the_route_whole() -> None:
    app = _App(_settings())
    body = bytes(range(256)) * 4096  # 1 MiB

    async with app.client() as client:
        declared = await client.post("/v1/invoices", content=body)
        chunked = await client.post("/v1/invoices", content=_chunks(1024, 100))

    assert declared.status_code == 200
    assert declared.content == body
    assert chunked.status_code == 200
    assert chunked.content == b"x" * 102_400


async def test_a_route_that_takes_no_body_refuses_one() -> None:
    app = _App(_settings())
    async with app.client() as client:
        response = await client.request("GET", "/slow", content=b"{}")

    assert response.status_code == 413
    assert _code(response) == "PAYLOAD_TOO_LARGE"


async def test_a_body_that_stalls_gets_408() -> None:
    app = _App(_settings())
    async with app.client() as client:
        response = await client.post("/v1/invoices", content=_chunks(1024, 10, stall_after=3))

    assert response.status_code == 408
    assert _code(response) == "REQUEST_TIMEOUT"


async def test_a_request_past_its_deadline_is_cancelled_and_answered_503() -> None:
    app = _App(_settings())
    async with app.client() as client:
        response = await client.get("/slow")

    assert response.status_code == 503
    assert _code(response) == "DEADLINE_EXCEEDED"
    assert response.headers["Retry-After"]
    assert app.cancelled.is_set()


async def test_a_response_already_started_is_cut_off_not_completed() -> None:
    app = _App(_settings())
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/stream",
        "raw_path": b"/stream",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"app")],
        "server": ("app", 80),
        "client": ("127.0.0.1", 1234),
    }
    sent: list[Message] = []

    async def receive() -> Message:
        await asyncio.sleep(60)  # no body; the client never goes away
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await app.app(scope, receive, send)

    assert [message["type"] for message in sent] == ["http.response.start", "http.response.body"]
    assert sent[0]["status"] == 200
    assert sent[-1].get("more_body") is True  # never completed: the client sees a cut


# Through the session's real service: granian, the real routes, the real limits.


async def test_an_oversized_admin_body_is_refused_before_authentication(
    http: httpx.AsyncClient,
) -> None:
    response = await http.post(
        "/v1/admin/taxpayers",
        content=b"x" * (SMALL_BODY_BYTES + 1),
        headers={"Content-Type": "application/json"},
    )

    assert response.status_code == 413
    assert _code(response) == "PAYLOAD_TOO_LARGE"


async def test_a_small_admin_body_still_meets_authentication(http: httpx.AsyncClient) -> None:
    response = await http.post("/v1/admin/taxpayers", json={"tax_code": "x", "name": "y"})

    assert response.status_code == 401


async def test_an_oversized_invoice_is_refused_before_authentication(
    http: httpx.AsyncClient,
) -> None:
    # 3 MB: the client has sent it all (the drain) and reads the 413, not a reset.
    response = await http.post(
        "/v1/invoices",
        content=b"x" * (3 * 1024 * 1024),
        headers={"Content-Type": "application/json"},
    )

    assert response.status_code == 413
    assert _code(response) == "PAYLOAD_TOO_LARGE"


async def test_a_chunked_verify_body_growing_past_its_limit_gets_413(
    http: httpx.AsyncClient,
) -> None:
    response = await http.post(
        "/v1/verify",
        content=_chunks(16 * 1024, 8),
        headers={"Content-Type": "application/json"},
    )

    assert response.status_code == 413
    assert _code(response) == "PAYLOAD_TOO_LARGE"


async def test_a_lookup_with_a_body_gets_413(http: httpx.AsyncClient) -> None:
    response = await http.request("GET", "/healthz", content=b"{}")

    assert response.status_code == 413


# A service of our own with short timeouts: granian's options and the read timeout, for real.


@pytest.fixture(scope="module")
def strict_service(
    session_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, int]]:
    log_path: Path = tmp_path_factory.mktemp("strict-service") / "service.log"
    with running_service(
        session_env, log_path, HTTP_HEADER_READ_TIMEOUT_S="1", BODY_READ_TIMEOUT_S="1"
    ) as url:
        host, _, port = url.removeprefix("http://").partition(":")
        yield host, int(port)


def _exchange(address: tuple[str, int], request: bytes) -> bytes:
    """What the server sends back on a connection given `request` and then silence, until it
    closes the connection (or 30 s pass)."""
    with socket.create_connection(address, timeout=30) as connection:
        connection.sendall(request)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
        return received


async def test_headers_that_never_end_lose_the_connection(strict_service: tuple[str, int]) -> None:
    received = await asyncio.to_thread(
        _exchange, strict_service, b"GET /healthz HTTP/1.1\r\nHost: service\r\n"
    )

    assert b"200 OK" not in received


async def test_an_idle_keep_alive_connection_is_closed(strict_service: tuple[str, int]) -> None:
    received = await asyncio.to_thread(
        _exchange, strict_service, b"GET /healthz HTTP/1.1\r\nHost: service\r\n\r\n"
    )

    assert received.startswith(b"HTTP/1.1 200")  # answered, then closed when idle


async def test_a_body_that_stops_arriving_gets_408(strict_service: tuple[str, int]) -> None:
    request = (
        b"POST /v1/verify HTTP/1.1\r\nHost: service\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100\r\n\r\n" + b'{"token": "'
    )

    received = await asyncio.to_thread(_exchange, strict_service, request)

    assert received.startswith(b"HTTP/1.1 408")
    assert b"REQUEST_TIMEOUT" in received
