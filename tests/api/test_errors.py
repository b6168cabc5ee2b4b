"""The error handlers in-process: a backend outage is a 503 answered and done (not re-raised to
the server, which would log a traceback per request), a bug a 500 with no details."""

from __future__ import annotations

import asyncpg
import httpx
import pytest
import redis
from cassandra.cluster import NoHostAvailable
from fastapi import FastAPI

from api.errors import install_error_handlers


def _app_raising(error: Exception) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/boom")
    async def boom() -> None:
        raise error

    return app


@pytest.mark.parametrize(
    "error",
    [
        redis.ConnectionError("refused"),
        NoHostAvailable("down", {}),
        asyncpg.exceptions.QueryCanceledError("canceling statement due to statement timeout"),
        TimeoutError(),
    ],
)
async def test_an_outage_is_a_503_and_not_raised_to_the_server(error: Exception) -> None:
    # raise_app_exceptions: anything the app re-raises to the server fails the request here.
    transport = httpx.ASGITransport(app=_app_raising(error), raise_app_exceptions=True)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/boom")

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert [e["code"] for e in response.json()["errors"]] == ["BACKEND_UNAVAILABLE"]


async def test_a_bug_is_a_500_without_details() -> None:
    transport = httpx.ASGITransport(app=_app_raising(KeyError("x")), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/boom")

    assert response.status_code == 500
    assert response.json() == {"errors": [{"code": "INTERNAL_ERROR", "message": "internal error"}]}


async def test_a_bug_behind_the_request_middleware_is_answered_with_its_request_id() -> None:
    from api.observe import ObserveMiddleware

    app = _app_raising(KeyError("x"))
    app.add_middleware(ObserveMiddleware, access_log_on=False)
    # raise_app_exceptions: the middleware answers the bug; nothing reaches the server.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/boom", headers={"X-Request-ID": "bug-1"})

    assert response.status_code == 500
    assert response.headers["X-Request-ID"] == "bug-1"
    assert response.json() == {
        "errors": [{"code": "INTERNAL_ERROR", "message": "internal error"}],
        "request_id": "bug-1",
    }
