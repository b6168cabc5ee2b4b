"""Every request: its id, its metrics and its access log line, in one plain ASGI middleware.

- **Request id.** The caller's `X-Request-ID` if it is a sane id, else a new one
  (einvoice/request_context.py). It is set for the request's log lines first thing, answered in
  `X-Request-ID` on every response (refusals of the request limits and 500s included) and written
  into every error body (api/errors.py), so a complaint can quote it.
- **Metrics** by route template, method and status (api/metrics.py).
- **The access log**: one JSON line per request, after its answer is sent (`einvoice.access`:
  method, route template, status, duration_ms, client_id and seller when known; einvoice/logs.py
  writes it). On by default (EINVOICE_ACCESS_LOG); what it costs a cached lookup is measured in
  docs/operations.md.

One middleware rather than three, and not Starlette's BaseHTTPMiddleware (which adds a task and
a stream per request): this runs on every request of the hot path.

An exception no handler took is answered here (api/errors.py: 503 for an outage, else 500), not
by Starlette's outermost error middleware, which runs outside this one: there the answer would
carry no request id, and its log line would be written for no request.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import unexpected_error_response
from api.metrics import bounded_method, observe, route_template
from einvoice import logs
from einvoice.request_context import RequestContext, accepted_request_id, current

REQUEST_ID_HEADER = b"x-request-id"


class ObserveMiddleware:
    def __init__(self, app: ASGIApp, *, access_log_on: bool = True) -> None:
        self.app = app
        self.access_log_on = access_log_on

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        sent_id = None
        for name, value in scope["headers"]:
            if name == REQUEST_ID_HEADER:
                sent_id = value
                break
        context = RequestContext(accepted_request_id(sent_id))
        id_header = (REQUEST_ID_HEADER, context.request_id.encode())
        token = current.set(context)
        status = 0  # not answered yet

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                # A new list: a response object's own header list is left as it was.
                message = {**message, "headers": [*message.get("headers", ()), id_header]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as error:
            if status:  # the answer has begun: nothing can be said any more
                raise
            path = scope.get("path", "")
            response = unexpected_error_response(error, scope["method"], path)
            await response(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            method = bounded_method(scope)
            route = route_template(scope)
            status = status or 500  # the client's connection closed on an exception
            observe(method, route, status, seconds)
            if self.access_log_on:
                logs.access(
                    {
                        "method": method,
                        "route": route,
                        "status": status,
                        "duration_ms": round(seconds * 1000, 2),
                    }
                )
            current.reset(token)
