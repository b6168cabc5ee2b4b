"""Requests to a running service, and its answers as values or as exceptions a command can print.

Every error the service sends has one shape, `{"errors": [{code, field?, message}]}`; `Refused`
carries it. `NoAnswer` is the other failure: nothing listens at the URL, or the connection broke.

429 (rate limits, the batch backlog) and 503 (a backend briefly out) carry Retry-After: the batch
calls wait that long and ask again, up to MAX_WAITS times in a row, as the service means them to.
Sending a batch again is harmless even if a late 503 followed its storing: its lines would come
back as `duplicate` with the same codes. A real-time submission is not retried here, because its
caller decides what an answer of 200 (authenticated before) means to it (demo.py moves on).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

# A batch of 50 MiB is read by the service within its batch deadline (120 s by default);
# connecting should take no time at all on a working network.
TIMEOUT = httpx.Timeout(130.0, connect=5.0)
# 429/503 answers waited out in a row before one is reported (30 waits of the backlog's 30 s
# is a quarter of an hour: long enough for a busy service to drain, short enough to notice).
MAX_WAITS = 30
# Waits longer than a Retry-After of this many seconds are cut to it; none is shorter than MIN.
MAX_WAIT_S = 60.0
MIN_WAIT_S = 0.5
RETRY_STATUSES = frozenset({429, 503})


@dataclass(frozen=True)
class ErrorItem:
    code: str
    message: str
    field: str | None = None

    def describe(self) -> str:
        where = f" at {self.field}" if self.field else ""
        return f"{self.code}{where}: {self.message}"


class ClientError(Exception):
    """What a command reports before it exits with 1."""


class NoAnswer(ClientError):
    """No HTTP answer: nothing listens at the URL, or the connection failed on the way."""

    def __init__(self, url: str, reason: str, *, connected: bool) -> None:
        self.url = url
        self.connected = connected
        if connected:
            message = f"the service at {url} did not answer ({reason})"
        else:
            message = (
                f"no service answers at {url} ({reason}). Is it running (`scripts/start`)? "
                "Another address: --url or EINVOICE_URL."
            )
        super().__init__(message)


class Refused(ClientError):
    """The service answered with an error status; `errors` as it sent them."""

    def __init__(self, status: int, errors: list[ErrorItem], body: Any, retry_after_s: float):
        self.status = status
        self.errors = errors
        self.body = body
        self.retry_after_s = retry_after_s
        listed = "; ".join(error.describe() for error in errors) or "no error details"
        super().__init__(f"the service answered {status}: {listed}")


@dataclass(frozen=True)
class Submitted:
    """A real-time answer: 201 authenticated now, 200 the same invoice authenticated before."""

    status: int
    code: str
    authenticated_at: str
    invoice_hash: str
    token: str
    verify_url: str  # the public page that checks it (the answer's, from EINVOICE_PUBLIC_URL)


@dataclass(frozen=True)
class BatchStatus:
    batch_id: str
    status: str  # accepted | processing | completed | failed
    count: int
    authenticated: int
    rejected: int
    duplicates: int

    @property
    def with_result(self) -> int:
        """Lines with a result so far (the worker records counts after each step it saves)."""
        return self.authenticated + self.rejected + self.duplicates

    @property
    def finished(self) -> bool:
        return self.status in ("completed", "failed")


# Called with the refusal and the seconds about to be waited, before each wait.
WaitObserver = Callable[[Refused, float], None]


class ServiceClient:
    """One API key's session with the service at `url` (connections kept alive)."""

    def __init__(
        self,
        url: str,
        api_key: str,
        *,
        on_wait: WaitObserver | None = None,
        transport: httpx.BaseTransport | None = None,  # tests: answers made up on the spot
    ) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.url,
            timeout=TIMEOUT,
            headers={"Authorization": f"Bearer {api_key}"},
            transport=transport,
        )
        self._on_wait = on_wait

    def __enter__(self) -> ServiceClient:
        return self

    def __exit__(self, *_: object) -> None:
        self._http.close()

    def submit_invoice(self, submission: dict[str, Any]) -> Submitted:
        """POST /v1/invoices; raises Refused for anything but 200/201 (409: the number is used)."""
        response = self._send(
            "POST",
            "/v1/invoices",
            content=orjson.dumps(submission),
            headers={"Content-Type": "application/json"},
        )
        if response.status_code not in (200, 201):
            raise _refused(response)
        body = response.json()
        return Submitted(
            response.status_code,
            body["code"],
            body["authenticated_at"],
            body["invoice_hash"],
            body["token"],
            body["verify_url"],
        )

    def submit_batch(self, body: bytes) -> str:
        """POST /v1/batches with NDJSON lines; the batch id of the 202."""
        response = self._waiting(
            "POST",
            "/v1/batches",
            content=body,
            headers={"Content-Type": "application/x-ndjson"},
        )
        if response.status_code != 202:
            raise _refused(response)
        batch_id: str = response.json()["batch_id"]
        return batch_id

    def batch_status(self, batch_id: str) -> BatchStatus:
        response = self._waiting("GET", f"/v1/batches/{batch_id}")
        if response.status_code != 200:
            raise _refused(response)
        body = response.json()
        return BatchStatus(
            body["batch_id"],
            body["status"],
            body["count"],
            body["authenticated"],
            body["rejected"],
            body["duplicates"],
        )

    def batch_results(self, batch_id: str) -> list[dict[str, Any]]:
        """GET /v1/batches/{id}/results: a result a line, in the batch's order (one batch's
        results are a few MB at most: read whole)."""
        response = self._waiting("GET", f"/v1/batches/{batch_id}/results")
        if response.status_code != 200:
            raise _refused(response)
        return [orjson.loads(line) for line in response.content.splitlines() if line]

    def _waiting(self, method: str, path: str, **options: Any) -> httpx.Response:
        """A request, asked again after each 429/503 once its Retry-After has passed; after
        MAX_WAITS waits, the next answer is the answer."""
        for _ in range(MAX_WAITS):
            response = self._send(method, path, **options)
            if response.status_code not in RETRY_STATUSES:
                return response
            refusal = _refused(response)
            seconds = min(max(refusal.retry_after_s, MIN_WAIT_S), MAX_WAIT_S)
            if self._on_wait is not None:
                self._on_wait(refusal, seconds)
            time.sleep(seconds)
        return self._send(method, path, **options)

    def _send(self, method: str, path: str, **options: Any) -> httpx.Response:
        try:
            return self._http.request(method, path, **options)
        except (httpx.ConnectError, httpx.ConnectTimeout) as error:
            raise NoAnswer(self.url, _reason(error), connected=False) from error
        except httpx.TransportError as error:
            raise NoAnswer(self.url, _reason(error), connected=True) from error


def _reason(error: httpx.TransportError) -> str:
    return str(error) or type(error).__name__


def _refused(response: httpx.Response) -> Refused:
    """The service's error shape; anything else (a proxy's page) as one item with its status."""
    try:
        body = response.json()
        errors = [
            ErrorItem(item["code"], item["message"], item.get("field")) for item in body["errors"]
        ]
    except (ValueError, KeyError, TypeError):
        body = response.text
        errors = [ErrorItem(f"HTTP_{response.status_code}", response.text[:200].strip())]
    return Refused(response.status_code, errors, body, _retry_after(response))


def _retry_after(response: httpx.Response) -> float:
    try:
        return float(response.headers.get("Retry-After", "1"))
    except ValueError:  # an HTTP date: no server of ours sends one
        return 1.0
