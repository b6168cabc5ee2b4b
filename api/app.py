"""The FastAPI application: `create_app()` is what `einvoice serve` runs in each worker process."""

from __future__ import annotations

import logging

from fastapi import FastAPI

from api import admin, batches, health, invoices, lookup, metrics, page
from api.errors import install_error_handlers
from api.lifespan import lifespan_for
from einvoice.config import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    app = FastAPI(
        title="E-invoice authentication service",
        version="0.1.0",
        lifespan=lifespan_for(settings),
    )
    install_error_handlers(app)
    app.add_middleware(metrics.MetricsMiddleware)
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(admin.router)
    app.include_router(invoices.router)
    app.include_router(batches.router)
    app.include_router(lookup.router)
    app.include_router(page.router)
    return app
