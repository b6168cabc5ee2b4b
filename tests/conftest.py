"""Shared fixtures. Tests that need servers talk to the real local stack (`scripts/stack up`),
each test session in its own Cassandra keyspace and PostgreSQL database, dropped at the end."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import asyncpg
import httpx
import pytest

import devstack
from devstack.scratch import scratch_deployment
from einvoice.authority_keys import generate_key_file
from einvoice.config import Settings, get_settings
from storage.cassandra.client import CassandraClient
from storage.cassandra.client import connect as connect_cassandra
from storage.postgres.pool import connect as connect_postgres
from tests.support import free_port, running_service


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Tests that stop and restart servers of the shared stack run after everything else.
    items.sort(key=lambda item: item.get_closest_marker("disruptive") is not None)


@pytest.fixture(scope="session")
def base_settings() -> Settings:
    return get_settings()


@pytest.fixture(scope="session")
def stack_up(base_settings: Settings) -> None:
    """The local stack answers (started if needed; idempotent and quick when already up)."""
    devstack.up(base_settings)


@pytest.fixture(scope="session")
def settings(base_settings: Settings, stack_up: None) -> Iterator[Settings]:
    """Settings of this test session: its own keyspace and database, migrated, dropped after
    (with the session's batch queue keys in Redis)."""
    with scratch_deployment(base_settings, "test") as session_settings:
        yield session_settings


@pytest.fixture(scope="session")
def cassandra(settings: Settings) -> Iterator[CassandraClient]:
    client = connect_cassandra(settings)
    client.session.set_keyspace(settings.cassandra_keyspace)
    yield client
    client.close()


@pytest.fixture
async def postgres(settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    connection = await connect_postgres(settings)
    yield connection
    await connection.close()


@pytest.fixture(scope="session")
def session_env(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of this session's service and worker processes."""
    keys = tmp_path_factory.mktemp("authority-keys")
    generate_key_file(keys, "test-1")
    return dict(
        os.environ,
        EINVOICE_CASSANDRA_KEYSPACE=settings.cassandra_keyspace,
        EINVOICE_POSTGRES_DATABASE=settings.postgres_database,
        EINVOICE_READINESS_TIMEOUT_S="2",
        EINVOICE_AUTHORITY_KEYS_DIR=str(keys),
        EINVOICE_AUTHORITY_ACTIVE_KID="test-1",
        # Off unless a test gives its process a free port: the default is the port a running
        # `scripts/start` holds, and two processes of the session would take each other's.
        EINVOICE_METRICS_PORT="0",
    )


@pytest.fixture(scope="session")
def service_metrics_port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def service_url(
    session_env: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
    service_metrics_port: int,
) -> Iterator[str]:
    """A real `einvoice serve` process on a free port, configured for this test session, with its
    metrics on their own free port (`service_metrics_url`)."""
    log_path = tmp_path_factory.mktemp("service") / "service.log"
    with running_service(session_env, log_path, METRICS_PORT=str(service_metrics_port)) as url:
        yield url


@pytest.fixture(scope="session")
def service_metrics_url(service_url: str, service_metrics_port: int) -> str:
    """Where the session's service serves its Prometheus metrics (not on its public port)."""
    return f"http://127.0.0.1:{service_metrics_port}/metrics"


@pytest.fixture
async def metrics_text(service_metrics_url: str) -> Callable[[], Awaitable[str]]:
    """Reads the session's service's metrics, as Prometheus would."""

    async def read() -> str:
        async with httpx.AsyncClient(timeout=10) as client:
            return (await client.get(service_metrics_url)).text

    return read


@pytest.fixture
async def http(service_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=service_url, timeout=30) as client:
        yield client
