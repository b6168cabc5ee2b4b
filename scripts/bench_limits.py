"""Benchmark: what the request limits (api/limits.py) add to a request, in process.

Each app with and without LimitsMiddleware, called directly as ASGI (no server, no sockets: only
the middleware's own cost differs), in alternating rounds; the medians of CPU time per request
(process time, so other load on a shared machine counts less than in wall time):
  bare ASGI app   reads the body, answers: the middleware's cost alone
  FastAPI app     the service's error handlers and metrics middleware, routes:
    GET  /ping                           no body: the lookups' path (deadline only)
    POST /v1/invoices, 1 KiB or 100 KiB  read with api/body.py (deadline, read timeout, counting)

    .venv/bin/python scripts/bench_limits.py [--requests 2000] [--rounds 25]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import uvloop
from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from api.body import read_body
from api.errors import install_error_handlers
from api.limits import LimitsMiddleware, limit_table
from api.observe import ObserveMiddleware
from einvoice.config import get_settings

CHUNK = 64 * 1024  # granian hands a body over in pieces of at most its buffer (einvoice/cli.py)


def _app(with_limits: bool) -> FastAPI:
    # As the service's (api/app.py): FastAPI's OpenTelemetry bridge off.
    app = FastAPI(telemetry={"tracing": False, "metrics": False, "logs": False})
    install_error_handlers(app)
    if with_limits:
        app.add_middleware(LimitsMiddleware, table=limit_table(get_settings()))
    app.add_middleware(ObserveMiddleware, access_log_on=False)

    @app.get("/ping")
    async def ping() -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    @app.post("/v1/invoices")
    async def invoices(request: Request) -> Response:
        body = await read_body(request, 2 * 1024 * 1024, "too large")
        return Response(str(len(body)).encode())

    return app


def _scope(method: str, path: str, body_bytes: int) -> Scope:
    headers = [(b"host", b"bench"), (b"authorization", b"Bearer x" * 8)]
    if body_bytes:
        headers += [(b"content-type", b"application/json"), (b"content-length", b"%d" % body_bytes)]
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "server": ("bench", 80),
        "client": ("127.0.0.1", 40000),
    }


async def _round(app: ASGIApp, scope: Scope, body: bytes, requests: int) -> float:
    pieces = [body[i : i + CHUNK] for i in range(0, len(body), CHUNK)] or [b""]
    messages: list[Message] = [
        {"type": "http.request", "body": piece, "more_body": index < len(pieces) - 1}
        for index, piece in enumerate(pieces)
    ]

    async def send(message: Message) -> None:
        return None

    started = time.process_time()
    for _ in range(requests):
        next_message = iter(messages).__next__

        async def receive(next_message: Callable[[], Message] = next_message) -> Message:
            return next_message()

        await app(dict(scope), receive, send)
    return (time.process_time() - started) / requests * 1e6


async def _bare(scope: Scope, receive: Receive, send: Send) -> None:
    # A bare ASGI app: reads the body, answers two bytes. The middleware's cost alone.
    more_body = True
    while more_body:
        more_body = (await receive()).get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def _main(requests: int, rounds: int) -> None:
    table = limit_table(get_settings())
    pairs: dict[str, tuple[ASGIApp, ASGIApp]] = {
        "bare ASGI app": (_bare, LimitsMiddleware(_bare, table)),
        "FastAPI app": (_app(False), _app(True)),
    }
    cases = [("GET /ping", "GET", "/ping", 0), ("POST 1 KiB", "POST", "/v1/invoices", 1024)]
    cases.append(("POST 100 KiB", "POST", "/v1/invoices", 100 * 1024))
    print(f"{requests} requests a round, {rounds} rounds alternating; median CPU us a request")
    print("| app | request | without limits | with limits | added |")
    print("|:---|:---|---:|---:|---:|")
    for app_label, apps in pairs.items():
        for label, method, path, size in cases:
            body = b"x" * size
            scope = _scope(method, path, size)
            times: tuple[list[float], list[float]] = ([], [])
            for app in apps:  # warm-up: routes compiled, label children bound
                await _round(app, scope, body, 500)
            for _ in range(rounds):
                for app, found in zip(apps, times, strict=True):
                    found.append(await _round(app, scope, body, requests))
            without, with_ = (statistics.median(found) for found in times)
            print(
                f"| {app_label} | {label} | {without:.1f} | {with_:.1f} | {with_ - without:+.1f} |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=25)
    args = parser.parse_args()
    uvloop.run(_main(args.requests, args.rounds))


if __name__ == "__main__":
    main()
