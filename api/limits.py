"""Limits every request meets before any route sees it: how large its body may be, how long the
body may take to arrive, and a deadline for the whole request. One table, by method and path
(`limit_table`), holds them all; docs/security.md says why each value.

A plain ASGI middleware (not Starlette's BaseHTTPMiddleware, which adds a task and a stream per
request), outside the router, so a route's own parsing, authentication included, never runs on a
body over its limit:

- A Content-Length over the limit is answered 413 `PAYLOAD_TOO_LARGE` before the app is called.
  A body that grows past it while streaming (chunked) makes the app's next read raise; whatever
  the app then answers is dropped and the 413 goes instead. Either way up to `DRAIN_BYTES` beyond
  the limit are read and dropped first: a server that answers and closes while the client is still
  sending makes the client see a connection reset instead of the 413 (seen in CI with httpx on a
  2 MB body).
- The body must arrive within the read timeout, counted from the request's start: an app still
  waiting for it then is cancelled and the answer is 408 `REQUEST_TIMEOUT`. granian bounds only
  the headers' time.
- The whole request, body included, must end within the deadline: else the app's task is
  cancelled and the answer is 503 `DEADLINE_EXCEEDED` with Retry-After. Once a response has
  started it cannot be replaced: it is cut off, which the client sees as a truncated body, never
  as a complete one (granian aborts a chunked response whose app stops early).
- Both are enforced by one watchdog a process (`_Watchdog`), within `TICK_S` of the limit, rather
  than an asyncio.timeout a request, which cost more than the rest of the middleware together.

Why cancelling is safe where it matters (docs/security.md): a real-time submission cancelled at any
await leaves what a crash there would (storage/cassandra/invoices.py): at worst a claim without its
rows, recovered by the retry the 503 asks for, and no client ever held the code. The claim round and
the grouped row writes run in their own tasks and outlive a cancelled caller, so other requests of
the same round are unaffected. A cancelled batch submission stored whole is queued by the workers'
recovery scan; its retry becomes a second batch whose lines come back `duplicate`.

Bodies are not copied: the streaming routes still read theirs with api/body.py, which checks the
same limit again (the table takes the route's own constant and setting), a second line of defence
when the app runs without this middleware.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from prometheus_client import Counter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.body import DRAIN_BYTES
from api.errors import error_response
from api.invoices import MAX_BODY_BYTES as INVOICE_MAX_BYTES
from einvoice.config import Settings
from einvoice.error_codes import ErrorCode
from einvoice.errors import PayloadTooLarge, ServiceError

log = logging.getLogger(__name__)

SMALL_BODY_BYTES = 64 * 1024  # admin requests and the public check: a few hundred bytes each

REFUSALS = Counter(
    "einvoice_http_limit_refusals_total",
    "Requests refused by the request limits",
    ["reason"],  # too_large | read_timeout | deadline
)
_TOO_LARGE = REFUSALS.labels("too_large")
_READ_TIMEOUT = REFUSALS.labels("read_timeout")
_DEADLINE = REFUSALS.labels("deadline")


class RequestTimeout(ServiceError):
    """The body did not arrive in time: 408."""

    status = 408
    code = ErrorCode.REQUEST_TIMEOUT


class DeadlineExceeded(ServiceError):
    """The request ran past its deadline and was cancelled: 503, retry later."""

    status = 503
    code = ErrorCode.DEADLINE_EXCEEDED
    retry_after_s = 5


@dataclass(frozen=True, slots=True)
class RouteLimits:
    """The limits of one kind of request."""

    name: str  # the kind, for people reading the table
    body_bytes: int
    read_s: float  # the body's arrival, from the request's start
    deadline_s: float  # the whole request, from its start


@dataclass(frozen=True)
class LimitTable:
    """Limits by exact (method, path), then by path prefix (method None: any), else `default`."""

    exact: Mapping[tuple[str, str], RouteLimits]
    prefixes: tuple[tuple[str | None, str, RouteLimits], ...]
    default: RouteLimits

    def lookup(self, method: str, path: str) -> RouteLimits:
        # A trailing slash is the same route to the limits (the router redirects it).
        if len(path) > 1 and path[-1] == "/":
            path = path[:-1]
        found = self.exact.get((method, path))
        if found is not None:
            return found
        for prefix_method, prefix, limits in self.prefixes:
            if (prefix_method is None or prefix_method == method) and path.startswith(prefix):
                return limits
        return self.default


def limit_table(settings: Settings) -> LimitTable:
    """The one table of request limits; docs/security.md explains each."""
    read_s = min(settings.body_read_timeout_s, settings.request_deadline_s)
    deadline_s = settings.request_deadline_s
    batch_read_s = min(settings.batch_body_read_timeout_s, settings.batch_deadline_s)
    batch_deadline_s = settings.batch_deadline_s
    small = RouteLimits("small", SMALL_BODY_BYTES, read_s, deadline_s)
    return LimitTable(
        exact={
            ("POST", "/v1/invoices"): RouteLimits("invoice", INVOICE_MAX_BYTES, read_s, deadline_s),
            ("POST", "/v1/batches"): RouteLimits(
                "batch", settings.batch_max_bytes, batch_read_s, batch_deadline_s
            ),
            ("POST", "/v1/verify"): small,
            # A notice of 500 items with the longest reasons is under 500 KB.
            ("POST", "/v1/notices"): RouteLimits("notice", INVOICE_MAX_BYTES, read_s, deadline_s),
        },
        prefixes=(
            (None, "/v1/admin/", small),
            # A batch's results stream up to batch_max_lines lines: the batch deadline.
            ("GET", "/v1/batches/", RouteLimits("batch-read", 0, read_s, batch_deadline_s)),
        ),
        # Everything else takes no body: the lookups, the page, health and metrics.
        default=RouteLimits("no-body", 0, read_s, deadline_s),
    )


class LimitsMiddleware:
    def __init__(self, app: ASGIApp, table: LimitTable) -> None:
        self.app = app
        self.table = table
        self.watchdog = _Watchdog()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limits = self.table.lookup(scope["method"], scope["path"])
        declared, unframed = _body_framing(scope["headers"], scope.get("http_version", "1.1"))
        exchange = _Exchange(limits, receive, send)
        self.watchdog.watch(exchange)
        try:
            if declared is not None and declared > limits.body_bytes:
                await exchange.refuse_declared(scope)
            else:
                has_body = unframed or bool(declared)
                await exchange.run(
                    self.app, scope, exchange.receive_limited if has_body else receive
                )
        finally:
            self.watchdog.forget(exchange)


def _body_framing(
    headers: Iterable[tuple[bytes, bytes]], http_version: str
) -> tuple[int | None, bool]:
    """(Content-Length, whether a body of unknown length may come). In HTTP/1 a request with
    neither Content-Length nor Transfer-Encoding has no body (RFC 9112, 6.3); granian has already
    refused a malformed or repeated Content-Length."""
    declared: int | None = None
    unframed = http_version != "1.1" and http_version != "1.0"
    for name, value in headers:
        if name == b"content-length":
            if value.isdigit():
                declared = int(value)
            else:
                unframed = True
        elif name == b"transfer-encoding":
            unframed = True
    return declared, unframed


class _Watchdog:
    """Cancels the requests of one process that pass their deadline, or whose body is late while
    the app waits for it: one timer ticking every TICK_S while requests run. Not asyncio.timeout:
    a timer per request (its TimerHandle set and cancelled) cost about 10 us a request under uvloop
    here, more than the rest of the middleware together (docs/security.md); a deadline of seconds
    does not need a timer's precision."""

    TICK_S = 0.1

    def __init__(self) -> None:
        self.exchanges: set[_Exchange] = set()
        self.ticking = False

    def watch(self, exchange: _Exchange) -> None:
        self.exchanges.add(exchange)
        if not self.ticking:
            self.ticking = True
            asyncio.get_running_loop().call_later(self.TICK_S, self._tick)

    def forget(self, exchange: _Exchange) -> None:
        self.exchanges.discard(exchange)

    def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        for exchange in self.exchanges:  # expire() only asks for cancellation: no change here
            exchange.expire(now)
        if self.exchanges:
            loop.call_later(self.TICK_S, self._tick)
        else:
            self.ticking = False


_DEADLINE_PASSED = "deadline"
_BODY_LATE = "body"


class _Exchange:
    """One request's state: its task and times, bytes received, the refusal decided, what has
    been answered."""

    __slots__ = (
        "body_done",
        "deadline",
        "expired",
        "finished",
        "limits",
        "read_by",
        "reading",
        "receive",
        "received",
        "refusal",
        "send",
        "started",
        "task",
    )

    def __init__(self, limits: RouteLimits, receive: Receive, send: Send) -> None:
        self.limits = limits
        self.receive = receive
        self.send = send
        task = asyncio.current_task()
        assert task is not None  # an ASGI app always runs in a task
        self.task = task
        now = asyncio.get_running_loop().time()
        self.read_by = now + limits.read_s
        self.deadline = now + limits.deadline_s
        self.expired: str | None = None
        self.reading = False  # awaiting a piece of the body
        self.received = 0
        self.body_done = False
        self.refusal: ServiceError | None = None
        self.started = False
        self.finished = False

    def expire(self, now: float) -> None:
        """The watchdog's check: cancel the request's task once a limit has passed."""
        if self.expired is not None:
            return
        if self.reading and now >= self.read_by:  # late body first: the more precise answer
            self.expired = _BODY_LATE
        elif now >= self.deadline:
            self.expired = _DEADLINE_PASSED
        else:
            return
        self.task.cancel()

    async def run(self, app: ASGIApp, scope: Scope, receive: Receive) -> None:
        try:
            await app(scope, receive, self.send_unless_refused)
        except asyncio.CancelledError:
            if not self._cancelled_by_us():
                raise
            self._expired(scope)
        except Exception:
            # The app let the refusal's exception (or what it became) escape: answered below.
            if self.refusal is None:
                raise
        else:
            if self.expired is not None:  # the app swallowed our cancellation and answered
                self.task.uncancel()
        if self.refusal is not None and not self.started:
            await error_response(self.refusal)(scope, self.receive, self.send)

    async def refuse_declared(self, scope: Scope) -> None:
        self.refusal = self._too_large()
        try:
            await self._drain(more_body=True)
        except asyncio.CancelledError:
            if not self._cancelled_by_us():
                raise
        await error_response(self.refusal)(scope, self.receive, self.send)

    async def receive_limited(self) -> Message:
        if self.body_done:
            return await self.receive()  # only http.disconnect is left to come
        self.reading = True
        try:
            message = await self.receive()
        finally:
            self.reading = False
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            more_body = message.get("more_body", False)
            self.body_done = not more_body
            if self.received > self.limits.body_bytes:
                self.refusal = self._too_large()
                await self._drain(more_body)
                raise self.refusal
        return message

    async def send_unless_refused(self, message: Message) -> None:
        if self.refusal is not None and not self.started:
            return  # the app's answer to the refusal; the refusal itself goes instead
        if message["type"] == "http.response.start":
            self.started = True
        elif message["type"] == "http.response.body" and not message.get("more_body", False):
            self.finished = True
        await self.send(message)

    def _cancelled_by_us(self) -> bool:
        """Whether the cancellation now arriving is the watchdog's alone (then it is taken
        back); one from anywhere else (the server shutting down) goes on."""
        return self.expired is not None and self.task.uncancel() == 0

    def _too_large(self) -> PayloadTooLarge:
        _TOO_LARGE.inc()
        limit = self.limits.body_bytes
        if limit == 0:
            return PayloadTooLarge("this endpoint takes no body")
        return PayloadTooLarge(f"this endpoint takes a body of at most {limit} bytes")

    async def _drain(self, more_body: bool) -> None:
        """Read and drop the rest of an oversized body, at most DRAIN_BYTES beyond the limit and
        until the read timeout (the watchdog's), so the client reads the 413, not a reset."""
        budget = self.limits.body_bytes + DRAIN_BYTES
        self.reading = True
        try:
            while more_body and self.received <= budget:
                message = await self.receive()
                if message["type"] != "http.request":
                    break
                self.received += len(message.get("body", b""))
                more_body = message.get("more_body", False)
        finally:
            self.reading = False

    def _expired(self, scope: Scope) -> None:
        """The watchdog cancelled the app: decide the answer, if one can still be given."""
        if self.refusal is not None:
            return  # decided already (a 413 whose drain ran late)
        if self.expired == _BODY_LATE:
            _READ_TIMEOUT.inc()
            self.refusal = RequestTimeout(
                f"the body did not arrive within {self.limits.read_s:g} s"
            )
            return
        if self.finished:
            return  # answered already; only work after the answer was cut short
        _DEADLINE.inc()
        route = getattr(scope.get("route"), "path", "<unmatched>")
        if self.started:
            log.warning(
                "%s %s passed its %g s deadline while answering: the response was cut off",
                scope["method"],
                route,
                self.limits.deadline_s,
            )
            return
        log.warning(
            "%s %s passed its %g s deadline and was cancelled",
            scope["method"],
            route,
            self.limits.deadline_s,
        )
        self.refusal = DeadlineExceeded(
            f"the request took longer than {self.limits.deadline_s:g} s; retry later"
        )
