"""The client's reading of answers it cannot easily provoke from the real service: waits as
Retry-After says, and error bodies that are not the service's (a proxy's page)."""

from __future__ import annotations

import httpx
import pytest

from einvoice.service_client.http import MAX_WAITS, MIN_WAIT_S, Refused, ServiceClient


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The client's waits, recorded instead of slept."""
    waits: list[float] = []
    monkeypatch.setattr("einvoice.service_client.http.time.sleep", waits.append)
    return waits


def answers(*responses: httpx.Response) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    queue = list(responses)
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return httpx.MockTransport(handle), seen


def rate_limited() -> httpx.Response:
    body = {"errors": [{"code": "RATE_LIMITED", "message": "too many batches"}]}
    return httpx.Response(429, json=body, headers={"Retry-After": "0"})


def test_a_batch_is_sent_again_once_the_wait_asked_for_has_passed(slept: list[float]) -> None:
    transport, seen = answers(
        rate_limited(),
        httpx.Response(503, json={"errors": [{"code": "BACKEND_UNAVAILABLE", "message": "x"}]}),
        httpx.Response(202, json={"batch_id": "b-1", "count": 1}),
    )
    waits: list[tuple[int, float]] = []
    with ServiceClient(
        "http://service",
        "key",
        transport=transport,
        on_wait=lambda r, s: waits.append((r.status, s)),
    ) as client:
        assert client.submit_batch(b"{}\n") == "b-1"

    assert [status for status, _ in waits] == [429, 503]
    # Retry-After: 0 is not asked again at once; no Retry-After at all waits a second.
    assert slept == [MIN_WAIT_S, 1.0]
    assert len(seen) == 3
    assert seen[0].headers["Authorization"] == "Bearer key"
    assert seen[0].headers["Content-Type"] == "application/x-ndjson"


def test_waits_end_and_the_last_refusal_is_raised(slept: list[float]) -> None:
    transport, seen = answers(rate_limited())
    with (
        ServiceClient(
            "http://service", "key", transport=transport, on_wait=lambda r, s: None
        ) as client,
        pytest.raises(Refused) as raised,
    ):
        client.batch_status("b-1")

    assert raised.value.status == 429
    assert [error.code for error in raised.value.errors] == ["RATE_LIMITED"]
    assert len(seen) == MAX_WAITS + 1
    assert len(slept) == MAX_WAITS


def test_an_error_that_is_not_the_service_s_shape_is_reported_with_its_status() -> None:
    transport, _ = answers(httpx.Response(502, text="<html>Bad Gateway</html>"))
    with (
        ServiceClient("http://service", "key", transport=transport) as client,
        pytest.raises(Refused) as raised,
    ):
        client.submit_invoice({"invoice": {}, "signature": ""})

    assert raised.value.status == 502
    assert raised.value.errors[0].code == "HTTP_502"
    assert "Bad Gateway" in str(raised.value)
