"""Liveness and readiness.

`/healthz` says the process is up and serving (no backend is touched: a restart would not help a
database outage). `/readyz` asks Cassandra, PostgreSQL and Redis each for a trivial answer, all at
once and each within `readiness_timeout_s`, and answers 503 + Retry-After naming every backend that
failed, so a load balancer sends no traffic to a process that cannot serve it.

Anyone may ask, so the answer says only `ok` or `unavailable` per backend: a driver's error text
names hosts, ports, users and versions. The text goes to the log instead, once when a backend goes
down (and again when it is back), not at every probe of a load balancer polling every second.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Mapping

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from prometheus_client import Gauge

from api.deps import ClientsDep
from api.lifespan import Clients
from api.openapi import answer, operation
from api.schemas import Health, Readiness
from storage.cassandra.bridge import execute

log = logging.getLogger(__name__)

router = APIRouter(tags=["health"])

BACKEND_UP = Gauge(
    "einvoice_backend_up",
    "1 when the backend answered the last readiness probe",
    ["backend"],
    multiprocess_mode="livemostrecent",  # the last probe of any of the API's processes
)

OK = "ok"
UNAVAILABLE = "unavailable"


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

# Whether each backend answered this process's last probe: failures are logged on a change only.
_last_up: dict[str, bool] = {}


@router.get(
    "/healthz",
    **operation(
        "Liveness: the process answers",
        authenticated=False,
        answers={200: answer("Up", Health)},
    ),
)
async def healthz() -> dict[str, str]:
    """200 while the process answers; for a supervisor's liveness probe."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    **operation(
        "Readiness: every backend answers",
        authenticated=False,
        answers={
            200: answer("Ready", Readiness),
            503: answer("A backend did not answer (Retry-After: 5)", Readiness),
        },
    ),
)
async def readyz(clients: ClientsDep) -> JSONResponse:
    """200 when Cassandra, PostgreSQL and Redis all answer, else 503 naming each that did not:
    for a load balancer's readiness probe."""
    probes = {name: functools.partial(probe, clients) for name, probe in _PROBES.items()}
    checks = await check_backends(probes, clients.settings.readiness_timeout_s)
    failed = sorted(name for name, result in checks.items() if result != OK)
    if failed:
        return JSONResponse(
            {"status": "unavailable", "unavailable": failed, "checks": checks},
            status_code=503,
            headers={"Retry-After": "5"},
        )
    return JSONResponse({"status": "ready", "checks": checks})


async def check_backends(
    probes: Mapping[str, Callable[[], Awaitable[object]]], timeout_s: float
) -> dict[str, str]:
    """`ok` or `unavailable` per probe, all run at once, each within `timeout_s`; a failure's
    text is logged, never answered."""
    names = list(probes)
    outcomes = await asyncio.gather(
        *(asyncio.wait_for(probes[name](), timeout_s) for name in names),
        return_exceptions=True,
    )
    checks: dict[str, str] = {}
    for name, outcome in zip(names, outcomes, strict=True):
        up = not isinstance(outcome, BaseException)
        BACKEND_UP.labels(name).set(1 if up else 0)
        if _last_up.get(name, True) != up:
            if up:
                log.info("readiness: %s answers again", name)
            else:
                log.warning("readiness: %s unavailable: %s", name, describe(outcome))
        _last_up[name] = up
        checks[name] = OK if up else UNAVAILABLE
    return checks


def describe(error: object) -> str:
    """A failure for the log: its type and the first line of its text."""
    if isinstance(error, TimeoutError):
        return "no answer in time"
    text = str(error).strip().splitlines()[0][:200] if str(error).strip() else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
