"""The capacity run's HTTP/1.1 client against a small local server that answers what is asked of
it: bodies by length and chunked, kept-alive connections reused, a connection the server closed
while idle replaced, and a request that outlasts its timeout."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from loadtest.http1 import Http1Pool


class Server:
    """Answers `/length`, `/chunked`, `/close` (then closes, saying so), `/drop` (then closes
    without a word, as a server's keep-alive timeout does) and `/slow`; counts connections."""

    def __init__(self) -> None:
        self.connections = 0
        self.bodies: list[bytes] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
                path = head.split(" ")[1]
                length = next(
                    (int(line.split(":")[1]) for line in head.split("\r\n")
                     if line.lower().startswith("content-length:")),
                    0,
                )  # fmt: skip
                self.bodies.append(await reader.readexactly(length))
                if path == "/chunked":
                    writer.write(
                        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                        b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
                    )
                elif path == "/slow":
                    await asyncio.sleep(5)
                else:
                    closing = b"Connection: close\r\n" if path == "/close" else b""
                    writer.write(b"HTTP/1.1 201 Created\r\nContent-Length: 11\r\n" + closing
                                 + b"\r\n" + b'{"ok":true}')  # fmt: skip
                await writer.drain()
                if path in ("/close", "/drop"):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def server() -> AsyncIterator[tuple[Server, str]]:
    state = Server()
    listening = await asyncio.start_server(state.handle, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    yield state, f"http://127.0.0.1:{port}"
    listening.close()


async def test_answers_by_length_and_chunked_on_one_kept_connection(
    server: tuple[Server, str],
) -> None:
    state, url = server
    pool = Http1Pool(url, size=4, timeout_s=5)

    first = await pool.request("POST", "/length", b"abc", {"Content-Type": "text/plain"})
    second = await pool.request("GET", "/chunked")
    await pool.close()

    assert (first.status, first.json()) == (201, {"ok": True})
    assert first.headers["content-length"] == "11"
    assert (second.status, second.body) == (200, b"hello world")
    assert state.bodies == [b"abc", b""]
    assert state.connections == 1


async def test_a_connection_closed_by_the_server_is_not_reused(server: tuple[Server, str]) -> None:
    state, url = server
    pool = Http1Pool(url, size=4, timeout_s=5)

    closing = await pool.request("GET", "/close")
    again = await pool.request("GET", "/length")
    await pool.close()

    assert (closing.status, again.status) == (201, 201)
    assert state.connections == 2


@pytest.mark.parametrize("wait_s", [0.0, 0.1])
async def test_a_kept_connection_the_server_dropped_is_replaced(
    server: tuple[Server, str], wait_s: float
) -> None:
    """Whether the close is seen before the next request (after a pause) or races it."""
    state, url = server
    pool = Http1Pool(url, size=4, timeout_s=5)

    dropped = await pool.request("GET", "/drop")
    await asyncio.sleep(wait_s)
    again = await pool.request("POST", "/length", b"x")
    await pool.close()

    assert (dropped.status, again.status) == (201, 201)
    assert state.connections == 2
    assert state.bodies == [b"", b"x"]  # sent once on the new connection


async def test_a_request_that_outlasts_its_timeout_raises(server: tuple[Server, str]) -> None:
    _, url = server
    pool = Http1Pool(url, size=1, timeout_s=0.2)

    with pytest.raises(TimeoutError):
        await pool.request("GET", "/slow")
    await pool.close()


def test_only_plain_http_urls() -> None:
    with pytest.raises(ValueError, match="plain http"):
        Http1Pool("https://example.org", size=1, timeout_s=1)
