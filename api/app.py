"""The FastAPI application: `create_app()` is what `einvoice serve` runs in each worker process."""

from __future__ import annotations

from fastapi import FastAPI

from api import admin, batches, health, invoices, lookup, notices, openapi, page
from api.errors import install_error_handlers
from api.lifespan import lifespan_for
from api.limits import LimitsMiddleware, limit_table
from api.observe import ObserveMiddleware
from einvoice import logs
from einvoice.config import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    logs.configure(settings.log_format, settings.log_level)
    app = FastAPI(
        title="E-invoice authentication service",
        version="0.1.0",
        lifespan=lifespan_for(settings),
        # Metrics are Prometheus's (api/metrics.py); FastAPI's OpenTelemetry bridge would only
        # ask, on every request, whether a provider was configured (measured: docs/lookup.md).
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    install_error_handlers(app)
    # The last added runs first: the request id, metrics and access log see every answer, the
    # limits' refusals included, and the limits run before routing, so no route parses a body
    # over its limit (api/limits.py). Metrics are served on their own port, not by a route here
    # (einvoice/metrics_server.py).
    app.add_middleware(LimitsMiddleware, table=limit_table(settings))
    app.add_middleware(ObserveMiddleware, access_log_on=settings.access_log)
    # The routers' routes go straight into the app's router, in order of traffic. A request is
    # matched against the routes one by one, so the busiest come first (lookups, submissions)
    # and the admin API, with many routes, last; no two routers share a path and method, so the
    # order changes nothing else. Not `include_router`: in this FastAPI it keeps each router as a
    # nested branch, re-matched and re-versioned on every request, which cost a cached lookup
    # about a fifth of its time (measured: docs/lookup.md). The routers use no prefix and no
    # router-level dependencies, which is all `include_router` would add.
    for router in (lookup, invoices, batches, notices, page, health, admin):
        app.router.routes.extend(router.router.routes)
    openapi.install(app)
    return app
