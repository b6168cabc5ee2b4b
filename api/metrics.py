"""HTTP metrics for Prometheus, labelled by route template (never the raw path).

Counted by the request middleware (api/observe.py) and served on the metrics port
(einvoice/metrics_server.py), never on the public one. Every label is from a bounded set, so a
scan of random URLs and methods cannot blow up the series:
- route: the template from `scope["route"]`, which the router fills in for the request it matched
  (a wrong method on a known path included); anything else is one label, `<unmatched>` (no route,
  or refused by the request limits before routing);
- method: the standard methods as sent, any other token `other` (HTTP allows any token);
- status: what the app answered.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter, Histogram
from starlette.types import Scope

REQUESTS = Counter(
    "einvoice_http_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
LATENCY = Histogram(
    "einvoice_http_request_duration_seconds",
    "Time from request to the end of the response",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD = "other"
UNMATCHED = "<unmatched>"

# Label children by (method, route, status), bound on first use: `labels()` on every request was
# a measurable share of a cached lookup. Bounded: route templates and known methods only.
_SERIES: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def observe(method: str, route: str, status: int, seconds: float) -> None:
    series = _SERIES.get((method, route, status))
    if series is None:
        series = (REQUESTS.labels(method, route, str(status)), LATENCY.labels(method, route))
        _SERIES[(method, route, status)] = series
    series[0].inc()
    series[1].observe(seconds)


def bounded_method(scope: Scope) -> str:
    method: str = scope["method"]
    return method if method in METHODS else OTHER_METHOD


def route_template(scope: Scope) -> str:
    route: Any = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED
