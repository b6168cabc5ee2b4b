"""Liveness and readiness.

`/healthz` says the process is up and serving (no backend is touched: a restart would not help a
database outage). `/readyz` asks Cassandra, PostgreSQL and Redis each for a trivial answer, all at
once and each within `readiness_timeout_s`, and answers 503 naming every backend that failed, so a
load balancer sends no traffic to a process that cannot serve it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from prometheus_client import Gauge

from api.deps import ClientsDep
from api.lifespan import Clients
from storage.cassandra.bridge import execute

router = APIRouter(tags=["health"])

BACKEND_UP = Gauge(
    "einvoice_backend_up", "1 when the backend answered the last readiness probe", ["backend"]
)


async def _cassandra(clients: Clients) -> None:
    await execute(clients.cassandra.session, "SELECT release_version FROM system.local")


async def _postgres(clients: Clients) -> None:
    await clients.postgres.fetchval("SELECT 1")


async def _redis(clients: Clients) -> None:
    await clients.redis.ping()


_PROBES: dict[str, Callable[[Clients], Awaitable[None]]] = {
    "cassandra": _cassandra,
    "postgres": _postgres,
    "redis": _redis,
}


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(clients: ClientsDep) -> JSONResponse:
    timeout = clients.settings.readiness_timeout_s
    names = list(_PROBES)
    outcomes = await asyncio.gather(
        *(asyncio.wait_for(_PROBES[name](clients), timeout) for name in names),
        return_exceptions=True,
    )
    checks: dict[str, str] = {}
    for name, outcome in zip(names, outcomes, strict=True):
        ok = not isinstance(outcome, BaseException)
        BACKEND_UP.labels(name).set(1 if ok else 0)
        checks[name] = "ok" if ok else _describe(outcome)
    failed = sorted(name for name, result in checks.items() if result != "ok")
    if failed:
        return JSONResponse(
            {"status": "unavailable", "unavailable": failed, "checks": checks},
            status_code=503,
            headers={"Retry-After": "5"},
        )
    return JSONResponse({"status": "ready", "checks": checks})


def _describe(error: object) -> str:
    if isinstance(error, TimeoutError):
        return "no answer in time"
    text = str(error).strip().splitlines()[0][:200] if str(error).strip() else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
