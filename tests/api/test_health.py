"""The app shell, served by a real `einvoice serve` process against the real stack; readiness's
probe logic also in process, with probes that fail."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import httpx
import pytest

from api.health import check_backends


async def test_healthz_says_the_process_is_up(http: httpx.AsyncClient) -> None:
    response = await http.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_is_ready_when_every_backend_answers(http: httpx.AsyncClient) -> None:
    response = await http.get("/readyz")

    assert response.status_code == 200
    assert response.json()["checks"] == {"cassandra": "ok", "postgres": "ok", "redis": "ok"}


async def test_a_failed_probe_is_unavailable_and_its_text_only_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def answers() -> None:
        return None

    async def refuses() -> None:
        raise ConnectionRefusedError("connect to 10.1.2.3:5432 as einvoice_prod failed")

    async def hangs() -> None:
        await asyncio.Event().wait()

    with caplog.at_level(logging.WARNING, logger="api.health"):
        checks = await check_backends(
            {"good": answers, "refused": refuses, "silent": hangs}, timeout_s=0.05
        )

    assert checks == {"good": "ok", "refused": "unavailable", "silent": "unavailable"}
    assert "10.1.2.3:5432 as einvoice_prod" in caplog.text
    assert "silent unavailable: no answer in time" in caplog.text


async def test_a_backend_still_down_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    async def refuses() -> None:
        raise ConnectionRefusedError("refused")

    with caplog.at_level(logging.INFO, logger="api.health"):
        for _ in range(3):
            await check_backends({"flaky": refuses}, timeout_s=1)

    assert caplog.text.count("flaky unavailable") == 1


async def test_unknown_routes_get_the_one_error_shape(http: httpx.AsyncClient) -> None:
    response = await http.get("/no/such/thing")

    assert response.status_code == 404
    body = response.json()
    assert body.pop("request_id") == response.headers["X-Request-ID"]
    assert body == {"errors": [{"code": "NOT_FOUND", "message": "no such resource"}]}


async def test_a_wrong_method_gets_a_stable_code(http: httpx.AsyncClient) -> None:
    response = await http.post("/healthz")

    assert response.status_code == 405
    assert response.json()["errors"][0]["code"] == "METHOD_NOT_ALLOWED"


async def test_metrics_are_labelled_by_route_template_not_raw_path(
    http: httpx.AsyncClient, metrics_text: Callable[[], Awaitable[str]]
) -> None:
    await http.get("/healthz")
    await http.get("/random/path/abc123")

    text = await metrics_text()

    assert 'einvoice_http_requests_total{method="GET",route="/healthz",status="200"}' in text
    assert 'route="<unmatched>",status="404"' in text
    assert "abc123" not in text
    assert "einvoice_http_request_duration_seconds_bucket" in text
    assert 'einvoice_backend_up{backend="cassandra"}' in text or "einvoice_backend_up" in text
